//! A sync process killed with SIGKILL at random points, 20 times: after each kill the database
//! passes `PRAGMA integrity_check`, the killed runs read `interrupted` (never `running` for
//! ever), the kill released the sync lock, and the next sync completes with every key stored
//! and no duplicate history row.
//!
//! The child process is this test binary itself, re-run with only `child_sync` (or
//! `child_sync_hangs`) selected and the sandbox URL and database path in its environment.

mod support;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use keyward_core::model::sync::SyncOptions;
use keyward_core::store::{INTERRUPTED, SqliteStore};
use keyward_core::sync::run_store;
use rand::Rng;
use tokio_util::sync::CancellationToken;

use support::{app_client_for, file_store, sandbox};

const URL_VAR: &str = "KW_KILL_CHILD_URL";
const DB_VAR: &str = "KW_KILL_CHILD_DB";
const N: usize = 600;

/// The child: syncs (alternating full and incremental) until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by sync_killed_at_random_points as a child process"]
async fn child_sync() {
    let (Ok(url), Ok(db)) = (std::env::var(URL_VAR), std::env::var(DB_VAR)) else {
        return;
    };
    let c = app_client_for(&url);
    let s = file_store(std::path::Path::new(&db), "kill");
    for round in 0u32.. {
        let opts = SyncOptions {
            full: round % 2 == 1,
            // Small pages: more commits, so kills land between and inside many of them.
            page_size: 100,
            ..Default::default()
        };
        // The way the app and the CLI sync: under the profile's sync lock.
        let _ = run_store(&c, &s, opts, &|_| {}, &CancellationToken::new(), false).await;
    }
}

const HUNG: &str = "KW_CHILD_SYNC_IS_RUNNING";

/// The child of `killed_sync_reads_interrupted_and_frees_the_lock`: a real sync that stops in
/// its first progress report (after its run started and its first page was listed), says so
/// on stdout, and waits there to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by killed_sync_reads_interrupted_and_frees_the_lock as a child process"]
async fn child_sync_hangs() {
    let (Ok(url), Ok(db)) = (std::env::var(URL_VAR), std::env::var(DB_VAR)) else {
        return;
    };
    let c = app_client_for(&url);
    let s = file_store(std::path::Path::new(&db), "kill");
    let hang = |_| {
        println!("{HUNG}");
        loop {
            std::thread::sleep(Duration::from_secs(60));
        }
    };
    let _ = run_store(
        &c,
        &s,
        SyncOptions::default(),
        &hang,
        &CancellationToken::new(),
        false,
    )
    .await;
}

fn spawn_child(name: &str, url: &str, db: &std::path::Path, stdout: Stdio) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            name,
            "--exact",
            "--ignored",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(URL_VAR, url)
        .env(DB_VAR, db)
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A syncing child: its run reads `running` and its lock is held while it lives; killed, the
/// run reads `interrupted` (finished_at unknown), and a sync that does not wait starts at
/// once, because the OS released the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_sync_reads_interrupted_and_frees_the_lock() {
    let cfg = kinde_sandbox::Config {
        extra_keys: 50,
        rng_seed: Some(3),
        ..Default::default()
    };
    let sb = sandbox(cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill.db");
    let mut child = spawn_child("child_sync_hangs", &sb.base_url(), &db, Stdio::piped());
    let out = child.stdout.take().unwrap();
    let said = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.contains(HUNG))
    })
    .await
    .unwrap();
    assert!(said, "the child reported its sync running");

    let s = file_store(&db, "kill");
    let runs = s.runs(10).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, "running", "a live sync is not interrupted");
    assert!(
        s.try_lock_sync().unwrap().is_none(),
        "the child holds the lock"
    );
    let e = run_store(
        &app_client_for(&sb.base_url()),
        &s,
        SyncOptions::default(),
        &|_| {},
        &CancellationToken::new(),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, keyward_core::ErrorCode::SyncInProgress);
    assert!(!e.hint.is_empty());
    assert_eq!(
        s.runs(10).unwrap().len(),
        1,
        "the refused sync started no run"
    );

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let runs = s.runs(10).unwrap();
    assert_eq!(runs[0].status, INTERRUPTED);
    assert_eq!(runs[0].finished_at, None);
    assert_eq!(s.runs_as_recorded(10).unwrap()[0].status, INTERRUPTED);

    let summary = run_store(
        &app_client_for(&sb.base_url()),
        &s,
        SyncOptions::default(),
        &|_| {},
        &CancellationToken::new(),
        false,
    )
    .await
    .expect("the kill released the lock");
    assert_eq!(summary.status, "ok");
    assert_eq!(summary.keys, 50);
    let statuses: Vec<String> = s.runs(10).unwrap().into_iter().map(|r| r.status).collect();
    assert_eq!(statuses, ["ok", INTERRUPTED]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_killed_at_random_points() {
    let cfg = kinde_sandbox::Config {
        extra_keys: N,
        rng_seed: Some(9),
        ..Default::default()
    };
    let sb = sandbox(cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill.db");
    let mut rng = rand::rng();
    let mut kills = 0;
    for _ in 0..20 {
        let mut child = spawn_child("child_sync", &sb.base_url(), &db, Stdio::null());
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..5000))).await;
        if child.try_wait().unwrap().is_none() {
            kills += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if db.exists() {
            let s = SqliteStore::open(&db, "kill").unwrap();
            s.integrity_check().unwrap();
        }
    }
    assert_eq!(kills, 20, "every child was still running when killed");

    let s = file_store(&db, "kill");
    s.integrity_check().unwrap();
    let count = |runs: &[keyward_core::model::sync::SyncRunRecord], status: &str| {
        runs.iter().filter(|r| r.status == status).count()
    };
    // Each child's sync recorded the runs of the children killed before it as interrupted;
    // only the last kill's run can still say `running` in the table.
    let recorded = s.runs_as_recorded(1000).unwrap();
    assert!(count(&recorded, "running") <= 1, "{recorded:?}");
    let shown = s.runs(1000).unwrap();
    let killed_runs = count(&shown, INTERRUPTED);
    eprintln!(
        "{killed_runs} runs killed mid-way (interrupted), {} finished; {} keys stored before \
         the last sync",
        shown.len() - killed_runs,
        s.key_states().unwrap().len()
    );
    assert!(killed_runs > 0, "some kills landed inside a sync");
    assert_eq!(count(&shown, "running"), 0, "no dead run reads running");
    // The last kill released the lock: a sync that does not wait starts at once.
    let summary = run_store(
        &app_client_for(&sb.base_url()),
        &s,
        SyncOptions::default(),
        &|_| {},
        &CancellationToken::new(),
        false,
    )
    .await
    .unwrap();
    assert_eq!(summary.status, "ok");
    assert_eq!(summary.keys as usize, N);
    let states = s.key_states().unwrap();
    assert_eq!(states.len(), N);
    assert!(states.values().all(|k| !k.needs_detail && !k.gone));
    assert_eq!(
        s.history_len().unwrap() as usize,
        N,
        "one baseline row per key, no duplicates"
    );
}
