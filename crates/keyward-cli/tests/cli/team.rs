//! `keyward` on a team profile, end to end: a kinde-sandbox on 127.0.0.1:0, a throwaway
//! PostgreSQL (crates/pg-cluster), the built `keyward-server` binary (migrate, member add,
//! serve on loopback) and the built `keyward`.
//!
//! Members bob (operator) and carol (viewer): the profile added with the token checked (a bad
//! token is refused with exit 3 and records nothing); list, create, rotate, revoke, alerts and
//! audit (with the member names) and their exit codes; `keys verify`, `sync status` and the
//! CSV and history exports as carol (the server verifies, keeps the runs and renders the
//! files, with the member of each audit row); carol's revoke refused as `forbidden`
//! with the role it needed (exit 11); with the server stopped, `--offline` answers from the
//! answers kept here and says how old they are, and without it the command fails (exit 8).
//! No token or key secret of the run is in a file kept here, in the server's database (every
//! row of every table) or in its log.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::Duration;

use kinde_sandbox::{Config, EMPTY_ORG_CODE, Seed};
use serde_json::Value;

use crate::support::{Env, create_args, keyward_bin, run};

/// The `keyward-server` binary beside `keyward` (built first when `cargo test -p keyward-cli`
/// runs alone; `cargo test --workspace` builds every binary anyway).
fn server_bin() -> PathBuf {
    let bin = keyward_bin().with_file_name("keyward-server");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = StdCommand::new(cargo)
            .args(["build", "-p", "keyward-server", "--bin", "keyward-server"])
            .status()
            .expect("cargo runs");
        assert!(ok.success(), "cargo build -p keyward-server failed");
    }
    assert!(bin.exists(), "{} is missing", bin.display());
    bin
}

fn server_cmd(env: &HashMap<String, String>, home: &std::path::Path) -> StdCommand {
    let mut c = StdCommand::new(server_bin());
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KEYWARD_HOME", home)
        .env("KEYWARD_SERVER_LOG", "info")
        .envs(env)
        .stdin(Stdio::null());
    c
}

fn member_add(
    env: &HashMap<String, String>,
    home: &std::path::Path,
    name: &str,
    role: &str,
) -> String {
    let out = server_cmd(env, home)
        .args(["member", "add", name, "--role", role, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["token"].as_str().unwrap().to_string()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn healthy(base: &str) -> bool {
    matches!(reqwest::get(format!("{base}/healthz")).await, Ok(r) if r.status().is_success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_profile_commands_members_exit_codes_and_offline() {
    let env = Env::new(Config {
        seed: Seed::Empty,
        extra_keys: 3,
        rng_seed: Some(5),
        ..Config::default()
    })
    .await;
    let cluster =
        tokio::task::spawn_blocking(|| pg_cluster::PgCluster::start().expect("PostgreSQL"))
            .await
            .unwrap();
    let db = cluster.fresh_db().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server_env: HashMap<String, String> = [
        ("KEYWARD_SERVER_DATABASE_URL", db.clone()),
        ("KEYWARD_SERVER_LISTEN", format!("127.0.0.1:{port}")),
        ("KEYWARD_SERVER_KINDE_DOMAIN", env.sb.base_url()),
        (
            "KEYWARD_SERVER_KINDE_CLIENT_ID",
            env.sb.client_id().to_string(),
        ),
        (
            "KEYWARD_SERVER_KINDE_CLIENT_SECRET",
            env.sb.client_secret().to_string(),
        ),
        ("KEYWARD_SERVER_SYNC_INTERVAL", "1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let server_home = tempfile::tempdir().unwrap();
    let (se, sh) = (server_env.clone(), server_home.path().to_path_buf());
    let (bob, carol) = tokio::task::spawn_blocking(move || {
        let out = server_cmd(&se, &sh).arg("migrate").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            member_add(&se, &sh, "bob", "operator"),
            member_add(&se, &sh, "carol", "viewer"),
        )
    })
    .await
    .unwrap();
    // The server's log (stderr) is kept, to be searched for the run's secrets at the end.
    let server_log = server_home.path().join("serve.log");
    let server = Server(
        server_cmd(&server_env, server_home.path())
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&server_log).unwrap())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..300 {
        if healthy(&base).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy(&base).await, "the server answers /healthz");

    // keyward with bob's token for this shell (no keyring here); carol's for hers.
    let as_member = |token: &str| {
        let mut c = env.bare();
        c.env("KEYWARD_TOKEN", token);
        c
    };
    let kb = || as_member(&bob);

    // A bad token is refused and records nothing; then the profile is added as bob.
    let o = run(
        as_member("kwp_not_a_token"),
        &["profile", "add", "team", "--server", &base],
        None,
    );
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(o.stderr.contains("unauthenticated"), "{}", o.stderr);
    let o = run(kb(), &["--json", "profile", "list"], None);
    assert_eq!(o.json(), serde_json::json!([]), "{}", o.stderr);
    let o = run(kb(), &["profile", "add", "team", "--server", &base], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("as bob (operator)"), "{}", o.stdout);
    let o = run(
        kb(),
        &[
            "profile",
            "add",
            "x",
            "--server",
            "http://keyward.example.com",
        ],
        None,
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("https"), "{}", o.stderr);
    let cfg = std::fs::read_to_string(env.home().join("config/config.toml")).unwrap();
    assert!(cfg.contains("server = ") && !cfg.contains(&bob), "{cfg}");

    // List: the first sync's keys.
    let mut keys = Value::Null;
    for _ in 0..150 {
        let o = run(kb(), &["--json", "keys", "list"], None);
        assert_eq!(o.code, 0, "{}", o.stderr);
        keys = o.json();
        if keys.as_array().is_some_and(|a| a.len() >= 3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(keys.as_array().map(Vec::len), Some(3), "{keys}");

    // Create, rotate, revoke as bob (the server may be syncing: retry sync_in_progress, 10).
    let until_free = |args: Vec<String>| {
        let kb = &kb;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            loop {
                let o = run(kb(), &args, None);
                if o.code != 10 || !o.stderr.contains("sync_in_progress") {
                    return o;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let mut args: Vec<String> = vec!["--json".into()];
    args.extend(
        create_args("team key", &["--org", EMPTY_ORG_CODE])
            .into_iter()
            .map(String::from),
    );
    let o = until_free(args).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    let created = o.json();
    let id = created["id"].as_str().unwrap().to_string();
    let first_secret = created["key"].as_str().unwrap().to_string();
    let o = until_free(vec![
        "keys".into(),
        "rotate".into(),
        id.clone(),
        "--yes".into(),
    ])
    .await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rotated_secret = o.stdout.trim().to_string();
    assert!(!rotated_secret.is_empty() && rotated_secret != first_secret);

    // keys verify on the team profile: the server verifies with the team's Kinde app (this
    // machine holds no Kinde credentials); carol, a viewer, may. The rotated secret is valid
    // and names the key (exit 0); the first one no longer is (exit 1).
    let o = run(
        as_member(&carol),
        &["--json", "keys", "verify"],
        Some(&rotated_secret),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v = o.json();
    assert_eq!(v["is_valid"], true, "{v}");
    assert_eq!(v["key_id"], id.as_str(), "{v}");
    let o = run(
        as_member(&carol),
        &["--json", "keys", "verify"],
        Some(&first_secret),
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(o.json()["is_valid"], false, "{}", o.stdout);

    // carol may read, not revoke: forbidden, with the role it needs, exit 11.
    let o = run(as_member(&carol), &["keys", "show", &id], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = run(
        as_member(&carol),
        &["--json", "keys", "revoke", &id, "--yes"],
        None,
    );
    assert_eq!(o.code, 11, "{}", o.stderr);
    let e = o.err_json();
    assert_eq!(e["code"], "forbidden", "{e}");
    assert!(
        e["message"].as_str().unwrap().starts_with("forbidden:")
            && e["message"].as_str().unwrap().contains("operator"),
        "{e}"
    );

    let o = until_free(vec![
        "keys".into(),
        "revoke".into(),
        id.clone(),
        "--yes".into(),
    ])
    .await;
    assert_eq!(o.code, 0, "{}", o.stderr);

    // Alerts: exit 0, or 1 when a high one is open.
    let o = run(kb(), &["--json", "alerts"], None);
    assert!(o.code == 0 || o.code == 1, "{}", o.stderr);
    assert!(o.json()["alerts"].is_array());

    // The audit names the members.
    let o = run(kb(), &["--json", "audit"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rows = o.json();
    let actor = |action: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["action"] == action && r["key_id"] == id.as_str())
            .map(|r| r["actor"].clone())
    };
    for a in ["create", "rotate", "revoke"] {
        assert_eq!(actor(a), Some(Value::from("bob")), "{a}: {rows}");
    }
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "denied" && r["actor"] == "carol"),
        "{rows}"
    );
    let o = run(kb(), &["audit"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.lines().next().unwrap().contains("BY"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("bob") && o.stdout.contains("carol"),
        "{}",
        o.stdout
    );

    // sync asks the server for one (bob is an operator); the scan runs here and matches the
    // team's keys; export writes the team's keys.
    let o = until_free(vec!["--json".into(), "sync".into()]).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.json()["keys"].as_u64().unwrap() >= 4, "{}", o.stdout);
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(
        scratch.path().join("app.env"),
        format!("API_KEY={rotated_secret}\n"),
    )
    .unwrap();
    let o = run(
        kb(),
        &["--json", "scan", scratch.path().to_str().unwrap()],
        None,
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let report = o.json();
    assert_eq!(report["matched"], 1, "{report}");
    assert_eq!(
        report["findings"][0]["matches"][0]["key_id"],
        id.as_str(),
        "{report}"
    );
    let out = scratch.path().join("keys.json");
    let o = run(
        kb(),
        &[
            "export",
            "keys",
            "--format",
            "json",
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let exported: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert!(
        exported
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == id.as_str())
    );

    // sync status: the server's runs (carol may read them), newest first, the last one ok.
    let o = run(
        as_member(&carol),
        &["--json", "sync", "status", "--limit", "3"],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let runs = o.json();
    let runs = runs.as_array().unwrap();
    assert!((1..=3).contains(&runs.len()), "{runs:?}");
    assert!(
        runs.iter()
            .any(|r| r["status"] == "ok" && r["keys_seen"].as_i64() >= Some(4)),
        "{runs:?}"
    );
    let o = run(as_member(&carol), &["sync", "status"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.starts_with("RUN"), "{}", o.stdout);

    // CSV exports and the history export, as carol: the server renders, this machine writes.
    let export = |what: &str, format: &str| {
        let out = scratch.path().join(format!("{what}.{format}"));
        let o = run(
            as_member(&carol),
            &[
                "--json",
                "export",
                what,
                "--format",
                format,
                "--out",
                out.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(o.code, 0, "{what} {format}: {}", o.stderr);
        (o.json(), std::fs::read_to_string(&out).unwrap())
    };
    let (summary, csv) = export("keys", "csv");
    assert!(csv.starts_with("id,name,type,status,"), "{csv}");
    assert!(csv.contains(&format!("{id},team key,")), "{csv}");
    assert_eq!(
        summary["rows"].as_u64(),
        Some(csv.split("\r\n").filter(|l| !l.is_empty()).count() as u64 - 1),
        "{summary}"
    );
    let (_, csv) = export("audit", "csv");
    let header = csv.split("\r\n").next().unwrap();
    assert!(header.ends_with(",details,actor"), "{header}");
    for action in ["create", "rotate", "revoke"] {
        assert!(
            csv.split("\r\n")
                .any(|l| l.contains(&format!(",{action},{id},")) && l.ends_with(",bob")),
            "{action} by bob: {csv}"
        );
    }
    assert!(
        csv.split("\r\n")
            .any(|l| l.contains(",denied,") && l.ends_with(",carol")),
        "{csv}"
    );
    let (summary, csv) = export("history", "csv");
    assert!(csv.starts_with("key_id,at,verification_count,"), "{csv}");
    assert!(summary["rows"].as_u64() >= Some(1), "{summary}");
    let (_, json) = export("history", "json");
    assert!(
        serde_json::from_str::<Value>(&json).unwrap().is_array(),
        "{json}"
    );

    // profile test on a team profile: the server's connection doctor.
    let o = run(kb(), &["--json", "profile", "test"], None);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(o.json()["healthy"], true, "{}", o.stdout);

    // The server stops: --offline answers from what was kept, and says how old it is.
    let listed = run(kb(), &["--json", "keys", "list"], None).json();
    drop(server);
    let o = run(kb(), &["--json", "keys", "list"], None);
    assert_eq!(o.code, 8, "{}", o.stderr);
    let o = run(kb(), &["--json", "keys", "list", "--offline"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json(), listed);
    assert!(
        o.stderr.contains("cached ") && o.stderr.contains(" ago"),
        "{}",
        o.stderr
    );
    let o = run(kb(), &["alerts", "--offline"], None);
    assert!(o.code == 0 || o.code == 1, "{}", o.stderr);
    assert!(o.stderr.contains("cached "), "{}", o.stderr);
    let o = run(kb(), &["audit", "--offline"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("bob"), "{}", o.stdout);

    // An edit of a team profile is refused in words.
    let o = run(
        kb(),
        &["profile", "update", "team", "--domain", "x.kinde.com"],
        None,
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("team profile"), "{}", o.stderr);

    // Nothing kept on this machine holds a token or a key's secret.
    for (path, bytes) in crate::support::all_files(env.home()) {
        for s in [&bob, &carol, &first_secret, &rotated_secret] {
            assert!(
                !crate::support::contains(&bytes, s),
                "a secret in {}",
                path.display()
            );
        }
    }
    // Nor does the server's database (every row of every table, as text) or its log: the
    // members' tokens, the secrets bob created and rotated, the one carol pasted to verify.
    let db_name = db.rsplit('/').next().unwrap().to_string();
    let tables = cluster
        .psql(
            &db_name,
            "SELECT string_agg(quote_ident(table_name), ' ') FROM information_schema.tables \
             WHERE table_schema = 'public'",
        )
        .unwrap();
    assert!(
        tables.contains("members") && tables.contains("audit"),
        "{tables}"
    );
    let mut dump = String::new();
    for t in tables.split(' ') {
        dump += &cluster
            .psql(&db_name, &format!("SELECT {t}::text FROM {t}"))
            .unwrap();
    }
    assert!(
        dump.contains("bob") && dump.contains(&id),
        "the rows were read"
    );
    let logged = std::fs::read_to_string(&server_log).unwrap();
    assert!(logged.contains("operation"), "the log was kept: {logged}");
    for s in [&bob, &carol, &first_secret, &rotated_secret] {
        assert!(
            !dump.contains(s.as_str()),
            "a secret in the server's database"
        );
        assert!(!logged.contains(s.as_str()), "a secret in the server's log");
    }

    // Removing the profile removes what was kept for it.
    let kept = env.home().join("data/team/team");
    assert!(kept.is_dir());
    let o = run(kb(), &["profile", "remove", "team"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!kept.exists());
    drop(cluster);
}
