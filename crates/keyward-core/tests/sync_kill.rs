//! A sync process killed with SIGKILL at random points, 20 times: after each kill the database
//! passes `PRAGMA integrity_check`, and the next sync completes with every key stored and no
//! duplicate history row.
//!
//! The child process is this test binary itself, re-run with only `child_sync` selected and
//! the sandbox URL and database path in its environment.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use keyward_core::kinde::{Client, ClientConfig};
use keyward_core::secret::Secret;
use keyward_core::store::Store;
use keyward_core::sync::{SyncOptions, run_sync};
use rand::Rng;
use tokio_util::sync::CancellationToken;

const URL_VAR: &str = "KW_KILL_CHILD_URL";
const DB_VAR: &str = "KW_KILL_CHILD_DB";
const N: usize = 600;

fn client(base: &str) -> Client {
    let url = url::Url::parse(base).unwrap();
    let cfg = kinde_sandbox::Config::default();
    Client::new(ClientConfig::new(
        url,
        cfg.client_id,
        Secret::new(cfg.client_secret),
    ))
    .unwrap()
}

/// The child: syncs (alternating full and incremental) until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by sync_killed_at_random_points as a child process"]
async fn child_sync() {
    let (Ok(url), Ok(db)) = (std::env::var(URL_VAR), std::env::var(DB_VAR)) else {
        return;
    };
    let c = client(&url);
    let s = Arc::new(Store::open(std::path::Path::new(&db), "kill").unwrap());
    for round in 0u32.. {
        let opts = SyncOptions {
            full: round % 2 == 1,
            // Small pages: more commits, so kills land between and inside many of them.
            page_size: 100,
            ..Default::default()
        };
        let _ = run_sync(&c, &s, opts, &|_| {}, &CancellationToken::new()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_killed_at_random_points() {
    let cfg = kinde_sandbox::Config {
        extra_keys: N,
        rng_seed: Some(9),
        ..Default::default()
    };
    let sb = kinde_sandbox::spawn("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill.db");
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rng();
    let mut kills = 0;
    for _ in 0..20 {
        let mut child = Command::new(&exe)
            .args(["child_sync", "--exact", "--ignored", "--test-threads=1"])
            .env(URL_VAR, sb.base_url())
            .env(DB_VAR, &db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..5000))).await;
        if child.try_wait().unwrap().is_none() {
            kills += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if db.exists() {
            let s = Store::open(&db, "kill").unwrap();
            s.integrity_check().unwrap();
        }
    }
    assert_eq!(kills, 20, "every child was still running when killed");

    let s = Arc::new(Store::open(&db, "kill").unwrap());
    s.integrity_check().unwrap();
    let killed_runs = s
        .runs(1000)
        .unwrap()
        .iter()
        .filter(|r| r.status == "running")
        .count();
    eprintln!(
        "{killed_runs} runs killed mid-way; {} keys stored before the last sync",
        s.key_states().unwrap().len()
    );
    assert!(killed_runs > 0, "some kills landed inside a sync");
    let summary = run_sync(
        &client(&sb.base_url()),
        &s,
        SyncOptions::default(),
        &|_| {},
        &CancellationToken::new(),
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
