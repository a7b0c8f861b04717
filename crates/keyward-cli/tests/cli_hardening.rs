//! Hardening of the real `keyward` binary against a real sandbox: one sync per profile at a
//! time (`sync_in_progress`, `--wait`, no key ever marked gone by two syncs), killed syncs
//! shown as interrupted, and server text that never reaches the terminal raw.

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};

use common::{Env, run};
use keyward_core::store::{INTERRUPTED, Store, SyncLock};
use kinde_sandbox::{Config, EMPTY_API_ID, EMPTY_USER_ID};
use serde_json::{Value, json};

const N: usize = 3_000;

fn db_path(env: &Env, profile: &str) -> std::path::PathBuf {
    Store::path_for(&env.home().join("data"), profile)
}

/// Takes the profile's sync lock from this test process, as another sync would hold it.
fn hold_lock(env: &Env, profile: &str) -> (Store, SyncLock) {
    let s = Store::open(&db_path(env, profile), profile).unwrap();
    let lock = s.try_lock_sync().unwrap().expect("the lock is free");
    (s, lock)
}

/// `keyward` as a std Command (for children that run alongside the test).
fn kw_process(env: &Env) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("keyward"));
    c.env("KEYWARD_HOME", env.home())
        .env_remove("KEYWARD_PROFILE")
        .env("KEYWARD_CLIENT_SECRET", env.sb.client_secret())
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/keyward-test-bus",
        )
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sync_per_profile_refused_or_waited_and_no_key_marked_gone() {
    let env = Env::new(Config {
        extra_keys: N,
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
    let mut waiting = kw_process(&env)
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
        stdout.contains(&format!("Synced {N} keys ({N} new, 0 changed, 0 gone)")),
        "{stdout}"
    );

    // keys list while a sync runs: the cache answers, with the warning.
    let (_store2, lock) = hold_lock(&env, "sb");
    let o = run(env.kw(), &["--json", "keys", "list"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json().as_array().unwrap().len(), N);
    assert!(
        o.stderr.contains("warning[sync_in_progress]"),
        "{}",
        o.stderr
    );
    drop(lock);

    // Two syncs at once (full, so both take long): each succeeds or is refused, never both
    // run at once, and nothing is gone.
    let spawn = || {
        kw_process(&env)
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
                    (Some(N as u64), Some(0))
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
    assert_eq!(o.json()["keys"], N, "{}", o.stdout);
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
    let mut child = kw_process(&env)
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
            && let Ok(s) = Store::open(&db, "sb")
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

/// True for a character that must not reach a terminal raw.
fn raw_control(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// A key created straight through the sandbox's API (Keyward refuses such names).
async fn create_raw(env: &Env, name: &str) -> String {
    let http = reqwest::Client::new();
    let base = env.sb.base_url();
    let tok: Value = http
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", env.sb.client_id()),
            ("client_secret", env.sb.client_secret()),
            ("audience", &format!("{base}/api")),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .post(format!("{base}/api/v1/api_keys"))
        .bearer_auth(tok["access_token"].as_str().unwrap())
        .json(&json!({
            "name": name, "type": "user", "api_id": EMPTY_API_ID,
            "scope_ids": ["read:data"], "user_id": EMPTY_USER_ID,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "the sandbox accepts the name");
    let v: Value = r.json().await.unwrap();
    v["api_key"]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_text_never_reaches_the_terminal_raw() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let hostile = "evil\u{1b}[2J\u{1b}]0;pwned\u{7}\nforged-row\u{202e}exe.txt\u{9b}";
    let id = create_raw(&env, hostile).await;

    for args in [
        vec!["keys", "list"],
        vec!["keys", "show", &id],
        vec!["audit"],
        vec!["insights"],
    ] {
        let o = run(env.kw(), &args, None);
        assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
        for (what, text) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            assert!(
                !text.chars().any(raw_control),
                "{args:?} {what} holds a raw control: {text:?}"
            );
        }
        if args[0] == "keys" {
            assert!(
                o.stdout
                    .contains("evil\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\nforged-row\\u{202e}exe.txt"),
                "{args:?}: {}",
                o.stdout
            );
        }
    }
    // One row per key: the newline did not forge a second one.
    let o = run(env.kw(), &["keys", "list"], None);
    assert_eq!(o.stdout.lines().count(), 2, "{}", o.stdout);

    // JSON stays exact.
    let o = run(env.kw(), &["--json", "keys", "list"], None);
    assert_eq!(o.json()[0]["name"], hostile);
    let o = run(env.kw(), &["--json", "keys", "show", &id], None);
    assert_eq!(o.json()["name"], hostile);

    // Keyward itself refuses bidi controls in a name, as it refuses other controls.
    for bad in [
        "invoice\u{202e}txt.exe",
        "a\u{2066}b",
        "a\u{200f}b",
        "a\u{1b}[2Jb",
    ] {
        let o = run(
            env.kw(),
            &common::create_args(bad, &["--user", EMPTY_USER_ID]),
            None,
        );
        assert_eq!(o.code, 2, "{bad:?}: {}", o.stderr);
        assert!(
            o.stderr.contains("error[invalid_input]: name"),
            "{}",
            o.stderr
        );
        assert!(!o.stderr.chars().any(raw_control), "{:?}", o.stderr);
    }
}
