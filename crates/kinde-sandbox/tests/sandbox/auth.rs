//! Bearer checks on `/api/v1`: each 401 cause, and a 403 naming each missing scope.

use crate::support::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kinde_sandbox::{ALL_SCOPES, EMPTY_API_ID};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn each_401_cause() {
    let env = start_default().await;
    let good = env.token().await;
    // Tamper with the payload (signature no longer matches).
    let parts: Vec<&str> = good.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["scp"] = json!(["everything"]);
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "Missing"),
        (Some("Token abc".into()), "Malformed"),
        (Some("Bearer".into()), "Malformed"),
        (Some("Bearer not-a-jwt".into()), "malformed"),
        (Some(format!("Bearer {forged}")), "signature"),
    ];
    for (auth, needle) in cases {
        let (st, v, www) = env
            .call_authorized(Method::GET, "/api/v1/api_keys", auth.as_deref())
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(first_code(&v), "UNAUTHORIZED");
        let msg = v["errors"][0]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{auth:?}: {msg}");
        assert!(www.unwrap().starts_with("Bearer"));
    }
    // The good token works (so the 401s above are about the token, not the route).
    let (st, _, _) = env
        .call_authorized(
            Method::GET,
            "/api/v1/api_keys",
            Some(&format!("Bearer {good}")),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test]
async fn a_token_from_another_sandbox_is_rejected_for_its_audience() {
    let a = start_default().await;
    let b = start_default().await;
    let tok_a = a.token().await;
    let (st, v) = b.get(&tok_a, "/api/v1/api_keys").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("audience"),
        "{v}"
    );
}

#[tokio::test]
async fn each_route_answers_403_naming_its_missing_scope() {
    let env = start_default().await;
    let routes: Vec<(Method, String, &str)> = vec![
        (Method::GET, "/api/v1/api_keys".into(), "read:api_keys"),
        (Method::POST, "/api/v1/api_keys".into(), "create:api_keys"),
        (
            Method::GET,
            "/api/v1/api_keys/api_key_x".into(),
            "read:api_keys",
        ),
        (
            Method::PUT,
            "/api/v1/api_keys/api_key_x".into(),
            "update:api_keys",
        ),
        (
            Method::DELETE,
            "/api/v1/api_keys/api_key_x".into(),
            "delete:api_keys",
        ),
        (Method::GET, "/api/v1/apis".into(), "read:apis"),
        (
            Method::GET,
            format!("/api/v1/apis/{EMPTY_API_ID}"),
            "read:apis",
        ),
        (
            Method::GET,
            format!("/api/v1/apis/{EMPTY_API_ID}/scopes"),
            "read:api_scopes",
        ),
        (
            Method::GET,
            "/api/v1/organizations".into(),
            "read:organizations",
        ),
        (Method::GET, "/api/v1/users".into(), "read:users"),
    ];
    for scope in ALL_SCOPES {
        let others: Vec<&str> = ALL_SCOPES.iter().copied().filter(|s| s != scope).collect();
        let id = format!("app-without-{scope}");
        env.sb.add_client(&id, "s3cret", &others);
        let tok = env.token_for(&id, "s3cret").await;
        let auth = format!("Bearer {tok}");
        for (m, path, needed) in &routes {
            let (st, v, _) = env.call_authorized(m.clone(), path, Some(&auth)).await;
            if needed == scope {
                assert_eq!(st, StatusCode::FORBIDDEN, "{m} {path} without {scope}");
                assert_eq!(first_code(&v), "FORBIDDEN");
                assert!(
                    v["errors"][0]["message"].as_str().unwrap().contains(scope),
                    "{v}"
                );
            } else {
                assert_ne!(st, StatusCode::FORBIDDEN, "{m} {path} needs only {needed}");
            }
        }
    }
}

#[tokio::test]
async fn the_readonly_app_reads_but_cannot_write() {
    let env = start_default().await;
    let tok = env
        .token_for("sandbox_readonly", "sandbox_readonly_secret")
        .await;
    assert_eq!(env.get(&tok, "/api/v1/api_keys").await.0, StatusCode::OK);
    assert_eq!(env.get(&tok, "/api/v1/users").await.0, StatusCode::OK);
    let (st, v) = env.post(&tok, "/api/v1/api_keys", &json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("create:api_keys")
    );
}
