//! Sync against a real sandbox over loopback, into SQLite on real files.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use keyward_core::ErrorCode;
use keyward_core::kinde::Client;
use keyward_core::model::key::KeyFilter;
use keyward_core::model::sync::{SyncOptions, SyncSummary};
use keyward_core::store::{SqliteStore, Store};
use keyward_core::sync::engine::run as run_sync;
use kinde_sandbox::{Config, Sandbox};
use tokio_util::sync::CancellationToken;

use crate::support::{app_client, file_store, sandbox};

/// A sandbox with `keys` more keys than its seed.
async fn sandbox_with(keys: usize, cfg: Config) -> Sandbox {
    sandbox(Config {
        extra_keys: keys,
        rng_seed: Some(7),
        ..cfg
    })
    .await
}

async fn sync(c: &Client, s: &Arc<dyn Store>, full: bool) -> SyncSummary {
    let opts = SyncOptions {
        full,
        ..Default::default()
    };
    run_sync(c, s, opts, &|_| {}, &CancellationToken::new())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_incremental_sync_costs_only_list_requests() {
    const N: usize = 1_203;
    let sb = sandbox_with(N, Config::default()).await;
    let c = app_client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let s = file_store(&dir.path().join("k.db"), "test");

    let first = sync(&c, &s, false).await;
    assert_eq!(first.status, "ok", "{:?}", first.errors);
    assert_eq!(first.keys as usize, N);
    assert_eq!(first.new as usize, N);
    assert_eq!(first.details_fetched as usize, N);
    let all = s
        .list_keys(&KeyFilter::default(), chrono::Utc::now())
        .unwrap();
    assert!(all.iter().all(|k| k.key.verification_count.is_some()));
    assert!(
        all.iter()
            .all(|k| k.owner_name.is_some() && k.api_name.is_some())
    );
    let history = s.history_len().unwrap();
    assert_eq!(history as usize, N, "one baseline row per key");

    // Idle: exactly ceil(N/500) list requests, nothing else, no history row.
    sb.reset_stats();
    let idle = sync(&c, &s, false).await;
    let st = sb.stats();
    assert_eq!(st.list_keys as usize, N.div_ceil(500));
    assert_eq!(st.get_key, 0);
    assert_eq!(st.other, 0);
    assert_eq!(st.total, st.list_keys + st.token);
    assert_eq!((idle.new, idle.changed, idle.details_fetched), (0, 0, 0));
    assert_eq!(s.history_len().unwrap(), history);

    // k keys verified: ceil(N/500) + k requests, k history rows.
    let k = 17;
    let verified = sb.simulate_verifications(k);
    assert_eq!(verified.len(), k);
    sb.reset_stats();
    let inc = sync(&c, &s, false).await;
    let st = sb.stats();
    assert_eq!(st.list_keys as usize, N.div_ceil(500));
    assert_eq!(st.get_key as usize, k);
    assert_eq!(inc.changed as usize, k);
    assert_eq!(s.history_len().unwrap(), history + k as i64);
    for id in &verified {
        let v = s.get_key(id, chrono::Utc::now()).unwrap().unwrap();
        assert_eq!(v.spark_7d.iter().sum::<i64>(), 1, "{id}");
    }

    // A full sync fetches every detail but still writes no row for unchanged keys.
    let full = sync(&c, &s, true).await;
    assert_eq!(full.details_fetched as usize, N);
    assert_eq!(full.changed, 0);
    assert_eq!(s.history_len().unwrap(), history + k as i64);
    let runs = s.runs(10).unwrap();
    assert_eq!(runs.len(), 4);
    assert!(runs.iter().all(|r| r.status == "ok"));
    s.integrity_check().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelled_sync_keeps_every_listed_key_and_the_next_fetches_only_owed_details() {
    const N: usize = 1_500;
    let sb = sandbox_with(
        N,
        Config {
            latency_ms: 2,
            ..Default::default()
        },
    )
    .await;
    let c = app_client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let s = file_store(&dir.path().join("k.db"), "test");
    let cancel = CancellationToken::new();
    let calls = AtomicU64::new(0);
    let listed_before_details = std::sync::atomic::AtomicBool::new(false);
    let progress = |p: keyward_core::model::sync::SyncProgress| {
        calls.fetch_add(1, Ordering::SeqCst);
        if p.phase == keyward_core::model::sync::SyncPhase::Details && p.details_done == 0 {
            // Every page is listed before the first detail.
            listed_before_details.store(
                p.pages == 3 && !p.more_pages && p.details_total == N as u64,
                Ordering::SeqCst,
            );
        }
        // Cancel in the middle of the details.
        if p.details_done > 700 {
            cancel.cancel();
        }
    };
    let e = run_sync(&c, &s, SyncOptions::default(), &progress, &cancel)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Cancelled);
    assert!(listed_before_details.load(Ordering::SeqCst));
    assert!(calls.load(Ordering::SeqCst) > 700);
    s.integrity_check().unwrap();
    let partial = s.key_states().unwrap();
    assert_eq!(partial.len(), N, "every listed key is kept");
    let owed = partial.values().filter(|k| k.needs_detail).count();
    assert!(owed > 0 && owed < N - 700, "{owed} owed");
    assert!(partial.values().all(|k| !k.gone));
    assert_eq!(s.runs(1).unwrap()[0].status, "cancelled");
    let views = s
        .list_keys(&KeyFilter::default(), chrono::Utc::now())
        .unwrap();
    for v in &views {
        assert_eq!(v.details_owed, v.key.verification_count.is_none(), "{v:?}");
    }

    sb.reset_stats();
    let next = sync(&c, &s, false).await;
    assert_eq!(next.status, "ok");
    assert_eq!(next.keys as usize, N);
    assert_eq!(next.new, 0, "every key was already listed");
    assert_eq!(sb.stats().get_key as usize, owed, "only the owed details");
    assert_eq!(
        s.history_len().unwrap() as usize,
        N,
        "no duplicate history rows"
    );
    assert!(s.key_states().unwrap().values().all(|k| !k.needs_detail));
    s.integrity_check().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_that_disappear_are_marked_gone() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sandbox.json");
    let sb = sandbox_with(
        30,
        Config {
            state_file: Some(state.clone()),
            ..Default::default()
        },
    )
    .await;
    let s = file_store(&dir.path().join("k.db"), "test");
    sync(&app_client(&sb), &s, false).await;
    sb.shutdown().await;

    let mut db: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let keys = db["keys"].as_object_mut().unwrap();
    let victim = keys.keys().next().unwrap().clone();
    keys.remove(&victim);
    std::fs::write(&state, serde_json::to_string(&db).unwrap()).unwrap();

    let sb = sandbox_with(
        0,
        Config {
            state_file: Some(state.clone()),
            ..Default::default()
        },
    )
    .await;
    let summary = sync(&app_client(&sb), &s, false).await;
    assert_eq!(summary.gone, 1);
    assert_eq!(summary.keys, 29);
    let v = s.get_key(&victim, chrono::Utc::now()).unwrap().unwrap();
    assert!(v.gone, "kept, marked gone");
    assert_eq!(s.key_states().unwrap().len(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sync_under_faults_and_a_low_rate_limit_completes() {
    const N: usize = 300;
    let cfg = Config {
        fault_rate: 0.1,
        rate_limit_per_min: Some(250),
        ..Default::default()
    };
    let sb = sandbox_with(N, cfg).await;
    let c = app_client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let s = file_store(&dir.path().join("k.db"), "test");
    let mut summary = sync(&c, &s, false).await;
    // Details that failed even after retries are owed; a second sync settles them.
    if summary.status != "ok" {
        summary = sync(&c, &s, false).await;
    }
    assert_eq!(summary.keys as usize, N);
    let states = s.key_states().unwrap();
    assert_eq!(states.len(), N);
    assert!(states.values().all(|k| !k.needs_detail));
    assert_eq!(
        s.history_len().unwrap() as usize,
        N,
        "no duplicate history rows"
    );
    s.integrity_check().unwrap();
    assert!(
        sb.stats().rate_limited > 0,
        "the rate limit was reached and waited out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_during_a_sync_sees_whole_pages() {
    const N: usize = 1_300;
    let sb = sandbox_with(
        N,
        Config {
            latency_ms: 1,
            ..Default::default()
        },
    )
    .await;
    let c = app_client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let s = file_store(&path, "test");
    // Another connection, as the app would have while the CLI syncs.
    let reader = SqliteStore::open(&path, "test").unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut sizes = std::collections::BTreeSet::new();
            while !done.load(Ordering::SeqCst) {
                let keys = reader
                    .list_keys(&KeyFilter::default(), chrono::Utc::now())
                    .unwrap();
                // List first: a key is either detailed or says its details are owed.
                assert!(
                    keys.iter()
                        .all(|k| k.key.verification_count.is_some() || k.details_owed)
                );
                sizes.insert(keys.len());
            }
            sizes
        })
    };
    let summary = sync(&c, &s, false).await;
    done.store(true, Ordering::SeqCst);
    let sizes = seen.join().unwrap();
    assert_eq!(summary.keys as usize, N);
    assert!(
        sizes.iter().all(|n| [0, 500, 1000, N].contains(n)),
        "{sizes:?}"
    );
    assert!(
        sizes.len() >= 2,
        "the reader ran during the sync: {sizes:?}"
    );
}
