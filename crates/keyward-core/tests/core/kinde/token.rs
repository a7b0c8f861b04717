//! The token: cached, single flight, refreshed on expiry and once on a 401, OAuth errors,
//! clock skew, and the request's shape.

use std::time::Duration;

use crate::support::fake_kinde::*;
use crate::support::*;
use keyward_core::ErrorCode;
use keyward_core::kinde::ListKeysQuery;
use kinde_sandbox::Config;

#[tokio::test]
async fn token_is_fetched_once_for_many_calls() {
    let sb = sandbox(Config::default()).await;
    let c = client(&sb);
    for _ in 0..10 {
        c.list_keys_page(&ListKeysQuery::default()).await.unwrap();
    }
    c.list_orgs().await.unwrap();
    assert_eq!(sb.stats().token, 1);
    let counts = c.request_counts();
    assert_eq!((counts.token, counts.list, counts.other), (1, 10, 1));
    // Clones share the cache.
    c.clone().list_users().await.unwrap();
    assert_eq!(sb.stats().token, 1);
}

#[tokio::test]
async fn hundred_concurrent_calls_on_a_fresh_client_make_one_token_request() {
    let sb = sandbox(Config::default()).await;
    let c = client(&sb);
    let calls = (0..100).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.list_keys_page(&ListKeysQuery::default()).await })
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap().unwrap();
    }
    assert_eq!(sb.stats().token, 1);
    assert_eq!(sb.stats().list_keys, 100);
}

#[tokio::test]
async fn expired_token_is_refreshed_once_under_100_concurrent_calls() {
    // A 5 s token is used for 3.75 s (a quarter is kept as margin), which leaves the 100 calls
    // time to finish on a busy machine before the new token, too, goes stale.
    let sb = sandbox(Config {
        token_ttl_secs: 5,
        ..Config::default()
    })
    .await;
    let c = client(&sb);
    c.list_keys_page(&ListKeysQuery::default()).await.unwrap();
    assert_eq!(sb.stats().token, 1);
    tokio::time::sleep(Duration::from_millis(3900)).await;
    sb.reset_stats();
    let calls = (0..100).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.list_keys_page(&ListKeysQuery::default()).await })
    });
    let results = futures::future::join_all(calls).await;
    assert!(results.into_iter().all(|r| matches!(r, Ok(Ok(_)))));
    assert_eq!(sb.stats().token, 1, "exactly one refresh for 100 callers");
    assert_eq!(c.request_counts().token, 2);
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_succeeds() {
    let f = fake(|req, n| match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/oauth2/token") => token_reply(3600),
        (_, p) if p.starts_with("/api/v1/api_keys") && n == 0 => Reply::json(
            401,
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"expired"}]}"#,
        ),
        _ => Reply::json(200, EMPTY_KEYS),
    })
    .await;
    let c = client_for(&f.base(), "id", "secret", fast());
    c.list_keys_page(&ListKeysQuery::default()).await.unwrap();
    assert_eq!(f.count("POST", "/oauth2/token"), 2);
    assert_eq!(f.count("GET", "/api/v1/api_keys"), 2);
    assert_eq!(c.request_counts().retries, 1);
}

#[tokio::test]
async fn a_second_401_is_unauthenticated_not_a_loop() {
    let f = fake(|req, _| match req.path.as_str() {
        "/oauth2/token" => token_reply(3600),
        _ => Reply::json(
            401,
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"no"}]}"#,
        ),
    })
    .await;
    let c = client_for(&f.base(), "id", "secret", fast());
    let e = c.get_key("api_key_1").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthenticated);
    assert!(e.hint.contains("Kinde Management API"), "{}", e.hint);
    assert_eq!(f.count("POST", "/oauth2/token"), 2);
    assert_eq!(f.count("GET", "/api/v1/api_keys/api_key_1"), 2);
}

#[tokio::test]
async fn wrong_secret_is_invalid_client_with_the_rotation_hint() {
    let sb = sandbox(Config::default()).await;
    let c = client_for(&sb.base_url(), sb.client_id(), "not-the-secret", fast());
    let e = c
        .list_keys_page(&ListKeysQuery::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidClient);
    assert!(
        e.hint
            .contains("rotated in Kinde > Settings > Applications"),
        "{}",
        e.hint
    );
    assert!(!e.message.contains("not-the-secret") && !e.hint.contains("not-the-secret"));
    assert_eq!(sb.stats().token, 1, "a refused token is not retried");
    assert_eq!(sb.stats().list_keys, 0);
    let c = client_for(&sb.base_url(), "no-such-app", "x", fast());
    assert_eq!(
        c.token_info().await.unwrap_err().code,
        ErrorCode::InvalidClient
    );

    // 100 callers waiting on one refused token request share its answer.
    sb.reset_stats();
    let c = client_for(&sb.base_url(), sb.client_id(), "not-the-secret", fast());
    let calls = (0..100).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.list_keys_page(&ListKeysQuery::default()).await })
    });
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.unwrap().unwrap_err().code, ErrorCode::InvalidClient);
    }
    eprintln!(
        "token requests for 100 refused callers: {}",
        sb.stats().token
    );
    assert!(
        sb.stats().token <= 5,
        "token requests: {}",
        sb.stats().token
    );
    // A later call asks again (the secret may have been fixed meanwhile).
    let before = sb.stats().token;
    c.token_info().await.unwrap_err();
    assert_eq!(sb.stats().token, before + 1);
}

#[tokio::test]
async fn unauthorized_client_says_to_authorize_the_app() {
    let f = fake(|_, _| {
        Reply::json(
            400,
            r#"{"error":"unauthorized_client","error_description":"not for this audience"}"#,
        )
    })
    .await;
    let c = client_for(&f.base(), "id", "secret", fast());
    let e = c.token_info().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::UnauthorizedClient);
    assert!(e.hint.contains("Settings > APIs"), "{}", e.hint);
}

#[tokio::test]
async fn token_request_is_a_form_with_credentials_in_the_body() {
    let f = fake(|req, _| match req.path.as_str() {
        "/oauth2/token" => token_reply(3600),
        _ => Reply::json(200, EMPTY_KEYS),
    })
    .await;
    let c = client_for(&f.base(), "my-m2m", "s3cr3t", fast());
    c.list_keys_page(&ListKeysQuery::default()).await.unwrap();
    let reqs = f.requests();
    let tok = &reqs[0];
    assert_eq!(tok.path, "/oauth2/token");
    assert!(
        tok.header("content-type")
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    assert!(tok.header("authorization").is_none());
    let form: Vec<(String, String)> = url::form_urlencoded::parse(tok.body.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| form.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    assert_eq!(get("grant_type"), Some("client_credentials"));
    assert_eq!(get("client_id"), Some("my-m2m"));
    assert_eq!(get("client_secret"), Some("s3cr3t"));
    assert_eq!(get("audience"), Some(format!("{}/api", f.base()).as_str()));
    let api = &reqs[1];
    assert!(
        api.header("authorization")
            .unwrap()
            .starts_with("Bearer ey")
    );
    assert_eq!(api.header("accept"), Some("application/json"));
    for r in &reqs {
        let ua = r.header("user-agent").unwrap();
        assert_eq!(ua, format!("keyward/{}", env!("CARGO_PKG_VERSION")));
    }
}

#[tokio::test]
async fn clock_skew_over_a_minute_is_reported() {
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc2822();
    let later = later.replace("+0000", "GMT");
    let f = fake(move |_, _| token_reply(3600).header("date", &later)).await;
    let c = client_for(&f.base(), "id", "secret", fast());
    let info = c.token_info().await.unwrap();
    let skew = info.clock_skew_secs.unwrap();
    assert!((7190..=7210).contains(&skew), "{skew}");
    assert!(info.clock_skew_warning.unwrap().contains("NTP"));

    let sb = sandbox(Config::default()).await;
    let info = client(&sb).token_info().await.unwrap();
    assert!(info.clock_skew_secs.unwrap().abs() <= 5);
    assert!(info.clock_skew_warning.is_none());
    assert!(info.scopes.iter().any(|s| s == "read:api_keys"));
    assert!(info.expires_at > chrono::Utc::now());
}

#[tokio::test]
async fn debug_output_never_contains_the_secret() {
    let sb = sandbox(Config::default()).await;
    let c = client(&sb);
    c.token_info().await.unwrap();
    let cfg = config(&sb.base_url(), "id", "sandbox-secret");
    for text in [
        format!("{c:?}"),
        format!("{cfg:?}"),
        format!("{:?}", c.token_info().await),
    ] {
        assert!(!text.contains("sandbox-secret"), "{text}");
        assert!(!text.contains("eyJ"), "no token in {text}");
    }
}
