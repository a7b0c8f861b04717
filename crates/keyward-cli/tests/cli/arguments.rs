//! What the real `keyward` binary refuses, and how it says so: domains and client ids that
//! DNS or Kinde would not accept, argument errors with a code and a hint in both output modes,
//! and hints that name the real cause.

use crate::support::{Env, run};
use kinde_sandbox::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domains_and_client_ids_no_dns_or_kinde_would_accept_are_refused() {
    let env = Env::new(Config::default()).await;
    let long_label = format!("{}.kinde.com", "a".repeat(300));
    let long_name = format!("{}.kinde.com", vec!["b".repeat(60); 5].join("."));
    for (domain, why) in [
        ("mybiz..kinde.com", "empty label"),
        (long_label.as_str(), "at most 63"),
        (long_name.as_str(), "at most 253"),
        ("my_biz.kinde.com", "contains '_'"),
        ("javascript:alert(1)", "\"javascript\" URL"),
    ] {
        let o = run(
            env.kw(),
            &[
                "profile",
                "add",
                "p",
                "--domain",
                domain,
                "--client-id",
                "abc123",
            ],
            None,
        );
        assert_eq!(o.code, 2, "{domain}: {}", o.stderr);
        assert!(
            o.stderr.contains("error[invalid_input]: domain"),
            "{}",
            o.stderr
        );
        assert!(o.stderr.contains(why), "{domain}: {}", o.stderr);
        assert!(!o.stderr.contains("port"), "{domain}: {}", o.stderr);
    }
    let o = run(
        env.kw(),
        &[
            "profile",
            "add",
            "p",
            "--domain",
            "mybiz.kinde.com",
            "--client-id",
            "ab\"c",
        ],
        None,
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("error[invalid_input]: client id"),
        "{}",
        o.stderr
    );
    assert!(!env.home().join("config/config.toml").exists());

    // The trailing dot of the DNS root is normalized away.
    let o = run(
        env.kw(),
        &[
            "--json",
            "profile",
            "add",
            "p",
            "--domain",
            "mybiz.kinde.com.",
            "--client-id",
            "abc123",
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let config = std::fs::read_to_string(env.home().join("config/config.toml")).unwrap();
    assert!(
        config.contains("domain = \"https://mybiz.kinde.com\"\n"),
        "{config}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argument_errors_have_a_code_and_a_hint_in_both_modes() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    for args in [
        &["export", "keys", "--format", "xml", "--out", "k.xml"][..],
        &["export", "keys", "--format", "csv", "--out", ""][..],
        &["keys", "list", "--no-such-flag"][..],
        &["no-such-command"][..],
    ] {
        let o = run(env.kw(), args, None);
        assert_eq!(o.code, 2, "{args:?}: {}", o.stderr);
        let first = o.stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error[invalid_input]: "),
            "{args:?}: {}",
            o.stderr
        );
        let hint = o
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("hint: "))
            .unwrap_or_else(|| panic!("{args:?}: no hint in {}", o.stderr));
        assert!(hint.contains("--help"), "{args:?}: {hint}");

        let mut json_args = vec!["--json"];
        json_args.extend_from_slice(args);
        let o = run(env.kw(), &json_args, None);
        assert_eq!(o.code, 2, "{args:?}: {}", o.stderr);
        let e = o.err_json();
        assert_eq!(e["code"], "invalid_input", "{args:?}");
        assert!(e["hint"].as_str().unwrap().contains("--help"), "{e}");
        assert!(!e["message"].as_str().unwrap().is_empty(), "{e}");
    }
    // `--format xml` names the values it takes, in the message or the hint.
    let o = run(
        env.kw(),
        &["export", "keys", "--format", "xml", "--out", "k.xml"],
        None,
    );
    assert!(
        o.stderr.contains("csv") && o.stderr.contains("json"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("Usage: keyward export"), "{}", o.stderr);
    // Help still prints as help, exit 0.
    let o = run(env.kw(), &["export", "--help"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("Usage:"), "{}", o.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_name_the_real_cause() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    // A bad API id: the example is an API id's source, never a key id.
    let o = run(
        env.kw(),
        &[
            "--json",
            "keys",
            "create",
            "--name",
            "x",
            "--api",
            "bad/id",
            "--scope",
            "read:data",
            "--org",
            "org_x",
        ],
        None,
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    let e = o.err_json();
    assert!(e["message"].as_str().unwrap().starts_with("api id"), "{e}");
    let hint = e["hint"].as_str().unwrap();
    assert!(
        hint.contains("keyward apis") && !hint.contains("api_key_"),
        "{hint}"
    );
}

/// A TLS failure on the very first `keys list` (nothing cached) says to trust the certificate,
/// not to run a sync that would fail the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_failure_on_a_first_keys_list_points_at_keyward_ca_cert() {
    let env = Env::new(Config {
        tls: true,
        ..Config::default()
    })
    .await;
    env.add_profile("tls");
    let o = run(env.kw(), &["--json", "keys", "list"], None);
    assert_eq!(o.code, 8, "{}", o.stderr);
    let e = o.err_json();
    assert_eq!(e["code"], "tls", "{e}");
    let hint = e["hint"].as_str().unwrap();
    assert!(hint.contains("KEYWARD_CA_CERT"), "{hint}");
    assert!(!hint.starts_with("Run `keyward sync` once"), "{hint}");
}

/// An argument that is not UTF-8 (`$'\xff'`) is `invalid_input` with a hint, exit 2, in both
/// output modes: never a panic (exit 101). `--out` takes any path, so a non-UTF-8 file name
/// gets as far as the missing profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_utf8_argument_is_invalid_input_not_a_panic() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let env = Env::new(Config::default()).await;
    let bad = || OsString::from_vec(vec![0xff]);
    let cases: Vec<Vec<OsString>> = vec![
        vec!["keys".into(), "list".into(), "--search".into(), bad()],
        vec!["--profile".into(), bad(), "keys".into(), "list".into()],
        vec![
            "keys".into(),
            "create".into(),
            "--name".into(),
            bad(),
            "--api".into(),
            "a".into(),
        ],
        vec!["keys".into(), "show".into(), bad()],
    ];
    for args in cases {
        for json in [false, true] {
            let mut c = env.bare();
            if json {
                c.arg("--json");
            }
            let o = c.args(&args).output().unwrap();
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            if json {
                let e: serde_json::Value = serde_json::from_str(stderr.trim()).unwrap();
                assert_eq!(e["code"], "invalid_input");
                assert_eq!(e["message"], "an argument is not valid UTF-8 text");
                assert!(e["hint"].as_str().unwrap().contains("UTF-8"), "{e}");
            } else {
                assert!(
                    stderr.contains("error[invalid_input]: an argument is not valid UTF-8 text"),
                    "{stderr}"
                );
                assert!(stderr.contains("hint: Give names"), "{stderr}");
            }
        }
    }
    // KEYWARD_PROFILE, the environment's form of --profile.
    let o = env
        .bare()
        .env("KEYWARD_PROFILE", bad())
        .args(["keys", "list"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    // --out is a path: any bytes are a name, and the command goes on (no profile here).
    let mut c = env.bare();
    let o = c
        .args(["export", "keys", "--format", "csv", "--out"])
        .arg(bad())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("error[profile_not_found]"), "{stderr}");
}
