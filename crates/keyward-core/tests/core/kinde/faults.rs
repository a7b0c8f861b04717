//! 429, 5xx, timeouts, redirects and transport failures: what is retried, what is not, and
//! the code each one maps to.

use std::time::Duration;

use crate::support::fake_kinde::*;
use crate::support::*;
use keyward_core::ErrorCode;
use keyward_core::kinde::{ClientOptions, CreateKeyRequest, ListKeysQuery};
use keyward_core::model::key::Owner;
use keyward_core::secret::Secret;
use kinde_sandbox::Config;

fn create_req() -> CreateKeyRequest {
    CreateKeyRequest {
        name: "Billing sync".into(),
        owner: Owner::Organization {
            org_code: "org_1".into(),
        },
        api_id: "api1".into(),
        scope_ids: vec![],
    }
}

const KEYS: &str = "/api/v1/api_keys";

#[tokio::test]
async fn a_429_waits_for_ratelimit_reset_then_succeeds() {
    let f = fake(|req, n| match (req.path.as_str(), n) {
        ("/oauth2/token", _) => token_reply(3600),
        (_, 0) => Reply::json(
            429,
            r#"{"errors":[{"code":"TOO_MANY_REQUESTS","message":"slow"}]}"#,
        )
        .header("ratelimit-reset", "1"),
        _ => Reply::json(200, EMPTY_KEYS),
    })
    .await;
    let c = client_for(&f.base(), "id", "secret", fast());
    c.list_keys_page(&ListKeysQuery::default()).await.unwrap();
    assert_eq!(f.count("GET", KEYS), 2);
    assert_eq!(c.request_counts().retries, 1);
    // A 429 means "not processed": even a create is sent again after the wait.
    let f = fake(|req, n| match (req.path.as_str(), n) {
        ("/oauth2/token", _) => token_reply(3600),
        (_, 0) => Reply::json(429, "{}").header("retry-after", "1"),
        _ => Reply::json(201, CREATED),
    })
    .await;
    let c = client_for(&f.base(), "id", "secret", fast());
    c.create_key(&create_req()).await.unwrap();
    assert_eq!(f.count("POST", KEYS), 2);
}

#[tokio::test]
async fn a_429_gives_up_after_the_bounded_waits_and_says_when_to_retry() {
    let f = fake(|req, _| match req.path.as_str() {
        "/oauth2/token" => token_reply(3600),
        _ => Reply::json(429, "{}").header("ratelimit-reset", "1"),
    })
    .await;
    let opts = ClientOptions {
        max_rate_limit_waits: 1,
        ..fast()
    };
    let c = client_for(&f.base(), "id", "secret", opts);
    let e = c
        .list_keys_page(&ListKeysQuery::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::RateLimited);
    assert!(e.hint.contains("Wait 1 s"), "{}", e.hint);
    assert_eq!(f.count("GET", KEYS), 2);

    // A reset beyond the longest wait fails at once.
    let f = fake(|req, _| match req.path.as_str() {
        "/oauth2/token" => token_reply(3600),
        _ => Reply::json(429, "{}").header("ratelimit-reset", "3600"),
    })
    .await;
    let c = client_for(&f.base(), "id", "secret", fast());
    let e = c
        .list_keys_page(&ListKeysQuery::default())
        .await
        .unwrap_err();
    assert!(e.hint.contains("Wait 3600 s"), "{}", e.hint);
    assert_eq!(f.count("GET", KEYS), 1);
}

#[tokio::test]
async fn the_sandbox_rate_limit_is_reported_with_when_to_retry() {
    let sb = sandbox(Config {
        rate_limit_per_min: Some(3),
        ..Config::default()
    })
    .await;
    let opts = ClientOptions {
        max_rate_limit_wait: Duration::from_secs(1),
        ..fast()
    };
    let c = client_for(&sb.base_url(), sb.client_id(), sb.client_secret(), opts);
    let mut limited = None;
    for _ in 0..10 {
        if let Err(e) = c.list_keys_page(&ListKeysQuery::default()).await {
            limited = Some(e);
            break;
        }
    }
    let e = limited.expect("the sandbox throttles after 3 calls a minute");
    assert_eq!(e.code, ErrorCode::RateLimited);
    assert!(e.hint.starts_with("Wait "), "{}", e.hint);
    assert!(sb.stats().rate_limited >= 1);
}

#[tokio::test]
async fn gets_are_retried_on_503_but_writes_and_verify_are_not() {
    let f = fake(|req, n| match (req.method.as_str(), req.path.as_str()) {
        (_, "/oauth2/token") => token_reply(3600),
        ("GET", _) if n < 2 => Reply::json(503, r#"{"errors":[{"code":"UNAVAILABLE"}]}"#),
        ("GET", _) => Reply::json(200, EMPTY_KEYS),
        _ => Reply::json(503, "{}"),
    })
    .await;
    let c = client_for(&f.base(), "id", "secret", fast());
    c.list_keys_page(&ListKeysQuery::default()).await.unwrap();
    assert_eq!(f.count("GET", KEYS), 3);

    let e = c.create_key(&create_req()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ServerError);
    assert!(
        e.hint
            .contains("keyward keys list --search \"Billing sync\""),
        "{}",
        e.hint
    );
    assert_eq!(f.count("POST", KEYS), 1, "a create is never re-sent");

    let e = c.rotate_key("api_key_1").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ServerError);
    assert_eq!(f.count("PUT", "/api/v1/api_keys/api_key_1"), 1);
    c.revoke_key("api_key_1").await.unwrap_err();
    assert_eq!(f.count("DELETE", "/api/v1/api_keys/api_key_1"), 1);
    c.verify_key(&Secret::new("k_live_x")).await.unwrap_err();
    assert_eq!(
        f.count("POST", "/api/v1/api_keys/verify"),
        1,
        "a verify counts: never twice"
    );
}

#[tokio::test]
async fn a_get_gives_up_after_the_retries() {
    let f = fake(|req, _| match req.path.as_str() {
        "/oauth2/token" => token_reply(3600),
        _ => Reply::json(500, "oops"),
    })
    .await;
    let c = client_for(&f.base(), "id", "secret", fast());
    let e = c.get_key("api_key_1").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ServerError);
    assert!(e.hint.contains("try again"), "{}", e.hint);
    assert_eq!(
        f.count("GET", "/api/v1/api_keys/api_key_1"),
        4,
        "1 + 3 retries"
    );
    assert_eq!(c.request_counts().retries, 3);
}

#[tokio::test]
async fn a_timeout_after_sending_a_create_or_rotate_is_ambiguous() {
    let f = fake(|req, _| match req.path.as_str() {
        "/oauth2/token" => token_reply(3600),
        _ => Reply::json(201, CREATED).delay(Duration::from_secs(3)),
    })
    .await;
    let c = client_with_timeout(
        &f.base(),
        "id",
        "secret",
        Duration::from_millis(400),
        fast(),
    );
    let e = c.create_key(&create_req()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Ambiguous);
    assert!(e.message.contains("may or may not"), "{}", e.message);
    assert!(
        e.hint
            .contains("keyward keys list --search \"Billing sync\""),
        "{}",
        e.hint
    );
    assert_eq!(f.count("POST", KEYS), 1);

    let e = c.rotate_key("api_key_1").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Ambiguous);
    assert!(e.hint.contains("keyward keys show api_key_1"), "{}", e.hint);
    assert_eq!(f.count("PUT", "/api/v1/api_keys/api_key_1"), 1);

    // A GET that times out is retried, then reported as a timeout.
    let opts = ClientOptions {
        max_retries: 1,
        ..fast()
    };
    let c = client_with_timeout(&f.base(), "id", "secret", Duration::from_millis(400), opts);
    let e = c
        .list_keys_page(&ListKeysQuery::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Timeout);
    assert_eq!(f.count("GET", KEYS), 2);
}

#[tokio::test]
async fn redirects_are_not_followed_so_the_token_stays_home() {
    let elsewhere = fake(|_, _| Reply::json(200, EMPTY_KEYS)).await;
    let target = format!("{}/api/v1/api_keys", elsewhere.base());
    let f = fake(move |req, _| match req.path.as_str() {
        "/oauth2/token" => token_reply(3600),
        _ => Reply::json(302, "").header("location", &target),
    })
    .await;
    let c = client_for(&f.base(), "id", "secret", fast());
    let e = c
        .list_keys_page(&ListKeysQuery::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::UnexpectedResponse);
    assert!(e.message.contains("redirect"), "{}", e.message);
    assert!(
        elsewhere.requests().is_empty(),
        "nothing reached the other origin"
    );
}

#[tokio::test]
async fn refused_dns_and_tls_each_have_their_code() {
    let port = refused_port();
    let c = client_for(&format!("http://127.0.0.1:{port}"), "id", "secret", fast());
    let e = c.token_info().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ConnectionRefused, "{e:?}");
    assert!(e.message.contains(&port.to_string()));

    let c = client_for(
        "https://nonexistent-keyward.invalid",
        "id",
        "secret",
        fast(),
    );
    let e = c.token_info().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Dns, "{e:?}");
    assert!(e.hint.contains("spelling"));

    let sb = sandbox(Config {
        tls: true,
        ..Config::default()
    })
    .await;
    assert!(sb.base_url().starts_with("https://"));
    let c = client(&sb);
    let e = c.token_info().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Tls, "{e:?}");
    let trusted = ClientOptions {
        root_cert_pem: sb.cert_pem(),
        ..fast()
    };
    let c = client_for(&sb.base_url(), sb.client_id(), sb.client_secret(), trusted);
    c.list_keys_page(&ListKeysQuery::default()).await.unwrap();
}

#[tokio::test]
async fn base_urls_are_checked_before_anything_is_sent() {
    for bad in [
        "http://example.com",
        "https://x.kinde.com/api",
        "https://x.kinde.com/?a=1",
    ] {
        let e = try_client(bad, "id", "s").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
    }
    let e = try_client("https://x.kinde.com", "id", "").unwrap_err();
    assert_eq!(e.code, ErrorCode::SecretMissing);
    let e = try_client("https://x.kinde.com", "my id", "s").unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
}

#[tokio::test]
async fn sandbox_faults_are_survived_by_reads() {
    let sb = sandbox(Config {
        fault_rate: 0.3,
        extra_keys: 50,
        rng_seed: Some(7),
        ..Config::default()
    })
    .await;
    let opts = ClientOptions {
        max_retries: 8,
        ..fast()
    };
    let c = client_for(&sb.base_url(), sb.client_id(), sb.client_secret(), opts);
    for _ in 0..5 {
        let page = ListKeysQuery {
            page_size: Some(20),
            ..Default::default()
        };
        let all = c.list_keys_all(&page).await.unwrap();
        assert_eq!(all.len(), 50);
    }
    assert!(
        c.request_counts().retries > 0,
        "faults happened and were retried"
    );
}

#[tokio::test]
async fn one_429_holds_back_the_other_calls_of_the_client() {
    // The server throttles for one second after the first call and counts the 429s it gives.
    let window: std::sync::Arc<parking_lot::Mutex<Option<std::time::Instant>>> =
        std::sync::Arc::default();
    let throttled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (w, t) = (window.clone(), throttled.clone());
    let f = fake(move |req, _| {
        if req.path == "/oauth2/token" {
            return token_reply(3600);
        }
        let now = std::time::Instant::now();
        let mut w = w.lock();
        let until = *w.get_or_insert(now + Duration::from_secs(1));
        if now < until {
            t.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return Reply::json(429, "{}").header("ratelimit-reset", "1");
        }
        Reply::json(200, EMPTY_KEYS)
    })
    .await;
    let c = client_for(&f.base(), "id", "secret", fast());
    c.token_info().await.unwrap();
    let a = {
        let c = c.clone();
        tokio::spawn(async move { c.list_keys_page(&ListKeysQuery::default()).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.list_keys_page(&ListKeysQuery::default()).await.unwrap();
    a.await.unwrap().unwrap();
    assert_eq!(
        f.count("GET", KEYS),
        3,
        "throttled call, its retry, and the held-back call"
    );
    assert_eq!(
        throttled.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the second call waited instead of hitting the limit"
    );
}
