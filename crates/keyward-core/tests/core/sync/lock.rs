//! Two syncs of one profile at once, on 3,000 keys, through two store handles on one database
//! file (as the app and a `keyward sync`, or two CLIs, have): the second answers
//! `sync_in_progress` or waits, and no key is ever marked gone. Without the lock (two raw
//! `run_sync`s racing) still no key is marked gone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use keyward_core::ErrorCode;
use keyward_core::model::sync::{SyncOptions, SyncSummary};
use keyward_core::store::Store;
use keyward_core::sync::engine::run as run_sync;
use keyward_core::sync::run_store;
use kinde_sandbox::{Config, Sandbox};
use tokio_util::sync::CancellationToken;

use crate::support::{app_client, file_store, sandbox};

const N: usize = 3_000;

async fn keyed_sandbox() -> Sandbox {
    sandbox(Config {
        extra_keys: N,
        rng_seed: Some(11),
        ..Config::default()
    })
    .await
}

fn assert_all_present(s: &dyn Store) {
    let states = s.key_states().unwrap();
    assert_eq!(states.len(), N);
    let gone = states.values().filter(|k| k.gone).count();
    assert_eq!(gone, 0, "{gone} keys marked gone");
}

fn assert_clean(sum: &SyncSummary) {
    assert_eq!(sum.status, "ok", "{:?}", sum.errors);
    assert_eq!((sum.keys as usize, sum.gone), (N, 0), "{sum:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_sync_is_refused_or_waits_and_no_key_is_marked_gone() {
    let sb = keyed_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keyward.db");
    let a = file_store(&db, "prod");
    let b = file_store(&db, "prod");

    // Sync A stops in its first progress report (its run started, its first page listed)
    // until the test lets it go.
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let started_tx = Mutex::new(Some(started_tx));
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = Mutex::new(go_rx);
    let first = AtomicBool::new(true);
    let hold = move |_| {
        if first.swap(false, Ordering::SeqCst) {
            if let Some(tx) = started_tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
            let _ = go_rx.lock().unwrap().recv();
        }
    };
    let (ca, sa) = (app_client(&sb), Arc::clone(&a));
    let sync_a = tokio::spawn(async move {
        run_store(
            &ca,
            &sa,
            SyncOptions::default(),
            &hold,
            &CancellationToken::new(),
            false,
        )
        .await
    });
    started_rx.await.unwrap();

    // B does not wait: refused, with a hint, and it changed nothing (no run row).
    let cb = app_client(&sb);
    let e = run_store(
        &cb,
        &b,
        SyncOptions::default(),
        &|_| {},
        &CancellationToken::new(),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::SyncInProgress, "{e:?}");
    assert_eq!(e.code.exit_code(), 10);
    assert!(e.hint.contains("--wait"), "{}", e.hint);
    assert_eq!(b.runs_as_recorded(10).unwrap().len(), 1);

    // B waits: it starts only once A is over.
    let sb2 = Arc::clone(&b);
    let sync_b = tokio::spawn(async move {
        run_store(
            &cb,
            &sb2,
            SyncOptions::default(),
            &|_| {},
            &CancellationToken::new(),
            true,
        )
        .await
    });
    // A cancelled wait gives up without a run.
    let cancel = CancellationToken::new();
    cancel.cancel();
    let e = run_store(
        &app_client(&sb),
        &b,
        SyncOptions::default(),
        &|_| {},
        &cancel,
        true,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::Cancelled);

    go_tx.send(()).unwrap();
    let sum_a = sync_a.await.unwrap().unwrap();
    let sum_b = sync_b.await.unwrap().unwrap();
    assert_clean(&sum_a);
    assert_eq!(sum_a.new as usize, N);
    assert_clean(&sum_b);
    assert_eq!(sum_b.new, 0);
    assert!(sum_b.run_id > sum_a.run_id);
    let runs = a.runs(10).unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let (run_b, run_a) = (&runs[0], &runs[1]);
    assert!(
        run_b.started_at >= run_a.finished_at.unwrap(),
        "B ran after A: {runs:?}"
    );
    assert_all_present(&*a);
}

/// The bug as reported, below the lock: two `run_sync`s of a fresh store at once. Their pages
/// interleave and overwrite each other's `seen_run`; neither may mark a key gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_runs_without_the_lock_never_mark_keys_gone() {
    let sb = keyed_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keyward.db");
    let a = file_store(&db, "prod");
    let b = file_store(&db, "prod");
    let (ca, cb) = (app_client(&sb), app_client(&sb));
    let opts = SyncOptions::default();
    let never = CancellationToken::new();
    let (ra, rb) = tokio::join!(
        run_sync(&ca, &a, opts, &|_| {}, &never),
        run_sync(&cb, &b, opts, &|_| {}, &never),
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    eprintln!(
        "racing runs: A {} new {} gone, B {} new {} gone",
        ra.new, ra.gone, rb.new, rb.gone
    );
    assert_clean(&ra);
    assert_clean(&rb);
    assert_all_present(&*a);
}
