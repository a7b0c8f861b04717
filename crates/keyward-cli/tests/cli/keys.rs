//! `keyward keys ...` against a real sandbox: the whole life of a key, bulk revoke, hygiene.

use crate::support::{Env, all_files, contains, create, create_args, run};
use kinde_sandbox::{Config, EMPTY_API_ID, EMPTY_ORG_CODE, EMPTY_USER_ID, READONLY_CLIENT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_show_rotate_verify_revoke_with_json() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");

    let created = create(&env, "Billing", &["--org", EMPTY_ORG_CODE]);
    let id = created["id"].as_str().unwrap().to_string();
    let old = created["key"].as_str().unwrap().to_string();
    assert!(old.starts_with("k_live_"));
    assert_eq!(created["scopes"][0], "read:data");

    let o = run(env.kw(), &["--json", "keys", "show", &id], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let k = o.json();
    for field in [
        "id",
        "name",
        "type",
        "status",
        "key_prefix",
        "key_suffix",
        "scopes",
        "verification_count",
        "last_verified_on",
        "org_code",
        "user_id",
    ] {
        assert!(k.get(field).is_some(), "missing {field}: {k}");
    }
    assert_eq!(k["type"], "organization");
    assert_eq!(k["status"], "active");
    assert_eq!(k["org_code"], EMPTY_ORG_CODE);
    assert_eq!(k["owner_name"], "Sandbox Org");
    assert_eq!(k["verification_count"], 0);
    assert_eq!(k["key_suffix"].as_str().unwrap(), &old[old.len() - 4..]);

    // verify reads the key from stdin and says it counted.
    let o = run(
        env.kw(),
        &["--json", "keys", "verify"],
        Some(&format!("{old}\n")),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json()["is_valid"], true);
    assert!(o.json()["note"].as_str().unwrap().contains("verification"));

    // rotate: refused without --yes when there is no terminal.
    let o = run(env.kw(), &["keys", "rotate", &id], None);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("--yes"), "{}", o.stderr);
    let o = run(env.kw(), &["--json", "keys", "rotate", &id, "--yes"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let new = o.json()["key"].as_str().unwrap().to_string();
    assert_eq!(o.json()["id"], id.as_str());
    assert_ne!(new, old);

    // The old secret fails at once (exit 1, is_valid false); the new one works.
    let o = run(env.kw(), &["--json", "keys", "verify"], Some(&old));
    assert_eq!(o.code, 1);
    assert_eq!(o.json()["is_valid"], false);
    let o = run(env.kw(), &["--json", "keys", "verify"], Some(&new));
    assert_eq!(o.code, 0);
    assert_eq!(o.json()["is_valid"], true);

    // Human create: the secret alone on stdout, the warning on stderr.
    let o = run(
        env.kw(),
        &[
            "keys",
            "create",
            "--name",
            "Human",
            "--api",
            EMPTY_API_ID,
            "--scope",
            "write:data",
            "--user",
            EMPTY_USER_ID,
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.trim().starts_with("k_live_") && o.stdout.trim().lines().count() == 1);
    assert!(o.stderr.contains("shown once"), "{}", o.stderr);

    // list with filters and search
    let o = run(
        env.kw(),
        &["--json", "keys", "list", "--type", "user"],
        None,
    );
    let users = o.json();
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["name"], "Human");
    let o = run(
        env.kw(),
        &["--json", "keys", "list", "--search", "bill"],
        None,
    );
    assert_eq!(o.json().as_array().unwrap().len(), 1);
    let o = run(env.kw(), &["keys", "list", "--org", EMPTY_ORG_CODE], None);
    assert!(o.stdout.lines().next().unwrap().starts_with("ID"));
    assert!(o.stdout.contains("Billing") && !o.stdout.contains("Human"));
    assert!(o.stdout.contains("Sandbox Org"));

    // revoke
    let o = run(env.kw(), &["--json", "keys", "revoke", &id, "--yes"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let s = o.json();
    assert_eq!(s["revoked"], 1);
    assert_eq!(s["outcomes"][0]["revoked"], true);
    let o = run(env.kw(), &["--json", "keys", "verify"], Some(&new));
    assert_eq!(o.json()["is_valid"], false);
    let o = run(
        env.kw(),
        &["--json", "keys", "list", "--status", "revoked"],
        None,
    );
    assert_eq!(o.json()[0]["id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_revoke_reports_each_key_and_never_aborts() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let a = create(&env, "a", &["--org", EMPTY_ORG_CODE])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = create(&env, "b", &["--user", EMPTY_USER_ID])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let missing = "api_key_00000000000000000000000000000000";
    let o = run(
        env.kw(),
        &["--json", "keys", "revoke", &a, missing, &b, "--yes"],
        None,
    );
    // Failures set the exit code (not_found = 5) but every key was attempted.
    assert_eq!(o.code, 5, "{}", o.stderr);
    let s = o.json();
    assert_eq!(
        (
            s["requested"].as_u64(),
            s["revoked"].as_u64(),
            s["failed"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    let outcomes = s["outcomes"].as_array().unwrap();
    assert_eq!(outcomes[1]["id"], missing);
    assert_eq!(outcomes[1]["error"]["code"], "not_found");
    assert!(!outcomes[1]["error"]["hint"].as_str().unwrap().is_empty());
    assert_eq!(outcomes[2]["revoked"], true);

    // Human output: a table and a summary line.
    let c = create(&env, "c", &["--org", EMPTY_ORG_CODE])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let o = run(env.kw(), &["keys", "revoke", &c, "--yes"], None);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("revoked"));
    assert!(
        o.stderr.contains("1 requested, 1 revoked, 0 failed"),
        "{}",
        o.stderr
    );

    // A malformed id is refused before anything is revoked.
    let d = create(&env, "d", &["--org", EMPTY_ORG_CODE])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let o = run(env.kw(), &["keys", "revoke", &d, "bad id", "--yes"], None);
    assert_eq!(o.code, 2);
    let o = run(env.kw(), &["--json", "keys", "show", &d], None);
    assert_eq!(o.json()["status"], "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gives_code_hint_and_exit_code() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let base = ["keys", "create", "--name", "x", "--api", EMPTY_API_ID];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--scope", "read:data"], "owner"),
        (
            vec![
                "--scope",
                "read:data",
                "--org",
                EMPTY_ORG_CODE,
                "--user",
                EMPTY_USER_ID,
            ],
            "owner",
        ),
        (vec!["--org", EMPTY_ORG_CODE], "scopes"),
        (
            vec!["--scope", "admin:all", "--org", EMPTY_ORG_CODE],
            "scope",
        ),
    ];
    for (extra, field) in cases {
        let mut args = vec!["--json"];
        args.extend(base);
        args.extend(extra.iter().copied());
        let o = run(env.kw(), &args, None);
        assert_eq!(o.code, 2, "{args:?}: {}", o.stderr);
        let e = o.err_json();
        assert_eq!(e["code"], "invalid_input");
        assert!(e["message"].as_str().unwrap().starts_with(field), "{e}");
        assert!(!e["hint"].as_str().unwrap().is_empty());
    }
    let o = run(env.kw(), &create_args("", &["--org", EMPTY_ORG_CODE]), None);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.starts_with("error[invalid_input]: name"),
        "{}",
        o.stderr
    );
    assert_eq!(env.sb.stats().create_key, 0);

    let o = run(
        env.kw(),
        &["keys", "show", "api_key_0123456789abcdef0123456789abcdef"],
        None,
    );
    assert_eq!(o.code, 5);
    assert!(
        o.stderr.contains("error[not_found]")
            && o.stderr
                .contains("api_key_0123456789abcdef0123456789abcdef")
    );
    assert!(o.stderr.contains("\nhint: "));
    let o = run(env.kw(), &["keys", "show", "has space"], None);
    assert_eq!(o.code, 2);
    let o = run(env.kw(), &["--json", "keys", "verify"], Some(""));
    assert_eq!(o.code, 2);
    assert_eq!(o.err_json()["code"], "invalid_input");
    let o = run(
        env.kw(),
        &["--json", "keys", "list", "--status", "bogus"],
        None,
    );
    assert_eq!(o.code, 2);
    let o = run(
        env.kw(),
        &["--json", "keys", "list", "--org", "org 1"],
        None,
    );
    assert_eq!(o.code, 2);
    assert!(
        o.err_json()["message"]
            .as_str()
            .unwrap()
            .starts_with("org code")
    );
    assert_eq!(o.err_json()["code"], "invalid_input");

    // The read-only app: 403 names the scope, exit 4.
    let mut ro = env.bare();
    ro.env("KEYWARD_CLIENT_SECRET", READONLY_CLIENT.1);
    run(
        env.bare(),
        &[
            "profile",
            "add",
            "ro",
            "--domain",
            &env.sb.base_url(),
            "--client-id",
            READONLY_CLIENT.0,
        ],
        None,
    );
    let mut args = vec!["--profile", "ro", "--json"];
    args.extend(create_args("x", &["--org", EMPTY_ORG_CODE]));
    let o = run(ro, &args, None);
    assert_eq!(o.code, 4, "{}", o.stderr);
    let e = o.err_json();
    assert_eq!(e["code"], "missing_scope");
    assert!(format!("{e}").contains("create:api_keys"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_any_file_under_keyward_home() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let created = create(&env, "hygiene", &["--org", EMPTY_ORG_CODE]);
    let id = created["id"].as_str().unwrap();
    let o = run(env.kw(), &["--json", "keys", "rotate", id, "--yes"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rotated = o.json();
    let o = run(
        env.kw(),
        &["keys", "verify"],
        Some(rotated["key"].as_str().unwrap()),
    );
    assert_eq!(o.code, 0);
    let o = run(env.kw(), &["keys", "revoke", id, "--yes"], None);
    assert_eq!(o.code, 0);

    let files = all_files(env.home());
    let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    assert!(
        names.iter().any(|n| n.ends_with("config.toml")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.contains("keyward.db")),
        "the audit log was written: {names:?}"
    );
    let secrets = [
        env.sb.client_secret().to_string(),
        created["key"].as_str().unwrap().to_string(),
        rotated["key"].as_str().unwrap().to_string(),
    ];
    for (path, bytes) in &files {
        for s in &secrets {
            assert!(!contains(bytes, s), "{} contains a secret", path.display());
        }
    }
    // The audit log recorded the operations (ids, not secrets).
    let db = files
        .iter()
        .find(|(p, _)| p.display().to_string().ends_with("keyward.db"))
        .unwrap();
    let _ = db;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_and_doctor_commands() {
    let env = Env::new(Config {
        seed: kinde_sandbox::Seed::Demo,
        rng_seed: Some(3),
        ..Config::default()
    })
    .await;
    env.add_profile("demo");
    let o = run(env.kw(), &["--json", "apis", "list"], None);
    let apis = o.json();
    assert_eq!(apis.as_array().unwrap().len(), 3);
    assert!(
        apis[0]["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["key"].is_string() && s["id"].is_string())
    );
    let o = run(
        env.kw(),
        &["--json", "orgs", "list", "--search", "acme"],
        None,
    );
    assert_eq!(o.json()[0]["name"], "Acme Corp");
    let o = run(env.kw(), &["orgs", "--search", "ACME"], None);
    assert!(o.stdout.contains("Acme Corp") && o.stdout.starts_with("CODE"));
    let o = run(env.kw(), &["--json", "users", "list"], None);
    let all = o.json().as_array().unwrap().len();
    assert!(all >= 40);
    let o = run(
        env.kw(),
        &["--json", "users", "list", "--search", "ada"],
        None,
    );
    let some = o.json().as_array().unwrap().len();
    assert!(some >= 1 && some < all);

    // doctor key: a pasted Bearer prefix and a missing scope, ladder with ✓/✗.
    let api = &apis[0];
    let scope = api["scopes"][0]["key"].as_str().unwrap();
    let org = run(env.kw(), &["--json", "orgs", "list"], None).json()[0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let o = run(
        env.kw(),
        &[
            "--json",
            "keys",
            "create",
            "--name",
            "doc",
            "--api",
            api["id"].as_str().unwrap(),
            "--scope",
            scope,
            "--org",
            &org,
        ],
        None,
    );
    let key = o.json()["key"].as_str().unwrap().to_string();
    let o = run(
        env.kw(),
        &["doctor", "key", "--require-scope", "nope:nope"],
        Some(&format!("Bearer {key}\n")),
    );
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("✓ verify"), "{}", o.stdout);
    assert!(o.stdout.contains("✗ required_scope"), "{}", o.stdout);
    assert!(o.stdout.contains("verdict:") && o.stdout.contains("next:"));
    assert!(!o.stdout.contains(&key) && !o.stderr.contains(&key));
    let o = run(
        env.kw(),
        &["--json", "doctor", "key", "--org", &org],
        Some(&key),
    );
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert_eq!(o.json()["healthy"], true);
    assert_eq!(o.json()["counted_verification"], true);
    let o = run(env.kw(), &["--json", "doctor", "connection"], None);
    assert_eq!(o.code, 0);
    assert_eq!(o.json()["kind"], "connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_list_answers_from_the_cache_when_kinde_is_unreachable() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    create(&env, "cached", &["--org", EMPTY_ORG_CODE]);
    // Before any sync, --offline has nothing to show.
    let o = run(env.kw(), &["--json", "keys", "list", "--offline"], None);
    assert_ne!(o.code, 0);
    assert!(o.err_json()["hint"].as_str().unwrap().contains("sync"));
    let o = run(env.kw(), &["--json", "keys", "list"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json()[0]["name"], "cached");
    assert_eq!(o.json()[0]["owner_name"], "Sandbox Org");

    let Env { sb, home } = env;
    sb.shutdown().await;
    let env_home = home;
    let mut c = assert_cmd::Command::cargo_bin("keyward").unwrap();
    c.env("KEYWARD_HOME", env_home.path())
        .env("KEYWARD_CLIENT_SECRET", "x")
        .env_remove("KEYWARD_PROFILE");
    let o = run(c, &["--json", "keys", "list"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json()[0]["name"], "cached");
    assert!(
        o.stderr.contains("warning[connection_refused]"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("last synced"), "{}", o.stderr);
    let mut c = assert_cmd::Command::cargo_bin("keyward").unwrap();
    c.env("KEYWARD_HOME", env_home.path())
        .env("KEYWARD_CLIENT_SECRET", "x");
    let o = run(c, &["keys", "list", "--offline"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("cached"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_reissue_creates_a_successor_and_keeps_the_old_key() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let old = create(&env, "reissued", &["--org", EMPTY_ORG_CODE]);
    let old_id = old["id"].as_str().unwrap();
    let o = run(
        env.kw(),
        &["--json", "keys", "reissue", old_id, "--scope", "write:data"],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r = o.json();
    let text = r.to_string();
    assert!(text.contains(old_id), "{text}");
    assert!(
        text.contains("k_live_"),
        "the new secret is shown once: {text}"
    );
    assert!(text.contains("write:data"), "{text}");
    // The old key still verifies (the handover window).
    let o = run(
        env.kw(),
        &["--json", "keys", "verify"],
        Some(old["key"].as_str().unwrap()),
    );
    assert_eq!(o.json()["is_valid"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handovers_is_documented_and_reissue_and_migrations_still_answer_hidden() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");

    // The help lists `keys` and `handovers`, not the hidden aliases.
    let o = run(env.kw(), &["--help"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let commands: Vec<&str> = o
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(commands.contains(&"handovers"), "{}", o.stdout);
    assert!(commands.contains(&"keys"), "{}", o.stdout);
    assert!(!commands.contains(&"migrations"), "{}", o.stdout);
    assert!(!commands.contains(&"reissue"), "{}", o.stdout);
    let o = run(env.kw(), &["keys", "reissue", "--help"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("keyward handovers"), "{}", o.stdout);

    // `keyward reissue` still re-issues, and says to check `keyward handovers`.
    let old = create(&env, "aliased", &["--org", EMPTY_ORG_CODE]);
    let old_id = old["id"].as_str().unwrap();
    let o = run(env.kw(), &["reissue", old_id], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("k_live_"), "the new secret: {}", o.stdout);
    assert!(o.stderr.contains("keyward handovers"), "{}", o.stderr);
    assert!(!o.stderr.contains("migrations"), "{}", o.stderr);

    // `keyward migrations` answers what `keyward handovers` answers.
    let pairs = |args: &[&str]| -> Vec<(String, String)> {
        let o = run(env.kw(), args, None);
        assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
        o.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["old_id"].as_str().unwrap().to_string(),
                    h["new_id"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let handovers = pairs(&["--json", "handovers"]);
    assert_eq!(handovers.len(), 1, "{handovers:?}");
    assert_eq!(handovers[0].0, old_id);
    assert_eq!(
        pairs(&["--json", "migrations", "--quiet-days", "7"]),
        handovers
    );
    let o = run(env.kw(), &["handovers"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains(old_id), "{}", o.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_with_old_key_expires_rolls_and_keeps_the_old_key_until_the_deadline() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let old = create(&env, "Rolled", &["--org", EMPTY_ORG_CODE]);
    let old_id = old["id"].as_str().unwrap();

    // Bad lifetimes are refused before anything is asked, with a code and a hint.
    for bad in ["soon", "0h", "31d", "24"] {
        let o = run(
            env.kw(),
            &[
                "--json",
                "keys",
                "rotate",
                old_id,
                "--old-key-expires",
                bad,
                "--yes",
            ],
            None,
        );
        assert_ne!(o.code, 0, "{bad}");
        let e = o.err_json();
        assert_eq!(e["code"], "invalid_input", "{bad}: {e}");
        assert!(e["hint"].as_str().unwrap().contains("24h"), "{e}");
    }

    let o = run(
        env.kw(),
        &[
            "--json",
            "keys",
            "rotate",
            old_id,
            "--old-key-expires",
            "24h",
            "--yes",
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r = o.json();
    assert!(r["link"]["old_expires_at"].is_string(), "{r}");
    assert_ne!(r["new_key"]["id"].as_str().unwrap(), old_id);
    assert!(
        r["new_key"]["name"]
            .as_str()
            .unwrap()
            .starts_with("Rolled (re-issued "),
        "{r}"
    );
    // The old key still verifies until the deadline; the handovers table shows it.
    let o = run(
        env.kw(),
        &["--json", "keys", "verify"],
        Some(old["key"].as_str().unwrap()),
    );
    assert_eq!(o.json()["is_valid"], true);
    let o = run(env.kw(), &["handovers"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("OLD KEY EXPIRES"), "{}", o.stdout);

    // `--name` names the re-issued key; `now` does not apply to a re-issue.
    let other = create(&env, "Named", &["--org", EMPTY_ORG_CODE]);
    let other_id = other["id"].as_str().unwrap();
    let o = run(
        env.kw(),
        &[
            "--json",
            "keys",
            "reissue",
            other_id,
            "--old-key-expires",
            "now",
        ],
        None,
    );
    assert_eq!(o.err_json()["code"], "invalid_input");
    let o = run(
        env.kw(),
        &["--json", "keys", "reissue", other_id, "--name", "Named v2"],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json()["new_key"]["name"], "Named v2");
    let o = run(
        env.kw(),
        &["--json", "keys", "reissue", other_id, "--name", " "],
        None,
    );
    assert_eq!(o.err_json()["code"], "invalid_input");
}
