//! `keyward profile ...` and the error contract (code, hint, exit code).

use crate::support::{Env, run};
use keyward_core::config::{ConfigFile, Paths};
use kinde_sandbox::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_list_remove_and_bad_domains() {
    let env = Env::new(Config::default()).await;
    let o = run(
        env.bare(),
        &[
            "profile",
            "add",
            "acme",
            "--domain",
            "acme.kinde.com",
            "--client-id",
            "abc123",
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("KEYWARD_CLIENT_SECRET"),
        "warns that there is no secret"
    );

    for (domain, what) in [
        ("https://acme.kinde.com/api", "path"),
        ("acme kinde.com", "space"),
        ("http://acme.kinde.com", "plain http"),
        ("https://acme.kinde.com?x=1", "query"),
    ] {
        let add = [
            "profile",
            "add",
            "bad",
            "--domain",
            domain,
            "--client-id",
            "abc",
        ];
        let o = run(env.bare(), &add, None);
        assert_eq!(o.code, 2, "{what}: {}", o.stderr);
        assert!(
            o.stderr.starts_with("error[invalid_input]: domain"),
            "{what}: {}",
            o.stderr
        );
        assert!(o.stderr.contains("\nhint: "), "{what}: {}", o.stderr);
        let o = run(env.bare(), &[&["--json"][..], &add].concat(), None);
        assert_eq!(o.code, 2);
        let e = o.err_json();
        assert_eq!(e["code"], "invalid_input");
        assert!(e["message"].as_str().unwrap().starts_with("domain"));
        assert!(!e["hint"].as_str().unwrap().is_empty());
        assert!(o.stdout.is_empty());
    }
    // http is fine on loopback.
    let o = run(
        env.bare(),
        &[
            "profile",
            "add",
            "local",
            "--domain",
            "http://127.0.0.1:9",
            "--client-id",
            "x",
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = run(
        env.bare(),
        &[
            "profile",
            "add",
            "acme",
            "--domain",
            "a.kinde.com",
            "--client-id",
            "x",
        ],
        None,
    );
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("error[profile_exists]"));

    let o = run(env.bare(), &["--json", "profile", "list"], None);
    let list = o.json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme", "local"]);
    assert_eq!(list[0]["domain"], "https://acme.kinde.com");
    assert_eq!(list[0]["is_default"], true);
    let o = run(env.bare(), &["profile", "list"], None);
    assert!(o.stdout.lines().next().unwrap().contains("NAME"));
    assert!(o.stdout.contains("* ") && o.stdout.contains("acme"));

    let o = run(env.bare(), &["--json", "profile", "remove", "acme"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json()["name"], "acme");
    let cfg = ConfigFile::load(&Paths::under(env.home())).unwrap();
    assert_eq!(cfg.names(), ["local"]);
    let o = run(env.bare(), &["profile", "remove", "acme"], None);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("error[profile_not_found]") && o.stderr.contains("hint:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_from_stdin_needs_a_keyring_and_never_lands_in_config() {
    let env = Env::new(Config::default()).await;
    let secret = "stdin-secret-7f3a9c";
    let add = [
        "profile",
        "add",
        "p",
        "--domain",
        "p.kinde.com",
        "--client-id",
        "id1",
        "--client-secret-stdin",
    ];
    let o = run(env.bare(), &add, Some(&format!("{secret}\n")));
    // No Secret Service is reachable in tests: a clear error, nothing half-saved.
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(
        o.stderr.contains("error[keyring_unavailable]"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("hint:") && o.stderr.contains("KEYWARD_CLIENT_SECRET"));
    assert!(!o.stderr.contains(secret));
    let cfg = ConfigFile::load(&Paths::under(env.home())).unwrap();
    assert!(cfg.profiles.is_empty());
    for (path, bytes) in crate::support::all_files(env.home()) {
        assert!(
            !crate::support::contains(&bytes, secret),
            "{}",
            path.display()
        );
    }
    // An empty stdin is refused before the keyring is touched.
    let o = run(env.bare(), &add, Some(""));
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("error[invalid_input]: client secret"),
        "{}",
        o.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_selection_and_connection_test() {
    let env = Env::new(Config::default()).await;
    // Nothing configured.
    let o = run(env.kw(), &["keys", "list"], None);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("error[profile_not_found]") && o.stderr.contains("profile add"));

    env.add_profile("one");
    // A second profile pointing at a closed port.
    let o = run(
        env.kw(),
        &[
            "profile",
            "add",
            "dead",
            "--domain",
            "http://127.0.0.1:9",
            "--client-id",
            "x",
        ],
        None,
    );
    assert_eq!(o.code, 0);

    let o = run(env.kw(), &["profile", "test"], None);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("✓ token"), "{}", o.stdout);
    assert!(o.stdout.contains("verdict:"));

    let mut dead = env.kw();
    dead.env("KEYWARD_PROFILE", "dead");
    let o = run(dead, &["--json", "apis", "list"], None);
    assert_eq!(o.code, 8, "{}", o.stderr);
    assert_eq!(o.err_json()["code"], "connection_refused");
    let o = run(
        env.kw(),
        &["--profile", "dead", "--json", "profile", "test"],
        None,
    );
    assert_eq!(o.code, 1);
    assert_eq!(o.json()["healthy"], false);

    let o = run(env.kw(), &["--profile", "nope", "apis", "list"], None);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("error[profile_not_found]") && o.stderr.contains("one, dead"));

    // Wrong secret: invalid_client, exit 3, with the hint about Kinde's settings.
    let mut wrong = env.bare();
    wrong.env("KEYWARD_CLIENT_SECRET", "not-the-secret");
    let o = run(wrong, &["--json", "apis", "list"], None);
    assert_eq!(o.code, 3, "{}", o.stderr);
    let e = o.err_json();
    assert_eq!(e["code"], "invalid_client");
    assert!(!e["hint"].as_str().unwrap().is_empty());
    assert!(!o.stderr.contains("not-the-secret"));

    // No secret at all (and no keyring reachable): exit 3 with a hint naming the env var.
    let o = run(env.bare(), &["apis", "list"], None);
    assert_eq!(o.code, 3);
    assert!(
        o.stderr.contains("error[secret_missing]")
            || o.stderr.contains("error[keyring_unavailable]"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("KEYWARD_CLIENT_SECRET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_sandbox_needs_its_certificate_trusted() {
    let env = Env::new(Config {
        tls: true,
        ..Config::default()
    })
    .await;
    assert!(env.sb.base_url().starts_with("https://"));
    env.add_profile("tls");
    let pem = env.home().join("sandbox-ca.pem");
    std::fs::write(&pem, env.sb.cert_pem().unwrap()).unwrap();

    // Not trusted: the tls code, exit 8, with a hint.
    let o = run(env.kw(), &["--json", "apis", "list"], None);
    assert_eq!(o.code, 8, "{}", o.stderr);
    let e = o.err_json();
    assert_eq!(e["code"], "tls");
    assert!(!e["hint"].as_str().unwrap().is_empty());

    // Trusted through KEYWARD_CA_CERT: works, and the doctor's TLS step passes.
    let mut trusted = env.kw();
    trusted.env("KEYWARD_CA_CERT", &pem);
    let o = run(trusted, &["--json", "apis", "list"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json().as_array().unwrap().len(), 1);
    let mut trusted = env.kw();
    trusted.env("KEYWARD_CA_CERT", &pem);
    let o = run(trusted, &["profile", "test"], None);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("✓ tls"), "{}", o.stdout);

    let mut missing = env.kw();
    missing.env("KEYWARD_CA_CERT", env.home().join("nope.pem"));
    let o = run(missing, &["apis", "list"], None);
    assert_eq!(o.code, 10, "{}", o.stderr);
    assert!(o.stderr.contains("error[io]") && o.stderr.contains("KEYWARD_CA_CERT"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_update_edits_in_place_and_a_refused_secret_changes_nothing() {
    let env = Env::new(Config::default()).await;
    let add = [
        "profile",
        "add",
        "acme",
        "--domain",
        "acme.kinde.com",
        "--client-id",
        "abc123",
    ];
    assert_eq!(run(env.bare(), &add, None).code, 0);
    let o = run(
        env.bare(),
        &[
            "--json",
            "profile",
            "update",
            "acme",
            "--domain",
            "new.kinde.com",
            "--environment",
            "staging",
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let info = o.json();
    assert_eq!(info["domain"], "https://new.kinde.com");
    assert_eq!(info["client_id"], "abc123");
    assert_eq!(info["environment"], "staging");
    assert_eq!(info["is_default"], true);
    let paths = Paths::under(env.home());
    let before = std::fs::read_to_string(paths.config_file()).unwrap();

    // No Secret Service in tests: the new secret is refused and nothing changes.
    let secret = "update-secret-5b1e";
    let o = run(
        env.bare(),
        &[
            "profile",
            "update",
            "acme",
            "--domain",
            "other.kinde.com",
            "--secret-stdin",
        ],
        Some(&format!("{secret}\n")),
    );
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(
        o.stderr.contains("error[keyring_unavailable]"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains(secret));
    assert_eq!(
        std::fs::read_to_string(paths.config_file()).unwrap(),
        before
    );

    // A bad domain is refused at its field; an unknown profile by name.
    let o = run(
        env.bare(),
        &["--json", "profile", "update", "acme", "--domain", "a..b"],
        None,
    );
    assert_eq!(o.code, 2);
    let e = o.err_json();
    assert_eq!(e["code"], "invalid_input");
    assert!(e["message"].as_str().unwrap().starts_with("domain"), "{e}");
    let o = run(env.bare(), &["profile", "update", "nobody"], None);
    assert!(
        o.stderr.contains("error[profile_not_found]"),
        "{}",
        o.stderr
    );
    let cfg = ConfigFile::load(&paths).unwrap();
    assert_eq!(cfg.profiles.len(), 1);
    assert_eq!(cfg.settings.default_profile.as_deref(), Some("acme"));
}
