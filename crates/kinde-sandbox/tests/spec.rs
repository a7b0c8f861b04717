//! Conformance to Kinde's OpenAPI spec: every route the sandbox serves answers every status it
//! can give with a body that matches the spec's schema for that route and status (checked by
//! `support::send`, as in every other test), and the set of (route, status) seen here is exactly
//! the set the sandbox serves.

mod support;

use std::collections::BTreeSet;

use kinde_sandbox::{Config, EMPTY_API_ID};
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::spec::{self, Seen};
use support::*;

/// Every status on every route the sandbox answers. `*` `<unknown route>` is the 404 for a path
/// or a method the spec has no operation for. `/_sandbox/*` is not Kinde's and not counted.
const SERVED: &[(&str, &str, &[u16])] = &[
    ("POST", "/oauth2/token", &[200, 400, 401, 500, 503]),
    ("GET", "/.well-known/jwks", &[200, 500, 503]),
    ("GET", "/.well-known/jwks.json", &[200, 500, 503]),
    (
        "GET",
        "/api/v1/api_keys",
        &[200, 400, 401, 403, 429, 500, 503],
    ),
    (
        "POST",
        "/api/v1/api_keys",
        &[201, 400, 401, 403, 429, 500, 503],
    ),
    (
        "POST",
        "/api/v1/api_keys/verify",
        &[200, 400, 429, 500, 503],
    ),
    (
        "GET",
        "/api/v1/api_keys/{key_id}",
        &[200, 400, 401, 403, 404, 429, 500, 503],
    ),
    (
        "PUT",
        "/api/v1/api_keys/{key_id}",
        &[201, 400, 401, 403, 404, 429, 500, 503],
    ),
    (
        "DELETE",
        "/api/v1/api_keys/{key_id}",
        &[200, 400, 401, 403, 404, 429, 500, 503],
    ),
    ("GET", "/api/v1/apis", &[200, 400, 401, 403, 429, 500, 503]),
    (
        "GET",
        "/api/v1/apis/{api_id}",
        &[200, 400, 401, 403, 429, 500, 503],
    ),
    (
        "GET",
        "/api/v1/apis/{api_id}/scopes",
        &[200, 400, 401, 403, 429, 500, 503],
    ),
    (
        "GET",
        "/api/v1/organizations",
        &[200, 400, 401, 403, 429, 500, 503],
    ),
    ("GET", "/api/v1/users", &[200, 400, 401, 403, 429, 500, 503]),
    ("*", "<unknown route>", &[404]),
];

/// A concrete path for a template (`{x}` -> `x`).
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).unwrap()
}

/// The spec's operations that the sandbox serves, found by asking it: an operation it does not
/// serve answers the unknown-route 404. (Raw requests: unserved operations are not checked.)
async fn served_spec_operations(env: &Env) -> BTreeSet<(String, String)> {
    let doc = spec::doc();
    let mut out = BTreeSet::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for m in ["get", "post", "put", "patch", "delete"] {
            if item.get(m).is_none() {
                continue;
            }
            let r = env
                .http
                .request(method(&m.to_uppercase()), env.url(&concrete(template)))
                .send()
                .await
                .unwrap();
            let st = r.status();
            let v: serde_json::Value = r.json().await.unwrap();
            let unknown = st == StatusCode::NOT_FOUND && v["errors"]["code"] == "ROUTE_NOT_FOUND";
            if !unknown {
                out.insert((m.to_uppercase(), template.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_route_and_status_the_sandbox_serves_matches_the_spec() {
    // The served operations of the spec are exactly the spec routes of SERVED.
    let env = start_default().await;
    let probed = served_spec_operations(&env).await;
    let listed: BTreeSet<(String, String)> = SERVED
        .iter()
        .filter(|(_, r, _)| r.starts_with("/api/"))
        .map(|(m, r, _)| (m.to_string(), r.to_string()))
        .collect();
    assert_eq!(probed, listed, "the spec operations the sandbox serves");

    // 200/201, 400, 401, 403, 404 on one sandbox.
    let tok = env.token().await;
    env.sb.add_client("spec-no-scopes", "s3cret", &[]);
    let none = env.token_for("spec-no-scopes", "s3cret").await;
    let aud = env.sb.audience();
    let (id, secret) = env.create_user_key(&tok, "spec").await;
    let (gone, _) = env.create_user_key(&tok, "spec revoked").await;
    let key = format!("/api/v1/api_keys/{id}");
    let bad_utf8 = "/api/v1/api_keys/%FF";
    let api = format!("/api/v1/apis/{EMPTY_API_ID}");
    let scopes = format!("/api/v1/apis/{EMPTY_API_ID}/scopes");

    let oauth = |form: Vec<(&'static str, String)>| {
        send(env.http.post(env.url("/oauth2/token")).form(&form))
    };
    let base = |secret: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", env.sb.client_id().to_string()),
            ("client_secret", secret.to_string()),
            ("audience", aud.clone()),
        ]
    };
    assert_eq!(oauth(base(env.sb.client_secret())).await.status, 200);
    assert_eq!(oauth(base("wrong")).await.status, 401);
    assert_eq!(
        oauth(base(env.sb.client_secret())[1..].to_vec())
            .await
            .status,
        400
    );
    for p in ["/.well-known/jwks", "/.well-known/jwks.json"] {
        assert_eq!(env.get_open(p).await.0, 200);
    }

    // Reads: 200, 400, 401 (no token), 403 (no scope).
    let reads: Vec<(String, String)> = vec![
        (
            "/api/v1/api_keys".into(),
            "/api/v1/api_keys?page_size=0".into(),
        ),
        (key.clone(), bad_utf8.into()),
        ("/api/v1/apis".into(), "/api/v1/apis?page_size=0".into()),
        (api.clone(), "/api/v1/apis/nope".into()),
        (scopes.clone(), "/api/v1/apis/nope/scopes".into()),
        (
            "/api/v1/organizations".into(),
            "/api/v1/organizations?sort=sideways".into(),
        ),
        ("/api/v1/users".into(), "/api/v1/users?page_size=0".into()),
    ];
    for (good, bad) in &reads {
        assert_eq!(env.get(&tok, good).await.0, 200, "{good}");
        assert_eq!(env.get(&tok, bad).await.0, 400, "{bad}");
        assert_eq!(env.get_open(good).await.0, 401, "{good}");
        assert_eq!(env.get(&none, good).await.0, 403, "{good}");
    }
    let unknown_key = "/api/v1/api_keys/api_key_0195ac80a14e8d71f42b98e75d3c61ad";
    assert_eq!(env.get(&tok, unknown_key).await.0, 404);

    // Writes.
    let body = json!({ "name": "w", "type": "user", "api_id": EMPTY_API_ID,
        "scope_ids": ["read:data"], "user_id": kinde_sandbox::EMPTY_USER_ID });
    let create = "/api/v1/api_keys";
    assert_eq!(env.post(&tok, create, &body).await.0, 201);
    assert_eq!(env.post(&tok, create, &json!({})).await.0, 400);
    assert_eq!(
        call(env.http.post(env.url(create)).json(&body)).await.0,
        401
    );
    assert_eq!(env.post(&none, create, &body).await.0, 403);
    assert_eq!(env.verify(&secret).await.0, 200);
    assert_eq!(env.verify("k_live_unknown").await.0, 200);
    assert_eq!(
        call(
            env.http
                .post(env.url("/api/v1/api_keys/verify"))
                .json(&json!({}))
        )
        .await
        .0,
        400
    );
    assert_eq!(env.put(&tok, &key).await.0, 201);
    assert_eq!(
        env.delete(&tok, &format!("/api/v1/api_keys/{gone}"))
            .await
            .0,
        200
    );
    assert_eq!(
        env.put(&tok, &format!("/api/v1/api_keys/{gone}")).await.0,
        400
    );
    assert_eq!(env.delete(&tok, bad_utf8).await.0, 400);
    for m in [Method::PUT, Method::DELETE] {
        let r = |b: reqwest::RequestBuilder| call(b);
        let url = env.url(&key);
        assert_eq!(r(env.http.request(m.clone(), &url)).await.0, 401, "{m}");
        let with = |t: &str| env.http.request(m.clone(), &url).bearer_auth(t.to_string());
        assert_eq!(r(with(&none)).await.0, 403, "{m}");
        let unknown = env.url(unknown_key);
        let req = env.http.request(m.clone(), &unknown).bearer_auth(&tok);
        assert_eq!(r(req).await.0, 404, "{m}");
    }

    // Unknown routes: a path, and a method the spec has no operation for.
    assert_eq!(env.get_open("/api/v2/whatever").await.0, 404);
    let patch = env.http.patch(env.url(&key)).bearer_auth(&tok);
    assert_eq!(call(patch).await.0, 404);
    // The test routes answer JSON but are not Kinde's.
    assert_eq!(env.get_open("/_sandbox/stats").await.0, 200);

    // 429 on every rate-limited route.
    let limited = start(Config {
        rate_limit_per_min: Some(1),
        ..Config::default()
    })
    .await;
    let tok = limited.token().await;
    assert_eq!(limited.get(&tok, "/api/v1/api_keys").await.0, 200);
    for (m, p) in [
        ("GET", "/api/v1/api_keys"),
        ("POST", "/api/v1/api_keys"),
        ("GET", key.as_str()),
        ("PUT", key.as_str()),
        ("DELETE", key.as_str()),
        ("GET", "/api/v1/apis"),
        ("GET", api.as_str()),
        ("GET", scopes.as_str()),
        ("GET", "/api/v1/organizations"),
        ("GET", "/api/v1/users"),
    ] {
        let rb = limited
            .http
            .request(method(m), limited.url(p))
            .bearer_auth(&tok);
        let rb = if m == "POST" { rb.json(&json!({})) } else { rb };
        let a = send(rb).await;
        assert_eq!(a.status, 429, "{m} {p}");
        assert!(a.header("ratelimit-reset").is_some(), "{m} {p}");
    }
    assert_eq!(limited.verify("k_live_x").await.0, 200);
    assert_eq!(limited.verify("k_live_x").await.0, 429);

    // 500 and 503 (injected faults) on every Kinde route.
    let faulty = start(Config {
        fault_rate: 1.0,
        rng_seed: Some(3),
        ..Config::default()
    })
    .await;
    for (m, route, statuses) in SERVED {
        if *m == "*" {
            continue;
        }
        let path = concrete(route);
        let mut got = BTreeSet::new();
        for _ in 0..200 {
            if got.len() == 2 {
                break;
            }
            let rb = faulty.http.request(method(m), faulty.url(&path));
            if let Ok(a) = try_send(rb).await {
                got.insert(a.status.as_u16());
            }
        }
        assert_eq!(got, BTreeSet::from([500, 503]), "{m} {route}");
        assert!(statuses.contains(&500) && statuses.contains(&503));
    }

    // What was seen is exactly what the sandbox serves.
    let seen: BTreeSet<(String, String, u16)> = spec::coverage()
        .into_iter()
        .filter(|s| !s.route.starts_with("/_sandbox/"))
        .map(
            |Seen {
                 method,
                 route,
                 status,
             }| {
                let m = if route == "<unknown route>" {
                    "*".into()
                } else {
                    method
                };
                (m, route, status)
            },
        )
        .collect();
    let served: BTreeSet<(String, String, u16)> = SERVED
        .iter()
        .flat_map(|(m, r, sts)| sts.iter().map(move |s| (m.to_string(), r.to_string(), *s)))
        .collect();
    println!(
        "Validated against {} ({} pairs):",
        spec::spec_path(),
        seen.len()
    );
    let doc = spec::doc();
    for (m, r, s) in &seen {
        let listed = doc["paths"]
            .get(r)
            .and_then(|p| p.get(m.to_lowercase()))
            .map(|op| op["responses"].get(s.to_string()).is_some());
        let note = match listed {
            Some(true) => "listed by the spec".to_string(),
            Some(false) => {
                let why = spec::NOT_IN_SPEC.iter().find(|(st, _, _)| st == s).unwrap();
                format!("not listed: {}", why.2)
            }
            None if r == "<unknown route>" => "the spec's not_found_response".to_string(),
            None if r == "/oauth2/token" => "not in the spec: the reference README's shape".into(),
            None => "not in the spec: a JWK set (RFC 7517)".to_string(),
        };
        println!("  {m:6} {r:32} {s}  {note}");
    }
    assert_eq!(seen, served, "(method, route, status) seen vs served");
    for (status, _, why) in spec::NOT_IN_SPEC {
        assert!(
            seen.iter().any(|(_, _, s)| s == status),
            "the allow-list entry {status} ({why}) is not needed any more: remove it"
        );
    }
}

#[test]
fn the_checker_refuses_what_kinde_would_not_send() {
    // A null where the spec types a non-nullable integer.
    let body = r#"{"code":"API_KEY_INVALID","message":"m","is_valid":false,"scopes":[],
        "verification_count":null}"#;
    let e = spec::check(
        "POST",
        "/api/v1/api_keys/verify",
        200,
        Some("application/json"),
        body,
    )
    .unwrap_err();
    assert!(e.contains("verification_count"), "{e}");
    // A null where the spec allows one.
    let body = r#"{"code":"OK","message":"m","is_valid":false,"scopes":[],"org_code":null}"#;
    spec::check(
        "POST",
        "/api/v1/api_keys/verify",
        200,
        Some("application/json"),
        body,
    )
    .unwrap();
    // A field the spec does not know.
    let body = r#"{"code":"OK","message":"m","is_valid":true,"colour":"blue"}"#;
    let e = spec::check(
        "POST",
        "/api/v1/api_keys/verify",
        200,
        Some("application/json"),
        body,
    )
    .unwrap_err();
    assert!(e.contains("colour"), "{e}");
    // The array shape on a 404, a status the spec does not list, a non-JSON Content-Type.
    let arr = r#"{"errors":[{"code":"API_KEY_NOT_FOUND","message":"m"}]}"#;
    let json = Some("application/json");
    assert!(spec::check("GET", "/api/v1/api_keys/x", 404, json, arr).is_err());
    assert!(spec::check("GET", "/api/v1/apis/x", 404, json, arr).is_err());
    assert!(spec::check("GET", "/api/v1/api_keys", 405, json, arr).is_err());
    assert!(spec::check("GET", "/api/v1/api_keys", 400, Some("text/plain"), arr).is_err());
    // A date-time that is not one.
    let body = r#"{"code":"OK","message":"m","api_key":{"id":"a","created_on":"yesterday"}}"#;
    assert!(spec::check("GET", "/api/v1/api_keys/a", 200, json, body).is_err());
    // A literal segment wins over a parameter.
    let templates: Vec<String> = vec!["/a/{id}".into(), "/a/verify".into()];
    assert_eq!(
        spec::match_template(templates.iter(), "/a/verify"),
        Some("/a/verify")
    );
    assert_eq!(
        spec::match_template(templates.iter(), "/a/k1"),
        Some("/a/{id}")
    );
}
