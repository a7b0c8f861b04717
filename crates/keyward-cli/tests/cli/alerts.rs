//! Alerts and leak scans end to end against a real sandbox: every alert kind through
//! `keyward alerts --json`, and leak triage with `keyward scan`.

use std::collections::BTreeSet;

use crate::support::{Env, create, run};
use chrono::{Duration, Utc};
use keyward_core::store::{RawHistoryRow, SqliteStore};
use kinde_sandbox::{Config, EMPTY_API_ID, EMPTY_ORG_CODE};
use serde_json::Value;

fn sync(env: &Env) {
    let o = run(env.kw(), &["--json", "sync"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

fn alerts(env: &Env) -> (i32, Value) {
    let o = run(env.kw(), &["--json", "alerts", "--all"], None);
    assert!(o.code == 0 || o.code == 1, "{}", o.stderr);
    (o.code, o.json())
}

fn kinds_for(v: &Value, key: &str) -> BTreeSet<String> {
    v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["key_id"] == key)
        .map(|a| a["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_alert_kind_end_to_end() {
    let env = Env::new(Config {
        rng_seed: Some(21),
        ..Config::default()
    })
    .await;
    env.add_profile("sb");
    let org = ["--org", EMPTY_ORG_CODE];
    let busy = create(&env, "Busy", &org)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sleepy = create(&env, "Sleepy", &org)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dated = create(&env, "Dated", &org)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let soon = create(&env, "Soon", &org)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rotated = create(&env, "Rotated elsewhere", &org)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let o = run(
        env.kw(),
        &[
            "--json",
            "canary",
            "create",
            "--name",
            "Canary",
            "--api",
            EMPTY_API_ID,
            "--scope",
            "read:data",
            "--org",
            EMPTY_ORG_CODE,
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let canary = o.json()["id"].as_str().unwrap().to_string();
    assert!(o.json()["key"].as_str().unwrap().starts_with("k_live_"));

    // Past verifications: busy from one address, sleepy 40 days ago.
    let now = Utc::now();
    assert!(env.sb.verify_as(&busy, "203.0.113.5", now, 3));
    assert!(
        env.sb
            .verify_as(&sleepy, "203.0.113.6", now - Duration::days(40), 1)
    );
    // First sync: the baseline. No event alerts, only policy ones (sleepy is stale).
    sync(&env);
    let (code, v) = alerts(&env);
    assert_eq!(code, 0, "{v}");
    let kinds: Vec<&str> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["stale"], "{v}");

    // A baseline of 2 verifications an hour over two days for the busy key.
    let db = env
        .home()
        .join("data")
        .join("profiles")
        .join("sb")
        .join("keyward.db");
    let store = SqliteStore::open(&db, "sb").unwrap();
    let kid = store.kid_of(&busy).unwrap().unwrap();
    let first = now - Duration::hours(49);
    let rows: Vec<RawHistoryRow> = (0..48)
        .map(|h| RawHistoryRow {
            kid,
            at: (first + Duration::hours(h)).timestamp_millis(),
            verification_count: None,
            last_verified_on: None,
            last_verified_ip: Some("203.0.113.5".into()),
            status: keyward_core::model::key::KeyStatus::Active,
            delta: 2,
        })
        .collect();
    store.bulk_insert_history(&rows).unwrap();
    drop(store);

    // Policies: one key past its local expiry date, one within the warning period.
    for (id, on) in [
        (
            &dated,
            (now - Duration::days(1)).format("%Y-%m-%d").to_string(),
        ),
        (
            &soon,
            (now + Duration::days(3)).format("%Y-%m-%d").to_string(),
        ),
    ] {
        let o = run(
            env.kw(),
            &["--json", "policy", "expires", id, "--on", &on],
            None,
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
    }

    // What happens out there: a new IP and a spike on busy, sleepy wakes, the canary is used,
    // a key is rotated and another created in the portal, old keys appear (stale, due).
    assert!(env.sb.verify_as(&busy, "198.51.100.99", Utc::now(), 300));
    assert!(env.sb.verify_as(&sleepy, "203.0.113.6", Utc::now(), 1));
    assert!(env.sb.verify_as(&canary, "192.0.2.1", Utc::now(), 1));
    assert!(env.sb.portal_rotate(&rotated));
    let portal = env
        .sb
        .portal_create("Made in the portal", "Portal User")
        .unwrap();
    env.sb.add_keys(12);
    sync(&env);

    let (code, v) = alerts(&env);
    assert_eq!(code, 1, "high alerts are open: {v}");
    let busy_kinds = kinds_for(&v, &busy);
    assert!(busy_kinds.contains("new_ip"), "{busy_kinds:?}");
    assert!(busy_kinds.contains("spike"), "{busy_kinds:?}");
    assert_eq!(
        kinds_for(&v, &sleepy),
        BTreeSet::from(["dormant_wakes".into(), "stale".into()])
    );
    assert_eq!(
        kinds_for(&v, &canary),
        BTreeSet::from(["canary_tripped".into()])
    );
    assert_eq!(
        kinds_for(&v, &dated),
        BTreeSet::from(["rotation_due".into()])
    );
    assert_eq!(
        kinds_for(&v, &soon),
        BTreeSet::from(["expiry_coming".into()])
    );
    assert_eq!(kinds_for(&v, &rotated), BTreeSet::from(["drift".into()]));
    assert!(kinds_for(&v, &portal).contains("drift"));
    let all: BTreeSet<String> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_string())
        .collect();
    for k in [
        "new_ip",
        "dormant_wakes",
        "spike",
        "drift",
        "stale",
        "rotation_due",
        "expiry_coming",
        "canary_tripped",
    ] {
        assert!(all.contains(k), "no {k} alert: {all:?}");
    }
    let portal_alert = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key_id"] == portal.as_str())
        .unwrap();
    assert_eq!(portal_alert["evidence"]["created_by"], "Portal User");
    let canary_alert = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "canary_tripped")
        .unwrap();
    assert_eq!(canary_alert["severity"], "critical");
    assert_eq!(canary_alert["evidence"]["ip"], "192.0.2.1");

    // Drift is in the audit log as outside Keyward.
    let o = run(
        env.kw(),
        &["--json", "audit", "--action", "outside_keyward"],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let audit = o.json();
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key_id"] == portal.as_str() && a["details"]["created_by"] == "Portal User")
    );

    // No alert twice: another sync with nothing new raises nothing.
    let before = v["alerts"].as_array().unwrap().len();
    sync(&env);
    let (_, v) = alerts(&env);
    assert_eq!(v["alerts"].as_array().unwrap().len(), before);

    // --kind filters; ack and mute clear the exit code.
    let o = run(env.kw(), &["--json", "alerts", "--kind", "drift"], None);
    assert!(
        o.json()["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["kind"] == "drift")
    );
    let o = run(env.kw(), &["--json", "alerts", "--kind", "nope"], None);
    assert_eq!(o.code, 2);
    let highs: Vec<i64> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["severity"] == "high" && a["kind"] != "spike")
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    for id in highs {
        let o = run(
            env.kw(),
            &["--json", "alerts", "ack", &id.to_string()],
            None,
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    let o = run(
        env.kw(),
        &["--json", "alerts", "mute", "--kind", "spike"],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = run(
        env.kw(),
        &["--json", "alerts", "mute", "--key", &canary],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = run(env.kw(), &["--json", "alerts"], None);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert_eq!(o.json()["open_high"], 0);
    let o = run(env.kw(), &["alerts", "ack", "999999"], None);
    assert_eq!(o.code, 5, "{}", o.stderr);

    // Policy show/set.
    let o = run(
        env.kw(),
        &[
            "--json",
            "policy",
            "set",
            "--max-age-days",
            "60",
            "--warning-days",
            "7",
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json()["policy"]["max_key_age_days"], 60);
    let o = run(env.kw(), &["--json", "policy", "show"], None);
    assert_eq!(o.json()["stored"], true);
    assert_eq!(o.json()["policy"]["warning_days"], 7);
    let o = run(
        env.kw(),
        &["--json", "policy", "set", "--spike-factor", "0"],
        None,
    );
    assert_eq!(o.code, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_finds_a_planted_key_masked_and_rotates_it() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let created = create(&env, "Leaky", &["--org", EMPTY_ORG_CODE]);
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["key"].as_str().unwrap().to_string();
    sync(&env);

    let repo = tempfile::tempdir().unwrap();
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(repo.path())
        .status()
        .unwrap();
    assert!(git.success());
    std::fs::create_dir_all(repo.path().join("src")).unwrap();
    std::fs::write(
        repo.path().join("src").join("config.py"),
        format!("# settings\nAPI_URL = 'x'\nKINDE_KEY = \"{secret}\"\n"),
    )
    .unwrap();
    std::fs::write(repo.path().join(".gitignore"), "secret.env\n").unwrap();
    std::fs::write(repo.path().join("secret.env"), format!("KEY={secret}\n")).unwrap();

    let dir = repo.path().to_str().unwrap();
    let o = run(env.kw(), &["--json", "scan", dir], None);
    assert_eq!(o.code, 1, "findings exit 1: {}", o.stderr);
    assert!(!o.stdout.contains(&secret), "the secret is never printed");
    assert!(!o.stderr.contains(&secret));
    let r = o.json();
    let f = r["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "the .gitignored file is skipped: {r}");
    assert!(f[0]["path"].as_str().unwrap().ends_with("config.py"));
    assert_eq!(f[0]["line"], 3);
    assert_eq!(f[0]["unique"], true);
    assert_eq!(f[0]["matches"][0]["key_id"], id.as_str());
    assert_eq!(f[0]["matches"][0]["name"], "Leaky");
    assert_eq!(f[0]["matches"][0]["status"], "active");
    assert_eq!(
        f[0]["masked"].as_str().unwrap(),
        format!("k_live_…{}", &secret[secret.len() - 4..])
    );
    // Nothing was verified.
    assert_eq!(env.sb.stats().verify_key, 0);

    assert_eq!(
        f[0]["certainty"], "possible",
        "a suffix match is never sure"
    );

    // --rotate needs a person's confirmation, even with --yes: without a terminal nothing is
    // rotated.
    for args in [
        &["scan", dir, "--rotate"][..],
        &["scan", dir, "--rotate", "--yes"],
    ] {
        let o = run(env.kw(), args, None);
        assert_eq!(o.code, 2, "{}", o.stderr);
        assert!(o.stderr.contains("last 4 characters"), "{}", o.stderr);
    }
    assert_eq!(env.sb.stats().rotate_key, 0);
    if !crate::terminal::have_script() {
        eprintln!("skipped the confirmed rotate: `script` (util-linux) is not installed");
        return;
    }
    // On a terminal the question names the doubt; a yes rotates and audits the leak.
    let (code, shown) = crate::terminal::on_tty(
        &env,
        &format!("scan {dir} --rotate --yes"),
        "Type 'yes'",
        "yes\n",
        true,
    );
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("matched only by the last 4 characters"),
        "{shown}"
    );
    assert_eq!(env.sb.stats().rotate_key, 1);
    let o = run(env.kw(), &["--json", "audit", "--action", "leak"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let a = o.json();
    assert_eq!(a[0]["key_id"], id.as_str());
    assert_eq!(a[0]["details"]["action"], "rotate");
    assert!(
        a[0]["details"]["found_in"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("config.py")
    );
    assert!(!a.to_string().contains(&secret));
    // The store never holds the secret.
    for (p, bytes) in crate::support::all_files(env.home()) {
        assert!(
            !crate::support::contains(&bytes, &secret),
            "{} holds the secret",
            p.display()
        );
    }
}
