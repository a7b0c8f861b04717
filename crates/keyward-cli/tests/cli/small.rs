//! The small things of a hardening round: ids the store does not know are refused with a
//! hint to sync (`canary mark`, `policy expires`, `alerts mute --key`), `--limit 0` is refused
//! (never "one row"), a domain with port 0 is refused, `--out -` writes to standard output,
//! and an `--out` name near NAME_MAX is written.

use kinde_sandbox::{Config, EMPTY_ORG_CODE};

use crate::support::{Env, create, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_limit_zero_port_zero_and_out() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let o = run(env.kw(), &["sync"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);

    // Unknown ids: not_found (exit 5) with a hint to sync; nothing is marked.
    for args in [
        vec!["canary", "mark", "api_key_nope"],
        vec!["policy", "expires", "api_key_nope", "--on", "2030-01-01"],
        vec!["alerts", "mute", "--key", "api_key_nope"],
    ] {
        let o = run(env.kw(), &args, None);
        assert_eq!(o.code, 5, "{args:?}: {}", o.stderr);
        assert!(
            o.stderr
                .contains("error[not_found]: no key api_key_nope is known here"),
            "{}",
            o.stderr
        );
        assert!(o.stderr.contains("keyward sync"), "{}", o.stderr);
    }
    let o = run(env.kw(), &["--json", "alerts", "mutes"], None);
    if o.code == 0 {
        assert!(!o.stdout.contains("api_key_nope"), "{}", o.stdout);
    }
    // A known key is marked.
    let k = create(&env, "Canary", &["--org", EMPTY_ORG_CODE]);
    let id = k["id"].as_str().unwrap();
    let o = run(env.kw(), &["canary", "mark", id], None);
    assert_eq!(o.code, 0, "{}", o.stderr);

    // --limit 0 is refused, not taken as one row.
    for args in [
        vec!["sync", "status", "--limit", "0"],
        vec!["alerts", "--limit", "0"],
        vec!["audit", "--limit", "0"],
    ] {
        let o = run(env.kw(), &args, None);
        assert_eq!(o.code, 2, "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains("error[invalid_input]"), "{}", o.stderr);
        assert!(o.stderr.contains("0"), "{}", o.stderr);
        assert!(o.stdout.is_empty(), "{}", o.stdout);
    }
    let o = run(
        env.kw(),
        &["--json", "sync", "status", "--limit", "1"],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json().as_array().unwrap().len(), 1);

    // Port 0 is no server's port.
    let o = run(
        env.kw(),
        &[
            "profile",
            "add",
            "zero",
            "--domain",
            "http://127.0.0.1:0",
            "--client-id",
            "abc123",
        ],
        None,
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("port 0"), "{}", o.stderr);

    // --out -: the CSV on standard output, and nothing else there.
    let o = run(
        env.kw(),
        &["export", "keys", "--format", "csv", "--out", "-"],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.starts_with("id,"), "{}", o.stdout);
    assert!(o.stdout.contains(id), "{}", o.stdout);
    assert!(o.stderr.contains("to standard output"), "{}", o.stderr);
    assert!(!std::path::Path::new("-").exists(), "no file named -");
    let o = run(
        env.kw(),
        &["--json", "export", "keys", "--format", "json", "--out", "-"],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v = o.json();
    assert!(v.to_string().contains(id), "{v}");

    // A valid 245-character name.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("{}.csv", "k".repeat(241)));
    let o = run(
        env.kw(),
        &[
            "export",
            "keys",
            "--format",
            "csv",
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(std::fs::read_to_string(&out).unwrap().contains(id));
}
