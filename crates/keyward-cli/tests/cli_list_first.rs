//! List-first sync through the real `keyward` binary (issue 8): a `keyward sync` killed right
//! after its list pages (the sandbox makes every detail take 60 s) leaves every key in the
//! store, and `keys list --offline --json` shows each with its name, status, prefix and suffix,
//! `details_owed: true` and no made-up count; the next sync fetches only the owed details.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Env, run};
use kinde_sandbox::{Config, Sandbox};
use serde_json::Value;

const N: usize = 1_200;
const SLOW_DETAIL_MS: u64 = 60_000;

fn spawn_sync(env: &Env) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("keyward"))
        .args(["--json", "sync"])
        .env("KEYWARD_HOME", env.home())
        .env_remove("KEYWARD_PROFILE")
        .env("KEYWARD_CLIENT_SECRET", env.sb.client_secret())
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/keyward-test-bus",
        )
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
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
        extra_keys: N,
        rng_seed: Some(8),
        detail_latency_ms: SLOW_DETAIL_MS,
        ..Config::default()
    })
    .await;
    env.add_profile("sb");
    let pages = N.div_ceil(500) as u64;

    // 1. A first sync, killed (SIGKILL) once it asks for details.
    env.sb.reset_stats();
    let mut child = spawn_sync(&env);
    wait_for_details(&env.sb, pages, &mut child).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let keys = offline_keys(&env);
    assert_eq!(keys.len(), N, "every listed key is in the store");
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
    assert_eq!(st.get_key as usize, N, "the {N} owed details");
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
    assert_eq!(keys.len(), N);
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
