//! The client counts Kinde's answers by HTTP status code, and the tries that got no answer,
//! against a real sandbox over loopback (what the server's `keyward_kinde_responses_total`
//! exports).

use std::time::Duration;

use crate::support::*;
use keyward_core::ErrorCode;
use keyward_core::kinde::{ClientOptions, ListKeysQuery};
use kinde_sandbox::{Config, Seed};

#[tokio::test]
async fn a_sync_against_the_sandbox_is_counted_as_200s() {
    let sb = sandbox(Config {
        seed: Seed::Demo,
        ..Config::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path());
    let s = sync_ok(&ctx).await;
    assert!(s.details_fetched > 0, "{s:?}");
    let client = ctx.client().await.unwrap();
    let by = client.status_counts();
    let r = client.request_counts();
    let sent = r.token + r.list + r.detail + r.write + r.verify + r.other;
    // Every request was answered, and every answer was a 200.
    assert_eq!(by.transport_failures, 0, "{by:?}");
    assert_eq!(by.by_status.keys().copied().collect::<Vec<_>>(), vec![200]);
    assert_eq!(by.status(200), sent, "{by:?} vs {r:?}");
    assert_eq!(by.answered(), sent);
    // The sandbox saw as many requests to its Management API as the client counted (less
    // the token requests, which its route counters leave out).
    let api: u64 = sb
        .request_counts()
        .iter()
        .filter(|(route, _)| route.contains("/api/v1/"))
        .map(|(_, n)| *n)
        .sum();
    assert_eq!(api, sent - r.token, "{:?}", sb.request_counts());
}

#[tokio::test]
async fn a_throttling_sandbox_shows_its_429s() {
    let sb = sandbox(Config {
        rate_limit_per_min: Some(3),
        ..Config::default()
    })
    .await;
    // The sandbox asks for a wait of up to a minute: more than this client waits, so the
    // first 429 fails the call at once.
    let opts = ClientOptions {
        max_rate_limit_wait: Duration::from_secs(1),
        ..fast()
    };
    let c = client_for(&sb.base_url(), sb.client_id(), sb.client_secret(), opts);
    let mut ok = 0;
    let mut limited = None;
    for _ in 0..10 {
        match c.list_keys_page(&ListKeysQuery::default()).await {
            Ok(_) => ok += 1,
            Err(e) => {
                limited = Some(e);
                break;
            }
        }
    }
    assert_eq!(limited.expect("throttled").code, ErrorCode::RateLimited);
    assert_eq!(ok, 3);
    let by = c.status_counts();
    assert_eq!(by.status(429), 1, "{by:?}");
    assert_eq!(by.status(429), sb.stats().rate_limited);
    // The token's answer and the 3 pages allowed.
    assert_eq!(by.status(200), 1 + 3, "{by:?}");
    assert_eq!(by.transport_failures, 0);
    assert_eq!(c.throttled_count(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_counted_apart_from_any_status() {
    let base = format!("http://127.0.0.1:{}", refused_port());
    let c = client_for(&base, "id", "secret", one_retry());
    let e = c
        .list_keys_page(&ListKeysQuery::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ConnectionRefused, "{e:?}");
    let by = c.status_counts();
    assert!(by.by_status.is_empty(), "{by:?}");
    // The token request, tried and retried once: two tries, no answer.
    assert_eq!(by.transport_failures, 2, "{by:?}");
}
