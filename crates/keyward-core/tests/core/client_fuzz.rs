//! A seeded fuzz test of the client and the sync against a wild server on 127.0.0.1:0: random
//! sizes (above the cap too), truncated bodies, endless chunked streams, pagination loops (the
//! same page, an empty page with more to come, repeated ids), random statuses (429 with odd
//! resets among them), slow drips, hangs and invalid JSON.
//!
//! For every case: no panic; the call ends within its deadline (a generous sanity bound); a
//! failure is an `Error` with a code, a message and a hint; a sync whose listing was not
//! complete marks no key gone; and over all the cases the peak RSS grows by less than 64 MiB.
//!
//! The seed is printed; `KEYWARD_FUZZ_SEED=<seed>` replays it, `KEYWARD_FUZZ_CASES` sets the
//! number of cases (200).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use keyward_core::ErrorCode;
use keyward_core::kinde::wire::{KeysResponse, parse};
use keyward_core::kinde::{Client, ClientOptions, CreateKeyRequest, ListKeysQuery, MAX_BODY_BYTES};
use keyward_core::model::key::{ApiKey, KeyStatus, KeyType, Owner};
use keyward_core::model::sync::SyncOptions;
use keyward_core::store::{PageEntry, SqliteStore, Store};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;

use crate::support::*;
use crate::wild_server::*;

/// The client's timeout of one try in the fuzz.
const TRY_TIMEOUT: Duration = Duration::from_millis(700);
/// The budget of one request with its retries.
const RETRY_DEADLINE: Duration = Duration::from_secs(2);

/// How the listing pages.
#[derive(Debug, Clone, Copy)]
enum Listing {
    /// Pages that follow one another to the end, holding every key of the account.
    Valid { page: usize },
    /// The first page again and again, with `has_more`.
    SamePage,
    /// The first page, then an empty page with `has_more`.
    EmptyWithMore,
    /// The second page repeats a key of the first.
    RepeatedId,
}

/// What one answer is, when it is not the right one.
fn fault(rng: &mut StdRng) -> Answer {
    let statuses = [200, 201, 204, 400, 401, 403, 404, 409, 429, 500, 502, 503];
    match rng.random_range(0..12) {
        0 => {
            let status = statuses[rng.random_range(0..statuses.len())];
            let body = random_body(rng);
            Answer::json(status, &body)
        }
        1 => {
            let resets = [
                "0", "-1", "1e12", "soon", "NaN", "0.01", "1", "86400", "", "3601",
            ];
            let r = resets[rng.random_range(0..resets.len())];
            let a = Answer::json(429, "{}");
            if rng.random_bool(0.5) {
                a.header("ratelimit-reset", r)
            } else {
                a.header("retry-after", r)
            }
        }
        2 => Answer::json(200, &random_body(rng)),
        // Truncated: the Content-Length promises more than comes.
        3 => Answer::with(
            200,
            Body::Lie {
                declared: rng.random_range(100..100_000),
                sent: br#"{"has_more":false,"api_keys":[{"id":"#.to_vec(),
            },
        ),
        // Above the cap, honestly declared or chunked.
        4 => {
            let len = MAX_BODY_BYTES + rng.random_range(1..100_000);
            let chunked = rng.random_bool(0.5);
            Answer::with(200, Body::Spaces { len, chunked })
        }
        // A Content-Length far above the cap.
        5 => Answer::with(
            200,
            Body::Lie {
                declared: 1 << 40,
                sent: vec![b'x'; 10],
            },
        ),
        6 => Answer::with(200, Body::Endless),
        // A drip: sometimes done before the deadline, sometimes not.
        7 => Answer::with(
            200,
            Body::Drip {
                bytes: page_json(&[], false).into_bytes(),
                chunk: rng.random_range(1..40),
                every: Duration::from_millis(rng.random_range(5..120)),
            },
        ),
        8 => Answer::with(200, Body::Hang),
        9 => Answer::close(),
        10 => Answer::json(
            rng.random_range(100..600),
            "{\"errors\":[{\"code\":\"X\",\"message\":\"\u{202e}odd\"}]}",
        ),
        _ => Answer::json(200, "not json at all {{{"),
    }
}

/// Random bytes shaped a little like JSON.
fn random_body(rng: &mut StdRng) -> String {
    let parts = [
        "{",
        "}",
        "[",
        "]",
        "\"api_keys\":",
        "\"has_more\":true",
        "null",
        ",",
        "\"id\":",
        "\"api_key_1\"",
        "1e999",
        "-1",
        "\"\u{0}\"",
        "\"errors\":",
        "true",
        ":",
    ];
    let n = rng.random_range(0..30);
    (0..n)
        .map(|_| parts[rng.random_range(0..parts.len())])
        .collect()
}

/// The account's keys: the three cached ones and a few more.
fn account(rng: &mut StdRng) -> Vec<String> {
    let mut ids: Vec<String> = (1..=3).map(|i| format!("api_key_{i}")).collect();
    for i in 0..rng.random_range(0..6) {
        ids.push(format!("api_key_x{i}"));
    }
    ids
}

/// The page of a listing that starts after `after`.
fn listing_page(listing: Listing, ids: &[String], after: Option<&str>) -> Answer {
    let start = after
        .and_then(|a| ids.iter().position(|i| i == a))
        .map_or(0, |p| p + 1);
    match listing {
        Listing::Valid { page } => {
            let end = (start + page).min(ids.len());
            Answer::json(200, &page_json(&ids[start..end], end < ids.len()))
        }
        Listing::SamePage => Answer::json(200, &page_json(&ids[..1], true)),
        Listing::EmptyWithMore if after.is_none() => Answer::json(200, &page_json(&ids[..1], true)),
        Listing::EmptyWithMore => Answer::json(200, &page_json(&[], true)),
        Listing::RepeatedId if after.is_none() => Answer::json(200, &page_json(&ids[..2], true)),
        Listing::RepeatedId => Answer::json(200, &page_json(&ids[1..], false)),
    }
}

#[derive(Debug, Clone, Copy)]
enum Call {
    Page,
    All,
    Get,
    Rotate,
    Create,
    Apis,
    Sync,
}

struct Case {
    seed: u64,
    listing: Listing,
    fault_rate: f64,
    call: Call,
}

fn case(seed: u64) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let listing = match rng.random_range(0..6) {
        0 => Listing::SamePage,
        1 => Listing::EmptyWithMore,
        2 => Listing::RepeatedId,
        _ => Listing::Valid {
            page: rng.random_range(1..4),
        },
    };
    let calls = [
        Call::Page,
        Call::All,
        Call::Get,
        Call::Rotate,
        Call::Create,
        Call::Apis,
        Call::Sync,
        Call::Sync,
        Call::Sync,
    ];
    Case {
        seed,
        listing,
        fault_rate: [0.0, 0.2, 0.5, 1.0][rng.random_range(0..4)],
        call: calls[rng.random_range(0..calls.len())],
    }
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

/// Runs one case; returns a description of what broke, if anything.
async fn run_case(c: Case) -> Result<(), String> {
    let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(c.seed ^ 0x9e37_79b9)));
    let ids = account(&mut rng.lock());
    // Keys whose detail request was answered 404 (a sync may mark those gone: deleted between
    // the listing and the detail).
    let detail_404: Arc<Mutex<HashSet<String>>> = Arc::default();
    // Set when a "fault" answer to the listing happens to be a well-formed page (`{}` is an
    // empty account's answer): the listing may then rightly look complete.
    let looked_complete = Arc::new(AtomicBool::new(false));
    let (listing, rate) = (c.listing, c.fault_rate);
    let (ids2, d404, rng2) = (ids.clone(), detail_404.clone(), rng.clone());
    let looked = looked_complete.clone();
    let w = wild(move |req, _| {
        let mut rng = rng2.lock();
        let faulty = rng.random_bool(rate);
        match req.path() {
            "/oauth2/token" if !faulty || rng.random_bool(0.7) => token_ok(),
            "/api/v1/api_keys" if !faulty && req.method == "GET" => {
                listing_page(listing, &ids2, req.query("starting_after").as_deref())
            }
            p if p.starts_with("/api/v1/api_keys/") && !faulty => {
                let id = p.trim_start_matches("/api/v1/api_keys/");
                match req.method.as_str() {
                    "GET" => Answer::json(200, &format!(r#"{{"api_key":{}}}"#, key_json(id, true))),
                    _ => Answer::json(
                        200,
                        &format!(r#"{{"api_key":{{"id":"{id}","key":"k_live_fuzzsecret"}}}}"#),
                    ),
                }
            }
            "/api/v1/apis" | "/api/v1/users" | "/api/v1/organizations" if !faulty => Answer::json(
                200,
                r#"{"code":"OK","apis":[],"users":[],"organizations":[]}"#,
            ),
            p => {
                let a = fault(&mut rng);
                let whole = match &a.body {
                    Body::Full(b) | Body::Chunked(b) => Some(b),
                    Body::Drip { bytes, .. } => Some(bytes),
                    _ => None,
                };
                if p == "/api/v1/api_keys"
                    && (200..300).contains(&a.status)
                    && whole.is_some_and(|b| parse::<KeysResponse>(b, "t").is_ok())
                {
                    looked.store(true, Ordering::SeqCst);
                }
                if a.status == 404 && p.starts_with("/api/v1/api_keys/") && req.method == "GET" {
                    d404.lock()
                        .insert(p.trim_start_matches("/api/v1/api_keys/").to_string());
                }
                a
            }
        }
    })
    .await;
    let opts = ClientOptions {
        retry_base_delay: Duration::from_millis(5),
        max_jitter: Duration::from_millis(5),
        min_rate_limit_wait: Duration::from_millis(10),
        max_rate_limit_wait: Duration::from_millis(300),
        retry_deadline: RETRY_DEADLINE,
        ..ClientOptions::default()
    };
    let client: Client = client_with_timeout(&w.base(), "id", "secret", TRY_TIMEOUT, opts);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("k.db"), "p").map_err(|e| e.message)?);
    let entries: Vec<PageEntry> = ["api_key_1", "api_key_2", "api_key_3"]
        .into_iter()
        .map(|id| PageEntry {
            key: cached(id),
            detail: true,
        })
        .collect();
    store
        .apply_page(None, Utc::now(), &entries)
        .map_err(|e| e.message)?;

    let started = Instant::now();
    let outcome: Result<(), keyward_core::Error> = match c.call {
        Call::Page => client
            .list_keys_page(&ListKeysQuery::default())
            .await
            .map(|_| ()),
        Call::All => client
            .list_keys_all(&ListKeysQuery::default())
            .await
            .map(|_| ()),
        Call::Get => client.get_key("api_key_1").await.map(|_| ()),
        Call::Rotate => client.rotate_key("api_key_1").await.map(|_| ()),
        Call::Create => client
            .create_key(&CreateKeyRequest {
                name: "fuzz".into(),
                owner: Owner::Organization {
                    org_code: "org_a".into(),
                },
                api_id: "api1".into(),
                scope_ids: vec![],
            })
            .await
            .map(|_| ()),
        Call::Apis => client.list_apis().await.map(|_| ()),
        Call::Sync => keyward_core::sync::run_store(
            &client,
            &store,
            SyncOptions {
                full: true,
                concurrency: Some(4),
                page_size: 2,
                ..Default::default()
            },
            &|_| {},
            &CancellationToken::new(),
            false,
        )
        .await
        .map(|_| ()),
    };
    let took = started.elapsed();
    // Sanity bound, not speed: a request's budget is 2 s; a sync makes a handful of budgeted
    // calls (pages, up to 4 details in flight, names).
    let bound = match c.call {
        Call::Sync => Duration::from_secs(60),
        _ => Duration::from_secs(15),
    };
    let what = format!(
        "seed {} ({:?}, {:?}, fault rate {})",
        c.seed, c.call, c.listing, c.fault_rate
    );
    if took > bound {
        return Err(format!("{what}: took {took:?}"));
    }
    if let Err(e) = &outcome {
        if e.message.trim().is_empty() || e.hint.trim().is_empty() {
            return Err(format!("{what}: an error without message or hint: {e:?}"));
        }
        if e.code == ErrorCode::Internal {
            return Err(format!("{what}: an internal error: {e:?}"));
        }
    }
    if let Call::Sync = c.call {
        let states = store.key_states().map_err(|e| e.message)?;
        let complete = matches!(c.listing, Listing::Valid { .. });
        if looked_complete.load(Ordering::SeqCst) {
            return Ok(());
        }
        let allowed = detail_404.lock().clone();
        for (id, k) in &states {
            if k.gone && !(complete && allowed.contains(id)) {
                return Err(format!(
                    "{what}: {id} marked gone (listing complete: {complete}; outcome {outcome:?})"
                ));
            }
        }
        if !complete && outcome.is_ok() {
            return Err(format!("{what}: a broken listing ended the sync well"));
        }
    }
    Ok(())
}

/// Runs the cases in a child run of this test binary, so that its peak RSS is the fuzz's alone
/// (the other tests of the binary run beside it otherwise).
#[test]
fn the_client_survives_a_wild_server() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "client_fuzz::wild_server_cases",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KEYWARD_FUZZ_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("client fuzz: done"),
        "the fuzz run failed:\n{stdout}\n{stderr}"
    );
}

/// The fuzz itself; does nothing unless run as the child of the test above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wild_server_cases() {
    if std::env::var_os("KEYWARD_FUZZ_CHILD").is_none() {
        return;
    }
    let seed = std::env::var("KEYWARD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| rand::rng().random());
    let cases: u64 = std::env::var("KEYWARD_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    println!("client fuzz: seed {seed} (replay with KEYWARD_FUZZ_SEED={seed}), {cases} cases");
    let before = peak_rss();
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let mut failures: Vec<String> = Vec::new();
    let mut next = 0u64;
    // Six cases at a time: the hangs and drips wait for their deadlines side by side, and at
    // most six answers of up to the cap are read at once.
    while next < cases || !set.is_empty() {
        while next < cases && set.len() < 6 {
            let c = case(seed.wrapping_add(next));
            set.spawn(run_case(c));
            next += 1;
        }
        match set.join_next().await {
            Some(Ok(Ok(()))) => {}
            Some(Ok(Err(f))) => failures.push(f),
            Some(Err(e)) => failures.push(format!("a case panicked (seed {seed}): {e}")),
            None => {}
        }
    }
    let grew = peak_rss().saturating_sub(before);
    println!(
        "client fuzz: {cases} cases in {:.1} s, peak RSS grew {} MiB, {} failures",
        started.elapsed().as_secs_f64(),
        grew >> 20,
        failures.len()
    );
    assert!(failures.is_empty(), "seed {seed}:\n{}", failures.join("\n"));
    assert!(
        grew < 64 << 20,
        "seed {seed}: peak RSS grew by {} MiB",
        grew >> 20
    );
    println!("client fuzz: done");
}
