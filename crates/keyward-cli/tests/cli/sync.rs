//! `keyward sync` through the real binary: one sync per profile at a time
//! (`sync_in_progress`, `--wait`, no key ever marked gone by two syncs), a killed sync shown as
//! interrupted, and list-first: a sync killed right after its list pages (the sandbox makes
//! every detail take 60 s) leaves every key in the store, `keys list --offline --json` shows
//! each with its name, status, prefix and suffix, `details_owed: true` and no made-up count,
//! and the next sync fetches only the owed details.

use std::io::BufRead;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::support::{Env, run};
use keyward_core::store::{INTERRUPTED, SqliteStore, SyncLock};
use kinde_sandbox::{Config, Sandbox};
use serde_json::Value;

const MANY_KEYS: usize = 3_000;

fn db_path(env: &Env, profile: &str) -> std::path::PathBuf {
    SqliteStore::path_for(&env.home().join("data"), profile)
}

/// Takes the profile's sync lock from this test process, as another sync would hold it.
fn hold_lock(env: &Env, profile: &str) -> (SqliteStore, SyncLock) {
    let s = SqliteStore::open(&db_path(env, profile), profile).unwrap();
    let lock = s.try_lock_sync().unwrap().expect("the lock is free");
    (s, lock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sync_per_profile_refused_or_waited_and_no_key_marked_gone() {
    let env = Env::new(Config {
        extra_keys: MANY_KEYS,
        rng_seed: Some(5),
        ..Config::default()
    })
    .await;
    env.add_profile("sb");

    // Another sync holds the lock: refused at once, exit 10, code and hint.
    let (store, lock) = hold_lock(&env, "sb");
    let o = run(env.kw(), &["sync"], None);
    assert_eq!(o.code, 10, "{}", o.stderr);
    assert!(o.stderr.contains("error[sync_in_progress]"), "{}", o.stderr);
    assert!(o.stderr.contains("hint: ") && o.stderr.contains("--wait"));
    let o = run(env.kw(), &["--json", "sync"], None);
    assert_eq!(o.code, 10);
    assert_eq!(o.err_json()["code"], "sync_in_progress");
    assert!(store.runs(10).unwrap().is_empty(), "nothing was started");

    // --wait: says it waits, and syncs once the other sync is over.
    let mut waiting = env
        .process()
        .args(["sync", "--wait"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = waiting.stderr.take().unwrap();
    let (said_tx, said_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(err).lines().map_while(Result::ok);
        for l in lines.by_ref() {
            if l.contains("waiting for it to end") {
                let _ = said_tx.send(());
                break;
            }
        }
        lines.collect::<Vec<_>>().join("\n")
    });
    said_rx.recv().expect("keyward sync --wait says it waits");
    assert!(waiting.try_wait().unwrap().is_none(), "still waiting");
    drop(lock);
    let out = waiting.wait_with_output().unwrap();
    let rest = reader.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{rest}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "Synced {MANY_KEYS} keys ({MANY_KEYS} new, 0 changed, 0 gone)"
        )),
        "{stdout}"
    );

    // keys list while a sync runs: the cache answers, with the warning.
    let (_store2, lock) = hold_lock(&env, "sb");
    let o = run(env.kw(), &["--json", "keys", "list"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json().as_array().unwrap().len(), MANY_KEYS);
    assert!(
        o.stderr.contains("warning[sync_in_progress]"),
        "{}",
        o.stderr
    );
    drop(lock);

    // Two syncs at once (full, so both take long): each succeeds or is refused, never both
    // run at once, and nothing is gone.
    let spawn = || {
        env.process()
            .args(["--json", "sync", "--full"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (one, two) = (spawn(), spawn());
    let mut ok = 0;
    for child in [one, two] {
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        );
        match out.status.code() {
            Some(0) => {
                ok += 1;
                let s: Value = serde_json::from_str(&stdout).unwrap();
                assert_eq!(
                    (s["keys"].as_u64(), s["gone"].as_u64()),
                    (Some(MANY_KEYS as u64), Some(0))
                );
            }
            Some(10) => assert!(stderr.contains("sync_in_progress"), "{stderr}"),
            other => panic!("exit {other:?}: {stderr}"),
        }
    }
    assert!(ok >= 1);
    let o = run(
        env.kw(),
        &["--json", "sync", "status", "--limit", "50"],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let runs = o.json();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1 + ok);
    assert!(
        runs.iter()
            .all(|r| r["status"] == "ok" && r["keys_gone"] == 0),
        "{runs:?}"
    );
    let o = run(env.kw(), &["--json", "insights"], None);
    assert_eq!(o.json()["keys"], MANY_KEYS, "{}", o.stdout);
    let o = run(env.kw(), &["sync", "status"], None);
    assert!(
        o.stdout.starts_with("RUN") && o.stdout.contains("ok"),
        "{}",
        o.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sync_shows_interrupted() {
    // Slow answers: the sync is still running when it is killed.
    let env = Env::new(Config {
        extra_keys: 300,
        latency_ms: 100,
        rng_seed: Some(6),
        ..Config::default()
    })
    .await;
    env.add_profile("sb");
    let mut child = env
        .process()
        .args(["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let db = db_path(&env, "sb");
    // Wait for its run to be recorded (bounded, not timed: 3000 looks at most).
    let mut seen = false;
    for _ in 0..3000 {
        if db.exists()
            && let Ok(s) = SqliteStore::open(&db, "sb")
            && s.runs_as_recorded(1)
                .unwrap()
                .first()
                .is_some_and(|r| r.status == "running")
        {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(seen, "the sync started a run");
    child.kill().unwrap();
    child.wait().unwrap();

    let o = run(env.kw(), &["--json", "sync", "status"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let runs = o.json();
    assert_eq!(runs[0]["status"], INTERRUPTED, "{runs}");
    assert_eq!(runs[0]["finished_at"], Value::Null);
    let o = run(env.kw(), &["sync", "status"], None);
    assert!(o.stdout.contains(INTERRUPTED), "{}", o.stdout);
    assert!(o.stderr.contains("died"), "{}", o.stderr);
}

const LIST_FIRST_KEYS: usize = 1_200;
const SLOW_DETAIL_MS: u64 = 60_000;

fn spawn_sync(env: &Env) -> Child {
    env.process()
        .args(["--json", "sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until the sandbox has answered every list page and received a first detail request:
/// the sync is past its listing. (A guard of 5 minutes stops a test that would hang.)
async fn wait_for_details(sb: &Sandbox, pages: u64, child: &mut Child) {
    for _ in 0..6_000 {
        let st = sb.stats();
        if st.list_keys >= pages && st.get_key >= 1 {
            return;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sync ended before its details"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the sync never reached its details: {:?}", sb.stats());
}

fn offline_keys(env: &Env) -> Vec<Value> {
    let o = run(env.kw(), &["--json", "keys", "list", "--offline"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.json().as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_cut_off_after_its_list_pages_keeps_every_key_and_the_next_fetches_only_owed() {
    let env = Env::new(Config {
        extra_keys: LIST_FIRST_KEYS,
        rng_seed: Some(8),
        detail_latency_ms: SLOW_DETAIL_MS,
        ..Config::default()
    })
    .await;
    env.add_profile("sb");
    let pages = LIST_FIRST_KEYS.div_ceil(500) as u64;

    // 1. A first sync, killed (SIGKILL) once it asks for details.
    env.sb.reset_stats();
    let mut child = spawn_sync(&env);
    wait_for_details(&env.sb, pages, &mut child).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let keys = offline_keys(&env);
    assert_eq!(
        keys.len(),
        LIST_FIRST_KEYS,
        "every listed key is in the store"
    );
    for k in &keys {
        for field in ["id", "name", "status", "key_prefix", "key_suffix"] {
            let v = k[field].as_str().unwrap_or_default();
            assert!(!v.is_empty(), "{field} missing: {k}");
        }
        assert_eq!(k["details_owed"], true, "{k}");
        assert!(k["verification_count"].is_null(), "never a made-up 0: {k}");
        assert_eq!(k["gone"], false);
    }

    // 2. Fast details again: the next sync fetches the owed ones, and only those.
    env.sb.set_detail_latency_ms(0);
    env.sb.reset_stats();
    let o = run(env.kw(), &["--json", "sync"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let st = env.sb.stats();
    assert_eq!(st.list_keys, pages);
    assert_eq!(
        st.get_key as usize, LIST_FIRST_KEYS,
        "the {LIST_FIRST_KEYS} owed details"
    );
    assert_eq!(o.json()["new"], 0, "every key was already listed");
    let keys = offline_keys(&env);
    assert!(keys.iter().all(|k| k["details_owed"] == false));
    assert!(keys.iter().all(|k| k["verification_count"].is_u64()));

    // 3. Some keys verified since; the next sync is cut off after its listing again: they
    //    show their new last verification at once, owe their details, keep their old count.
    let verified = env.sb.simulate_verifications(7);
    assert_eq!(verified.len(), 7);
    let before: std::collections::HashMap<String, Value> = keys
        .iter()
        .map(|k| (k["id"].as_str().unwrap().to_string(), k.clone()))
        .collect();
    env.sb.set_detail_latency_ms(SLOW_DETAIL_MS);
    env.sb.reset_stats();
    let mut child = spawn_sync(&env);
    wait_for_details(&env.sb, pages, &mut child).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let keys = offline_keys(&env);
    assert_eq!(keys.len(), LIST_FIRST_KEYS);
    let owed: Vec<&Value> = keys.iter().filter(|k| k["details_owed"] == true).collect();
    let mut owed_ids: Vec<&str> = owed.iter().map(|k| k["id"].as_str().unwrap()).collect();
    owed_ids.sort();
    let mut want: Vec<&str> = verified.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(owed_ids, want, "exactly the verified keys owe details");
    for k in &owed {
        let old = &before[k["id"].as_str().unwrap()];
        assert_eq!(k["verification_count"], old["verification_count"], "{k}");
        assert_ne!(k["last_verified_on"], old["last_verified_on"], "{k}");
    }

    // 4. The next sync fetches exactly those 7.
    env.sb.set_detail_latency_ms(0);
    env.sb.reset_stats();
    let o = run(env.kw(), &["--json", "sync"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(env.sb.stats().get_key, 7);
    assert_eq!(env.sb.stats().list_keys, pages);
    let keys = offline_keys(&env);
    assert!(keys.iter().all(|k| k["details_owed"] == false));
    for id in &verified {
        let k = keys.iter().find(|k| k["id"] == id.as_str()).unwrap();
        let old = before[id.as_str()]["verification_count"].as_u64().unwrap();
        assert_eq!(k["verification_count"].as_u64().unwrap(), old + 1, "{k}");
    }
}
