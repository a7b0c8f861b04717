//! A broken or hostile server can neither exhaust the memory nor hold a command for minutes:
//! every answer is read up to a named cap, every try has a deadline, and one retry budget
//! (attempts and a total deadline) covers the client's retries and the sync's together. A
//! 429's reset of 0 still waits, an absurd one is refused. `KEYWARD_CA_CERT` is read only if
//! it is a regular file of sane size.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use keyward_core::ErrorCode;
use keyward_core::kinde::{
    Client, ClientOptions, ListKeysQuery, MAX_BODY_BYTES, MAX_ITEM_BODY_BYTES,
};
use keyward_core::model::key::{ApiKey, KeyStatus, KeyType};
use keyward_core::model::sync::SyncOptions;
use keyward_core::secret::Secret;
use keyward_core::store::{PageEntry, SqliteStore, Store};
use tokio_util::sync::CancellationToken;

use crate::support::*;
use crate::wild_server::*;

const KEYS: &str = "/api/v1/api_keys";

fn with_timeout(base: &str, timeout: Duration, opts: ClientOptions) -> Client {
    client_with_timeout(base, "id", "secret", timeout, opts)
}

fn cached(id: &str) -> ApiKey {
    ApiKey {
        id: id.into(),
        name: format!("n {id}"),
        key_type: KeyType::Organization,
        status: KeyStatus::Active,
        key_prefix: "k_live".into(),
        key_suffix: Some("ab12".into()),
        created_on: None,
        last_verified_on: None,
        last_verified_ip: None,
        created_by: None,
        api_ids: vec!["api1".into()],
        scopes: vec!["read:data".into()],
        verification_count: Some(0),
        user_id: None,
        org_code: Some("org_a".into()),
    }
}

/// A store on a real file holding three cached keys.
fn store_with_three(dir: &std::path::Path) -> Arc<dyn Store> {
    let s: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("k.db"), "p").unwrap());
    let entries: Vec<PageEntry> = ["api_key_1", "api_key_2", "api_key_3"]
        .into_iter()
        .map(|id| PageEntry {
            key: cached(id),
            detail: true,
        })
        .collect();
    s.apply_page(None, Utc::now(), &entries).unwrap();
    s
}

async fn full_sync(c: &Client, s: &Arc<dyn Store>) -> keyward_core::Result<String> {
    keyward_core::sync::run_store(
        c,
        s,
        SyncOptions {
            full: true,
            ..Default::default()
        },
        &|_| {},
        &CancellationToken::new(),
        false,
    )
    .await
    .map(|summary| summary.status)
}

fn assert_nothing_gone(s: &Arc<dyn Store>) {
    let states = s.key_states().unwrap();
    assert_eq!(states.len(), 3);
    assert!(
        states.values().all(|k| !k.gone),
        "a key marked gone: {states:?}"
    );
}

/// Runs [`endless_listing_case`] in a child run of this test binary, so that the peak RSS it
/// measures is its own (the other tests of the binary run beside it otherwise).
#[test]
fn an_endless_chunked_listing_stops_at_the_cap_with_memory_bounded() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "bounded_answers::endless_listing_case",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KEYWARD_ENDLESS_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("endless answer: done"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An endless chunked answer to the listing; does nothing unless run as the child above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_listing_case() {
    if std::env::var_os("KEYWARD_ENDLESS_CHILD").is_none() {
        return;
    }
    let w = wild(|req, _| match req.path() {
        "/oauth2/token" => token_ok(),
        _ => Answer::with(200, Body::Endless),
    })
    .await;
    let before = peak_rss();
    let c = client_for(&w.base(), "id", "secret", fast());
    let e = c
        .list_keys_page(&ListKeysQuery::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::UnexpectedResponse, "{e:?}");
    assert!(
        e.message
            .contains(&format!("larger than {MAX_BODY_BYTES} bytes")),
        "{}",
        e.message
    );
    assert!(!e.hint.is_empty());
    // Not retried: the same answer would come again.
    assert_eq!(w.count("GET", KEYS), 1);

    // A sync over it fails the same way and marks no cached key gone.
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_three(dir.path());
    let e = full_sync(&c, &s).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::UnexpectedResponse, "{e:?}");
    assert_nothing_gone(&s);
    let grew = peak_rss().saturating_sub(before);
    assert!(
        grew < 64 << 20,
        "peak RSS grew by {} MiB against an endless answer",
        grew >> 20
    );
    println!(
        "endless answer: the server wrote {} MiB before the client stopped reading; peak RSS grew {} MiB",
        w.written() >> 20,
        grew >> 20
    );
    println!("endless answer: done");
}

#[tokio::test]
async fn a_content_length_above_the_cap_fails_before_reading() {
    let w = wild(|req, _| match req.path() {
        "/oauth2/token" => token_ok(),
        // 10 GB announced, 1 KB sent: the client must not wait for (or allocate) the rest.
        p if p.starts_with("/api/v1/api_keys/") => Answer::with(
            200,
            Body::Lie {
                declared: 10 << 30,
                sent: vec![b' '; 1024],
            },
        ),
        _ => Answer::with(
            200,
            Body::Lie {
                declared: 10 << 30,
                sent: vec![b' '; 1024],
            },
        ),
    })
    .await;
    let c = client_for(&w.base(), "id", "secret", fast());
    let e = c
        .list_keys_page(&ListKeysQuery::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::UnexpectedResponse, "{e:?}");
    assert!(e.message.contains("larger than"), "{}", e.message);
    // One key's answer has the smaller cap.
    let e = c.get_key("api_key_1").await.unwrap_err();
    assert!(
        e.message
            .contains(&format!("larger than {MAX_ITEM_BODY_BYTES} bytes")),
        "{}",
        e.message
    );
    // A rotate whose answer is too large may have happened: the hint says how to check.
    let e = c.rotate_key("api_key_1").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::UnexpectedResponse);
    assert!(e.hint.contains("keyward keys show api_key_1"), "{}", e.hint);
}

#[tokio::test]
async fn an_endless_token_answer_is_refused() {
    let w = wild(|_, _| Answer::with(200, Body::Endless)).await;
    let c = client_for(&w.base(), "id", "secret", fast());
    let e = c.token_info().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::UnexpectedResponse, "{e:?}");
    assert!(
        e.message
            .contains(&format!("larger than {MAX_ITEM_BODY_BYTES} bytes")),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn a_slow_drip_ends_at_the_deadline_and_the_error_names_it() {
    let w = wild(|req, _| match req.path() {
        "/oauth2/token" => token_ok(),
        _ => Answer::with(
            200,
            Body::Drip {
                bytes: page_json(&["api_key_1".to_string()], false).into_bytes(),
                chunk: 1,
                every: Duration::from_millis(200),
            },
        ),
    })
    .await;
    let opts = ClientOptions {
        retry_deadline: Duration::from_secs(3),
        ..fast()
    };
    let c = with_timeout(&w.base(), Duration::from_secs(1), opts);
    let t = Instant::now();
    let e = c
        .list_keys_page(&ListKeysQuery::default())
        .await
        .unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.code, ErrorCode::Timeout, "{e:?}");
    assert!(e.message.contains("no complete answer"), "{}", e.message);
    assert!(e.message.contains("gave up after"), "{}", e.message);
    assert!(
        e.message.contains("within 3 s"),
        "the deadline is named: {}",
        e.message
    );
    let tries = w.count("GET", KEYS);
    assert!((2..=4).contains(&tries), "{tries} tries");
    // A sanity bound (far above the 3 s deadline), not a measure of speed.
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[tokio::test]
async fn a_hanging_server_costs_one_budget_not_nested_retries() {
    let w = wild(|req, _| match req.path() {
        "/oauth2/token" => token_ok(),
        _ => Answer::with(200, Body::Hang),
    })
    .await;
    // The default budget: 1 + max_retries (3) attempts within retry_deadline (60 s).
    let c = with_timeout(&w.base(), Duration::from_millis(500), fast());
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_three(dir.path());
    let e = full_sync(&c, &s).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Timeout, "{e:?}");
    assert!(
        e.message.contains("gave up after 4 attempts"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("allows 4 attempts within 60 s"),
        "{}",
        e.message
    );
    // 4 tries in all for the sync's first page, where the client's and the sync's retries
    // used to nest (4 x 4 = 16).
    assert_eq!(w.count("GET", KEYS), 4);
    assert_nothing_gone(&s);
}

#[tokio::test]
async fn a_failing_token_endpoint_costs_one_budget_too() {
    // The token's own tries used to run under a budget of their own, so the sync's loop saw
    // no attempt spent and asked again until the 60 s deadline (a keyward-server against an
    // unreachable Kinde logged its first "sync failed" after a minute).
    let w = wild(|req, _| match req.path() {
        "/oauth2/token" => Answer::close(),
        _ => Answer::json(500, "{}"),
    })
    .await;
    let c = with_timeout(&w.base(), Duration::from_millis(500), fast());
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_three(dir.path());
    let e = full_sync(&c, &s).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Network, "{e:?}");
    assert!(e.message.contains("allows 4 attempts"), "{}", e.message);
    let tries = w.count("POST", "/oauth2/token");
    assert!(
        (1..=4).contains(&tries),
        "{tries} token requests for one budget of 4"
    );
    assert_eq!(w.count("GET", KEYS), 0);
    assert_nothing_gone(&s);
}

#[tokio::test]
async fn a_429_storm_with_a_reset_of_0_still_waits() {
    let w = wild(|req, _| match req.path() {
        "/oauth2/token" => token_ok(),
        _ => Answer::json(429, "{}").header("ratelimit-reset", "0"),
    })
    .await;
    let opts = ClientOptions {
        min_rate_limit_wait: Duration::from_millis(100),
        ..fast()
    };
    let c = client_for(&w.base(), "id", "secret", opts);
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_three(dir.path());
    let e = full_sync(&c, &s).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::RateLimited, "{e:?}");
    assert!(!e.hint.is_empty());
    // One budget for the page: 4 requests (not 16), each after a wait that doubles from the
    // minimum (a reset of 0 is not "go now").
    let at: Vec<Instant> = w
        .requests()
        .iter()
        .filter(|r| r.path() == KEYS)
        .map(|r| r.at)
        .collect();
    assert_eq!(at.len(), 4, "list requests");
    for (i, pair) in at.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        let least = Duration::from_millis(100 << i);
        assert!(gap >= least, "wait {i} was {gap:?}, less than {least:?}");
    }
    assert_nothing_gone(&s);
}

#[tokio::test]
async fn an_absurd_reset_is_refused_and_named() {
    for (header, value, shown) in [
        ("ratelimit-reset", "1e12", "10^12 s"),
        ("ratelimit-reset", "86401", "86401 s"),
        ("ratelimit-reset", "soon", "\"soon\""),
        ("retry-after", "99999999", "10^8 s"),
    ] {
        let w = wild(move |req, _| match req.path() {
            "/oauth2/token" => token_ok(),
            _ => Answer::json(429, "{}").header(header, value),
        })
        .await;
        let c = client_for(&w.base(), "id", "secret", fast());
        let e = c
            .list_keys_page(&ListKeysQuery::default())
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::RateLimited, "{value}: {e:?}");
        assert!(
            e.message.contains(shown) && e.message.contains("refusing"),
            "{value}: {}",
            e.message
        );
        assert!(!e.hint.contains("Wait "), "{value}: {}", e.hint);
        assert_eq!(w.count("GET", KEYS), 1, "{value}: not waited out");
    }
}

#[tokio::test]
async fn a_live_attempt_that_can_use_the_cache_has_a_short_budget() {
    let w = wild(|req, _| match req.path() {
        "/oauth2/token" => token_ok(),
        _ => Answer::with(200, Body::Hang),
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let ctx = keyward_core::ctx::AppCtx::for_sandbox(
        &w.base(),
        "id",
        Secret::new("secret"),
        Some(home.path().to_path_buf()),
    )
    .unwrap();
    let t = Instant::now();
    let e = keyward_core::sync::run_quick(
        &ctx,
        SyncOptions::default(),
        |_| {},
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    let took = t.elapsed();
    let deadline = keyward_core::sync::QUICK_DEADLINE.as_secs();
    assert_eq!(e.code, ErrorCode::Timeout, "{e:?}");
    assert!(
        e.message.contains(&format!("within {deadline} s)")),
        "the deadline of the whole attempt is named: {}",
        e.message
    );
    assert!(
        e.message.contains("gave up after 1 attempt"),
        "{}",
        e.message
    );
    assert_eq!(w.count("GET", KEYS), 1);
    // Sanity bound: the client's own timeout (30 s) x 4 tries was the old cost.
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[test]
fn a_ca_cert_that_is_not_a_regular_file_of_sane_size_fails_at_once() {
    use keyward_core::ctx::read_root_cert;
    let dir = tempfile::tempdir().unwrap();

    let e = read_root_cert(std::path::Path::new("/dev/zero")).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e:?}");
    assert!(e.message.contains("not a regular file"), "{}", e.message);
    assert!(e.hint.contains("KEYWARD_CA_CERT"), "{}", e.hint);

    // A FIFO with no writer would block an open() for ever.
    let fifo = dir.path().join("ca.pem");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let e = read_root_cert(&fifo).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e:?}");
    assert!(e.message.contains("not a regular file"), "{}", e.message);

    let big = dir.path().join("big.pem");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(keyward_core::ctx::MAX_CA_CERT_BYTES + 1).unwrap();
    let e = read_root_cert(&big).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e:?}");
    assert!(e.message.contains("bytes"), "{}", e.message);

    let e = read_root_cert(dir.path()).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "a directory: {e:?}");

    let pem = dir.path().join("ok.pem");
    std::fs::write(
        &pem,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    assert!(read_root_cert(&pem).unwrap().contains("BEGIN CERTIFICATE"));
    let e = read_root_cert(&dir.path().join("missing.pem")).unwrap_err();
    assert_eq!(e.code, ErrorCode::Io);
}

/// The same through the environment, as the CLI and the app read it: a child run of this test
/// binary with `KEYWARD_CA_CERT=/dev/zero` fails to build a context at once.
#[test]
fn keyward_ca_cert_dev_zero_fails_fast_through_the_environment() {
    if std::env::var_os("KEYWARD_CA_CHILD").is_some() {
        let home = tempfile::tempdir().unwrap();
        let r = keyward_core::ctx::AppCtx::new(
            Some(home.path().to_path_buf()),
            Arc::new(keyward_core::secret::keyring::MemoryStore::new()),
        );
        match r {
            Err(e) => println!("CHILD-ERROR {}", e.code),
            Ok(_) => println!("CHILD-OK"),
        }
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "bounded_answers::keyward_ca_cert_dev_zero_fails_fast_through_the_environment",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KEYWARD_CA_CHILD", "1")
        .env("KEYWARD_CA_CERT", "/dev/zero")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CHILD-ERROR invalid_input"), "{text}");
}
