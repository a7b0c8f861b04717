//! `POST /oauth2/token` and the JWKS: success, claims, every OAuth error, expiry.

use std::time::Duration;

use crate::support::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use kinde_sandbox::{ALL_SCOPES, Config};
use reqwest::StatusCode;
use serde_json::Value;

async fn oauth_error(r: Answer) -> (StatusCode, String, String) {
    let (st, v) = (r.status, r.json);
    let err = v["error"].as_str().unwrap_or("").to_string();
    let desc = v["error_description"].as_str().unwrap_or("").to_string();
    assert!(!desc.is_empty(), "error_description present: {v}");
    (st, err, desc)
}

#[tokio::test]
async fn token_answers_kinde_shape_and_claims_verify_with_jwks() {
    let env = start_default().await;
    let aud = format!("{}/api", env.base);
    let r = env
        .token_raw(&[
            ("grant_type", "client_credentials"),
            ("client_id", "sandbox-m2m"),
            ("client_secret", "sandbox-secret"),
            ("audience", &aud),
            ("scope", ""),
        ])
        .await;
    let (st, v) = (r.status, r.json);
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    let token = v["access_token"].as_str().unwrap();

    let (st, jwks) = env.get_open("/.well-known/jwks").await;
    assert_eq!(st, StatusCode::OK);
    let set: JwkSet = serde_json::from_value(jwks).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let jwk = set
        .find(header.kid.as_deref().unwrap())
        .expect("kid in JWKS");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut val = Validation::new(Algorithm::RS256);
    val.set_audience(&[&aud]);
    val.set_issuer(&[&env.base]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &val)
        .unwrap()
        .claims;
    assert_eq!(claims["aud"], serde_json::json!([aud]));
    assert_eq!(claims["azp"], "sandbox-m2m");
    assert_eq!(claims["gty"], serde_json::json!(["client_credentials"]));
    let scp: Vec<&str> = claims["scp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(scp, ALL_SCOPES);
    assert_eq!(claims["scope"], ALL_SCOPES.join(" "));
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 3600);
    assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
}

#[tokio::test]
async fn requested_scopes_narrow_the_token_and_unknown_scope_is_invalid_scope() {
    let env = start_default().await;
    let aud = format!("{}/api", env.base);
    let base = [
        ("grant_type", "client_credentials"),
        ("client_id", "sandbox_readonly"),
        ("client_secret", "sandbox_readonly_secret"),
        ("audience", aud.as_str()),
    ];
    let mut form = base.to_vec();
    form.push(("scope", "read:api_keys read:users"));
    let a = env.token_raw(&form).await;
    let (st, v) = (a.status, a.json);
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["scope"], "read:api_keys read:users");

    let mut form = base.to_vec();
    form.push(("scope", "read:api_keys delete:api_keys"));
    let (st, err, desc) = oauth_error(env.token_raw(&form).await).await;
    assert_eq!(
        (st, err.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_scope")
    );
    assert!(desc.contains("delete:api_keys"), "{desc}");
}

#[tokio::test]
async fn token_errors_use_the_oauth_shape() {
    let env = start_default().await;
    let aud = format!("{}/api", env.base);
    let ok = |id: &'static str, secret: &'static str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ]
    };
    // Wrong secret, unknown client.
    for (id, secret) in [("sandbox-m2m", "nope"), ("nobody", "sandbox-secret")] {
        let mut f = ok(id, secret);
        f.push(("audience", &aud));
        let (st, err, _) = oauth_error(env.token_raw(&f).await).await;
        assert_eq!(
            (st, err.as_str()),
            (StatusCode::UNAUTHORIZED, "invalid_client")
        );
    }
    // Wrong audience.
    let mut f = ok("sandbox-m2m", "sandbox-secret");
    f.push(("audience", "https://example.kinde.com/api"));
    let (st, err, desc) = oauth_error(env.token_raw(&f).await).await;
    assert_eq!(
        (st, err.as_str()),
        (StatusCode::BAD_REQUEST, "unauthorized_client")
    );
    assert!(desc.contains(&aud), "names the right audience: {desc}");
    // Missing audience, missing credentials.
    let f = ok("sandbox-m2m", "sandbox-secret");
    let (st, err, _) = oauth_error(env.token_raw(&f).await).await;
    assert_eq!(
        (st, err.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let f = [
        ("grant_type", "client_credentials"),
        ("audience", aud.as_str()),
    ];
    let (st, err, _) = oauth_error(env.token_raw(&f).await).await;
    assert_eq!(
        (st, err.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    // Grant type.
    let mut f = ok("sandbox-m2m", "sandbox-secret");
    f[0] = ("grant_type", "password");
    f.push(("audience", &aud));
    let (st, err, _) = oauth_error(env.token_raw(&f).await).await;
    assert_eq!(
        (st, err.as_str()),
        (StatusCode::BAD_REQUEST, "unsupported_grant_type")
    );
    let (st, err, _) = oauth_error(env.token_raw(&f[1..]).await).await;
    assert_eq!(
        (st, err.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
}

#[tokio::test]
async fn basic_auth_and_localhost_audience_are_accepted() {
    let env = start_default().await;
    let port = env.sb.addr().port();
    let base = format!("http://localhost:{port}");
    let basic = STANDARD.encode("sandbox_admin:sandbox_admin_secret");
    let (st, v) = call(
        env.http
            .post(format!("{base}/oauth2/token"))
            .header("authorization", format!("Basic {basic}"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("audience", &format!("{base}/api")),
            ]),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let tok = v["access_token"].as_str().unwrap();
    let (st, _) = call(env.http.get(format!("{base}/api/v1/apis")).bearer_auth(tok)).await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test]
async fn token_expires_after_its_ttl() {
    let env = start(Config {
        token_ttl_secs: 1,
        ..Config::default()
    })
    .await;
    let tok = env.token().await;
    let (st, _) = env.get(&tok, "/api/v1/api_keys").await;
    assert_eq!(st, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (st, v) = env.get(&tok, "/api/v1/api_keys").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{v}"
    );
    // A new token works again.
    let tok = env.token().await;
    assert_eq!(env.get(&tok, "/api/v1/api_keys").await.0, StatusCode::OK);
}
