//! The server as a whole, with real parts: a kinde-sandbox on 127.0.0.1:0, a throwaway
//! PostgreSQL (one cluster for this binary, a database per test), real webhook and Slack
//! receivers on 127.0.0.1:0, and the `keyward-server` binary for the error paths.
//!
//! - the server syncs what the sandbox lists; a tripped canary and a spike reach the webhook
//!   (valid signature) and Slack (Block Kit) exactly once each; /healthz and /metrics answer;
//! - a bad database URL, a wrong client secret and an unreachable Kinde each give a clear
//!   error from `check` and from `serve`; bad configuration gets `{code, message, hint}`.

mod receivers;
mod support;

use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use keyward_core::kinde::ClientOptions;
use keyward_core::model::key::KeyStatus;
use keyward_core::store::{RawHistoryRow, Store};
use keyward_server::config::{self, Need};
use keyward_server::pg::PgStore;
use keyward_server::serve::{self, ServeOptions};
use kinde_sandbox::{Config, Sandbox, Seed};
use receivers::{Kind, Receiver};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BIN: &str = env!("CARGO_BIN_EXE_keyward-server");

async fn sandbox(keys: usize) -> Sandbox {
    kinde_sandbox::spawn(
        "127.0.0.1:0".parse().unwrap(),
        Config {
            seed: Seed::Empty,
            extra_keys: keys,
            rng_seed: Some(7),
            ..Config::default()
        },
    )
    .await
    .expect("sandbox starts")
}

fn fast() -> ClientOptions {
    ClientOptions {
        retry_base_delay: Duration::from_millis(10),
        max_jitter: Duration::from_millis(10),
        max_retries: 1,
        ..ClientOptions::default()
    }
}

/// The environment the server reads, for the sandbox and database given.
fn env_for(sb: &Sandbox, db_url: &str, secret: &str) -> HashMap<String, String> {
    [
        (config::ENV_DATABASE_URL, db_url.to_string()),
        (config::ENV_LISTEN, "127.0.0.1:0".to_string()),
        (config::ENV_KINDE_DOMAIN, sb.base_url()),
        (config::ENV_KINDE_CLIENT_ID, sb.client_id().to_string()),
        (config::ENV_KINDE_CLIENT_SECRET, secret.to_string()),
        (config::ENV_SYNC_INTERVAL, "1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The ids of the keys the sandbox lists (its own listing, every page), sorted.
async fn sandbox_ids(sb: &Sandbox) -> Vec<String> {
    let cfg = keyward_core::kinde::ClientConfig::new(
        url::Url::parse(&sb.base_url()).unwrap(),
        sb.client_id(),
        keyward_core::secret::Secret::new(sb.client_secret()),
    );
    let c = keyward_core::kinde::Client::with_options(cfg, fast()).unwrap();
    let mut ids: Vec<String> = c
        .list_keys_all(&keyward_core::kinde::ListKeysQuery::default())
        .await
        .expect("the sandbox's listing")
        .into_iter()
        .map(|k| k.id)
        .collect();
    ids.sort();
    ids
}

/// Runs `f` on the server's database from a blocking thread (the `postgres` client blocks).
async fn with_store<T: Send + 'static>(
    url: &str,
    f: impl FnOnce(&PgStore) -> T + Send + 'static,
) -> T {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let s = PgStore::open(&url, "server").expect("open the store");
        f(&s)
    })
    .await
    .unwrap()
}

async fn get_json(url: &str) -> (u16, Value) {
    let http = keyward_server::deliver::send::http_client(Duration::from_secs(10));
    let r = http.get(url).send().await.expect("GET");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get_text(url: &str) -> String {
    let http = keyward_server::deliver::send::http_client(Duration::from_secs(10));
    http.get(url).send().await.unwrap().text().await.unwrap()
}

/// Polls `cond` every 200 ms for at most `secs` seconds; whether it held.
async fn within<F, Fut>(secs: u64, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// [`within`], or a failure naming `what`.
async fn eventually<F, Fut>(secs: u64, what: &str, cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    assert!(within(secs, cond).await, "not within {secs} s: {what}");
}

fn kinds(got: &[receivers::Received], slack: bool) -> Vec<String> {
    got.iter()
        .map(|g| {
            if slack {
                let h = g.body["blocks"][0]["text"]["text"].as_str().unwrap_or("");
                h.split(' ')
                    .nth(1)
                    .unwrap_or("")
                    .trim_end_matches(':')
                    .to_string()
            } else {
                g.body["data"]["alert"]["kind"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_canary_and_a_spike_reach_the_webhook_and_slack_exactly_once() {
    let sb = sandbox(12).await;
    let db = support::fresh_db();
    let hook = Receiver::start(
        Kind::Webhook,
        vec![
            keyward_server::config::WebhookSecret::parse(
                "t",
                &keyward_core::secret::Secret::new(SECRET),
            )
            .unwrap()
            .key()
            .to_vec(),
        ],
        vec![],
    )
    .await;
    let slack = Receiver::start(Kind::Slack, vec![], vec![]).await;
    let toml = format!(
        r#"
        public_url = "https://keyward.example.com"
        [lease]
        ttl_secs = 4
        renew_secs = 1
        [delivery]
        retry_base_ms = 100
        [[webhook]]
        name = "ops"
        url = "{}"
        secret = "{SECRET}"
        kinds = ["canary_tripped", "spike"]
        [[slack]]
        name = "team"
        url = "{}"
        kinds = ["canary_tripped", "spike"]
        "#,
        hook.url(),
        slack.url()
    );
    let cfg = config::from_str(
        &toml,
        &env_for(&sb, &db, sb.client_secret()),
        Need::Everything,
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    let running = serve::start(
        cfg,
        ServeOptions {
            client: Some(fast()),
            home: Some(home.path().to_path_buf()),
            replica: Some("replica-a".into()),
        },
        stop.clone(),
    )
    .await
    .unwrap();
    let base = format!("http://{}", running.addr);

    // It leads (alone) and syncs: the database holds exactly the keys the sandbox lists.
    eventually(60, "a first sync", || {
        let url = format!("{base}/healthz");
        async move {
            let (_, h) = get_json(&url).await;
            h["leader"] == true && !h["last_sync_finished_at"].is_null()
        }
    })
    .await;
    let (status, h) = get_json(&format!("{base}/healthz")).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["database"], "ok");
    assert_eq!(h["lease_holder"], "replica-a");
    let keys = with_store(&db, |s| s.all_keys().unwrap()).await;
    assert_eq!(keys.len(), 12, "the sandbox's 12 keys");
    let mut held: Vec<String> = keys.iter().map(|k| k.view.key.id.clone()).collect();
    held.sort();
    assert_eq!(
        held,
        sandbox_ids(&sb).await,
        "exactly the keys the sandbox lists"
    );

    // A past for the spike's baseline, a canary marked, then traffic.
    let active: Vec<String> = keys
        .iter()
        .filter(|k| k.view.key.status == KeyStatus::Active)
        .map(|k| k.view.key.id.clone())
        .collect();
    assert!(active.len() >= 2, "two active keys among {}", keys.len());
    let (canary, spiky) = (active[0].clone(), active[1].clone());
    // The spiky key's past: one verification an hour for two days, ending half an hour ago
    // (a baseline of about 1 an hour); the canary marked.
    let (c, k) = (canary.clone(), spiky.clone());
    with_store(&db, move |s| {
        let kid = s.kid_of(&k).unwrap().unwrap();
        let now = Utc::now().timestamp_millis();
        let rows: Vec<RawHistoryRow> = (0..48)
            .map(|i| {
                let at = now - 1_800_000 - (48 - i) * 3_600_000;
                RawHistoryRow {
                    kid,
                    at,
                    verification_count: Some(i + 1),
                    last_verified_on: Some(at),
                    last_verified_ip: Some("203.0.113.1".into()),
                    status: KeyStatus::Active,
                    delta: 1,
                }
            })
            .collect();
        s.bulk_insert_history(&rows).unwrap();
        s.set_canary(&c, true).unwrap();
    })
    .await;
    let now = Utc::now();
    assert!(sb.verify_as(&canary, "198.51.100.23", now, 1));
    assert!(sb.verify_as(&spiky, "198.51.100.24", now, 5_000));

    let dbg = db.clone();
    let dump = async move {
        let alerts = with_store(&dbg, |s| {
            s.alerts_list(&keyward_core::model::alert::AlertFilter {
                include_acknowledged: true,
                include_muted: true,
                ..Default::default()
            })
            .unwrap()
            .alerts
            .iter()
            .map(|a| format!("{} {} {:?}", a.id, a.kind.as_str(), a.key_id))
            .collect::<Vec<_>>()
        })
        .await;
        let deliveries = support::cluster()
            .psql(
                dbg.rsplit('/').next().unwrap(),
                "SELECT string_agg(alert_id || ':' || destination || ':' || status, ' ') FROM deliveries",
            )
            .unwrap();
        format!("alerts {alerts:?}; deliveries {deliveries}")
    };
    let arrived = within(60, || {
        let (h, s) = (hook.received(), slack.received());
        async move {
            let (hk, sk) = (kinds(&h, false), kinds(&s, true));
            ["canary_tripped", "spike"]
                .iter()
                .all(|k| hk.iter().any(|x| x == k) && sk.iter().any(|x| x == k))
        }
    })
    .await;
    assert!(
        arrived,
        "the canary and the spike did not reach both receivers within 60 s: {}",
        dump.await
    );
    // A few more syncs and delivery rounds: nothing is sent again.
    let runs_before = with_store(&db, |s| s.runs(100).unwrap().len()).await;
    eventually(30, "three more syncs", || {
        let db = db.clone();
        async move { with_store(&db, |s| s.runs(100).unwrap().len()).await >= runs_before + 3 }
    })
    .await;

    for (name, got, slack_shape) in [
        ("webhook", hook.received(), false),
        ("slack", slack.received(), true),
    ] {
        assert!(got.iter().all(|g| g.valid), "{name}: {got:?}");
        let mut k = kinds(&got, slack_shape);
        k.sort();
        assert_eq!(k, ["canary_tripped", "spike"], "{name}: each exactly once");
    }
    let h = hook.received();
    let canary_event = h
        .iter()
        .find(|g| g.body["data"]["alert"]["kind"] == "canary_tripped")
        .unwrap();
    assert_eq!(canary_event.body["data"]["key"]["id"], canary.as_str());
    assert_eq!(canary_event.body["data"]["alert"]["severity"], "critical");
    assert!(
        canary_event.body["data"]["link"]
            .as_str()
            .unwrap()
            .starts_with("https://keyward.example.com/alerts/")
    );
    assert_eq!(canary_event.signatures, 1);

    // The metrics say the same.
    let text = get_text(&format!("{base}/metrics")).await;
    for want in [
        "keyward_leader 1",
        "keyward_deliveries_total{destination=\"ops\",outcome=\"delivered\"} 2",
        "keyward_deliveries_total{destination=\"team\",outcome=\"delivered\"} 2",
        "keyward_alerts_raised_total{kind=\"canary_tripped\"} 1",
        "keyward_keys{status=\"active\"}",
        "keyward_sync_runs_total{outcome=\"ok\"}",
        "keyward_lease_holder{epoch=\"1\",holder=\"replica-a\"} 1",
        "keyward_kinde_requests_total{kind=\"list\"}",
        "# TYPE keyward_kinde_responses_total counter",
        "keyward_kinde_responses_total{code=\"200\"} ",
        "keyward_kinde_responses_total{code=\"transport\"} 0\n",
    ] {
        assert!(text.contains(want), "{want} not in\n{text}");
    }
    // Every answer from this healthy sandbox was a 200.
    let codes: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("keyward_kinde_responses_total{code=\""))
        .filter(|l| !l.ends_with(" 0"))
        .map(|l| l.split('"').next().unwrap())
        .collect();
    assert_eq!(codes, ["200"], "{text}");

    stop.cancel();
    running.done.await.unwrap().unwrap();
    // A clean stop gives the lease up at once.
    let valid = with_store(&db, |s| {
        let mut c = keyward_server::pg::get(s.pool()).unwrap();
        keyward_server::lease::holder(&mut c)
            .unwrap()
            .unwrap()
            .valid
    })
    .await;
    assert!(!valid, "the lease is released on shutdown");
    hook.stop();
    slack.stop();
    sb.shutdown().await;
}

/// A sandbox that throttles (3 requests a minute for the server's M2M app) answers the
/// server's sync with 429s: `/metrics` counts them by status code beside the 200s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinde_answers_are_counted_by_status_code_and_429s_show() {
    let sb = kinde_sandbox::spawn(
        "127.0.0.1:0".parse().unwrap(),
        Config {
            extra_keys: 12,
            rng_seed: Some(7),
            rate_limit_per_min: Some(3),
            ..Config::default()
        },
    )
    .await
    .expect("sandbox starts");
    let db = support::fresh_db();
    let cfg =
        config::from_str("", &env_for(&sb, &db, sb.client_secret()), Need::Everything).unwrap();
    let home = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    // A 429 asks for up to a minute: this client does not wait that long, so the sync ends
    // (partial or failed) and the next one meets the limit again.
    let client = ClientOptions {
        max_rate_limit_wait: Duration::from_secs(1),
        ..fast()
    };
    let running = serve::start(
        cfg,
        ServeOptions {
            client: Some(client),
            home: Some(home.path().to_path_buf()),
            replica: Some("throttled".into()),
        },
        stop.clone(),
    )
    .await
    .unwrap();
    let url = format!("http://{}/metrics", running.addr);
    let sample = |text: &str, code: &str| -> f64 {
        let prefix = format!("keyward_kinde_responses_total{{code=\"{code}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    eventually(60, "a 429 counted in /metrics", || {
        let url = url.clone();
        async move { sample(&get_text(&url).await, "429") >= 1.0 }
    })
    .await;
    let text = get_text(&url).await;
    // The token's answer and the 3 requests a minute allowed were 200s; the sandbox refused
    // as many as the server counted (give or take a sync under way between the two reads).
    assert!(sample(&text, "200") >= 4.0, "{text}");
    let (counted, refused) = (sample(&text, "429"), sb.stats().rate_limited as f64);
    assert!(
        counted >= 1.0 && counted <= refused,
        "{counted} vs {refused}: {text}"
    );
    assert_eq!(sample(&text, "transport"), 0.0, "{text}");
    assert!(
        text.contains("keyward_kinde_throttled_total "),
        "the 429s also count as throttled: {text}"
    );
    stop.cancel();
    running.done.await.unwrap().unwrap();
    sb.shutdown().await;
}

// ------------------------------------------------------------------ the binary's errors

/// Runs the binary with only `env` (and PATH), returns (exit code, stdout, stderr).
fn run_bin(args: &[&str], env: &HashMap<String, String>) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `serve` until its log contains `want` (at most 60 s), then kills it; returns the log.
fn serve_until(env: &HashMap<String, String>, want: &str) -> String {
    let mut child = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            if tx
                .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                .is_err()
            {
                break;
            }
        }
    });
    let mut log = String::new();
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until && !log.contains(want) {
        if let Ok(s) = rx.recv_timeout(Duration::from_millis(200)) {
            log.push_str(&s);
        }
        if let Ok(Some(_)) = child.try_wait() {
            while let Ok(s) = rx.recv_timeout(Duration::from_millis(200)) {
                log.push_str(&s);
            }
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    log
}

fn refused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_database_wrong_secret_and_unreachable_kinde_are_clear_errors() {
    let sb = sandbox(3).await;
    let db = support::fresh_db();
    let good = env_for(&sb, &db, sb.client_secret());
    let (code, _, err) = tokio::task::spawn_blocking({
        let e = good.clone();
        move || run_bin(&["migrate"], &e)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");

    // Nothing listens on the database's port.
    let mut bad_db = good.clone();
    bad_db.insert(
        config::ENV_DATABASE_URL.into(),
        format!(
            "postgres://keyward:hunter2@127.0.0.1:{}/keyward",
            refused_port()
        ),
    );
    let (code, out, _) = tokio::task::spawn_blocking({
        let e = bad_db.clone();
        move || run_bin(&["check"], &e)
    })
    .await
    .unwrap();
    assert_ne!(code, 0);
    assert!(
        out.contains("database    FAIL  [connection_refused]"),
        "{out}"
    );
    assert!(
        out.contains("kinde       ok    token"),
        "Kinde still checked: {out}"
    );
    assert!(
        !out.contains("hunter2"),
        "the password is never shown: {out}"
    );
    let (code, _, err) = tokio::task::spawn_blocking({
        let e = bad_db.clone();
        move || run_bin(&["serve"], &e)
    })
    .await
    .unwrap();
    assert_eq!(code, 8, "{err}");
    assert!(err.contains("error [connection_refused]"), "{err}");
    assert!(err.contains("hint: "), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    // A wrong client secret.
    let mut wrong = good.clone();
    wrong.insert(
        config::ENV_KINDE_CLIENT_SECRET.into(),
        "not-the-secret".into(),
    );
    let (code, out, _) = tokio::task::spawn_blocking({
        let e = wrong.clone();
        move || run_bin(&["check"], &e)
    })
    .await
    .unwrap();
    assert_ne!(code, 0);
    assert!(out.contains("database    ok"), "{out}");
    assert!(out.contains("kinde       FAIL  token"), "{out}");
    assert!(!out.contains("not-the-secret"), "{out}");
    let log = tokio::task::spawn_blocking({
        let e = wrong.clone();
        move || serve_until(&e, "sync failed")
    })
    .await
    .unwrap();
    assert!(log.contains("sync failed"), "{log}");
    assert!(log.contains("invalid_client"), "{log}");
    assert!(!log.contains("not-the-secret"), "{log}");

    // Kinde unreachable.
    let mut away = good.clone();
    away.insert(
        config::ENV_KINDE_DOMAIN.into(),
        format!("http://127.0.0.1:{}", refused_port()),
    );
    let (code, out, _) = tokio::task::spawn_blocking({
        let e = away.clone();
        move || run_bin(&["check", "--json"], &e)
    })
    .await
    .unwrap();
    assert_ne!(code, 0);
    let v: Value = serde_json::from_str(out.trim()).expect("check --json");
    assert_eq!(v["healthy"], false);
    assert_eq!(v["database"]["ok"], true);
    let failed: Vec<&str> = v["kinde"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "fail")
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(failed, ["connection"], "{v}");
    let log = tokio::task::spawn_blocking({
        let e = away.clone();
        move || serve_until(&e, "sync failed")
    })
    .await
    .unwrap();
    assert!(
        log.contains("sync failed") && log.contains("connection_refused"),
        "{log}"
    );

    // With everything right, check passes.
    let (code, out, _) = tokio::task::spawn_blocking({
        let e = good.clone();
        move || run_bin(&["check"], &e)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("all checks passed"), "{out}");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_code_message_hint_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "database_url = \"postgres://x@localhost/k\"\nlisten_on = \"x\"\n",
    )
    .unwrap();
    let p = path.to_string_lossy().into_owned();
    let env = HashMap::new();
    let (code, _, err) = run_bin(&["--config", &p, "--json", "check"], &env);
    assert_eq!(code, 2, "{err}");
    let v: Value = serde_json::from_str(err.trim()).expect("{code, message, hint} on stderr");
    assert_eq!(v["code"], "invalid_input");
    assert!(v["message"].as_str().unwrap().contains("listen_on"), "{v}");
    assert!(!v["hint"].as_str().unwrap().is_empty());

    // A --config that does not exist.
    let (code, _, err) = run_bin(&["--config", "/nonexistent/k.toml", "serve"], &env);
    assert_eq!(code, 10, "{err}");
    assert!(err.contains("error [io]") && err.contains("hint:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // No database at all.
    let (code, _, err) = run_bin(&["--config", "/nonexistent/k.toml", "migrate"], &env);
    assert_ne!(code, 0);
    assert!(!err.contains("panicked"), "{err}");
    let (code, _, err) = run_bin(&["migrate"], &env);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no database URL"), "{err}");

    // --version.
    let (code, out, _) = run_bin(&["--version"], &env);
    assert_eq!(code, 0);
    assert!(out.starts_with("keyward-server "), "{out}");

    // migrate applies everything, then nothing.
    let db = support::fresh_db();
    let mut e = HashMap::new();
    e.insert(config::ENV_DATABASE_URL.to_string(), db);
    let (code, out, err) = run_bin(&["migrate"], &e);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("0100_deliveries.sql") && out.contains("0101_lease.sql"),
        "{out}"
    );
    let (code, out, _) = run_bin(&["migrate", "--json"], &e);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["applied"].as_array().unwrap().len(), 0);
}

// ------------------------------------------------------------------ the lease and failover

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_has_one_holder_and_fences_a_lapsed_one() {
    let db = support::fresh_db();
    let url = db.clone();
    tokio::task::spawn_blocking(move || {
        use keyward_server::lease::{acquire_or_renew, holder};
        keyward_server::pg::migrate(&url).unwrap();
        let pool = keyward_server::pg::pool(&url).unwrap();
        let mut a = keyward_server::pg::get(&pool).unwrap();
        let mut b = keyward_server::pg::get(&pool).unwrap();
        let ttl = Duration::from_millis(600);
        let fa = acquire_or_renew(&mut a, "a", ttl)
            .unwrap()
            .expect("a takes the free lease");
        assert_eq!(fa.epoch, 1);
        assert_eq!(acquire_or_renew(&mut b, "b", ttl).unwrap(), None, "b waits");
        assert_eq!(
            acquire_or_renew(&mut a, "a", ttl).unwrap(),
            Some(fa.clone()),
            "a renews"
        );
        // a stops renewing; once the lease lapses b takes it at a new epoch.
        let fb = loop {
            std::thread::sleep(Duration::from_millis(100));
            if let Some(f) = acquire_or_renew(&mut b, "b", ttl).unwrap() {
                break f;
            }
        };
        assert_eq!(fb.epoch, 2);
        assert_eq!(holder(&mut a).unwrap().unwrap().holder, "b");
        // a's writes are fenced: its epoch is stale inside the transaction.
        let mut tx = a.transaction().unwrap();
        let e = fa.check(&mut tx).unwrap_err();
        assert!(e.message.contains("lease lapsed"), "{}", e.message);
        drop(tx);
        let mut tx = b.transaction().unwrap();
        fb.check(&mut tx).unwrap();
        tx.commit().unwrap();
        // a cannot take it back while b renews.
        assert_eq!(acquire_or_renew(&mut a, "a", ttl).unwrap(), None);
        drop((a, b));
        std::mem::forget(pool);
    })
    .await
    .unwrap();
}

fn free_port() -> u16 {
    refused_port()
}

async fn health_of(port: u16) -> Option<Value> {
    let http = keyward_server::deliver::send::http_client(Duration::from_secs(2));
    let r = http
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .ok()?;
    r.json().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_killed_during_a_sync_is_replaced_with_nothing_lost_or_twice() {
    const KEYS: usize = 400;
    let sb = kinde_sandbox::spawn(
        "127.0.0.1:0".parse().unwrap(),
        Config {
            seed: Seed::Empty,
            extra_keys: KEYS,
            rng_seed: Some(11),
            // Slow details: a first sync takes seconds, long enough to be killed in.
            detail_latency_ms: 150,
            ..Config::default()
        },
    )
    .await
    .unwrap();
    let db = support::fresh_db();
    let dbname = db.rsplit('/').next().unwrap().to_string();
    let mut env = env_for(&sb, &db, sb.client_secret());
    env.insert(config::ENV_SYNC_INTERVAL.into(), "2".into());
    // Migrated once, before the replicas start.
    let (code, _, err) = run_bin(&["migrate"], &env);
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[lease]\nttl_secs = 4\nrenew_secs = 1\n").unwrap();
    let cfg = cfg.to_string_lossy().into_owned();
    let spawn = |port: u16| {
        Command::new(BIN)
            .args(["--config", &cfg, "serve"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KEYWARD_SERVER_LOG", "warn")
            .env("KEYWARD_HOME", dir.path())
            .envs(&env)
            .env(config::ENV_LISTEN, format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let ports = [free_port(), free_port()];
    let mut children = vec![spawn(ports[0]), spawn(ports[1])];

    // One of them leads and is in the middle of its first sync.
    let mut leader = None;
    let until = Instant::now() + Duration::from_secs(60);
    while leader.is_none() && Instant::now() < until {
        for (i, p) in ports.iter().enumerate() {
            if health_of(*p).await.is_some_and(|h| h["leader"] == true) {
                leader = Some(i);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let leader = leader.expect("a replica leads within 60 s");
    assert!(
        within(60, || {
            // Listed, some details fetched and some still owed.
            let n = support::cluster()
                .psql(
                    &dbname,
                    "SELECT (SELECT count(*) FROM sync_runs WHERE status = 'running') = 1 \
                     AND EXISTS (SELECT 1 FROM keys WHERE needs_detail) \
                     AND EXISTS (SELECT 1 FROM keys WHERE NOT needs_detail)",
                )
                .unwrap_or_default();
            async move { n == "t" }
        })
        .await,
        "the leader's sync runs"
    );
    let seen_before = support::cluster()
        .psql(
            &dbname,
            "SELECT count(*) || ' keys listed, ' || count(*) FILTER (WHERE needs_detail) \
             || ' still owing details' FROM keys",
        )
        .unwrap();
    children[leader].kill().unwrap(); // SIGKILL
    let killed_at = Instant::now();
    let _ = children[leader].wait();
    let other = 1 - leader;

    // The other replica takes the lease and finishes the work.
    assert!(
        within(60, || async move {
            health_of(ports[other])
                .await
                .is_some_and(|h| h["leader"] == true)
        })
        .await,
        "the survivor leads"
    );
    let took_over = killed_at.elapsed();
    let url = db.clone();
    assert!(
        within(90, || {
            let url = url.clone();
            async move {
                with_store(&url, |s| {
                    let keys = s.all_keys().unwrap();
                    keys.len() == KEYS && keys.iter().all(|k| !k.view.details_owed)
                })
                .await
            }
        })
        .await,
        "the survivor's sync completes every key"
    );
    let finished = killed_at.elapsed();
    println!(
        "failover: leader killed during its sync ({seen_before}, of {KEYS}); the other \
         replica led after {:.1} s and had every key's details after {:.1} s",
        took_over.as_secs_f64(),
        finished.as_secs_f64()
    );
    // Nothing twice: one row per key, no history row repeated for the same counters.
    let q = |sql: &str| support::cluster().psql(&dbname, sql).unwrap();
    assert_eq!(q("SELECT count(*) FROM keys"), KEYS.to_string());
    assert_eq!(q("SELECT count(DISTINCT id) FROM keys"), KEYS.to_string());
    // Against the sandbox's own listing: nothing lost, nothing extra.
    let mut held: Vec<String> = q("SELECT string_agg(id, ',') FROM keys WHERE NOT gone")
        .split(',')
        .map(str::to_string)
        .collect();
    held.sort();
    assert_eq!(held, sandbox_ids(&sb).await, "the sandbox's own listing");
    assert_eq!(
        q(
            "SELECT count(*) FROM (SELECT kid, verification_count FROM history \
           GROUP BY 1, 2 HAVING count(*) > 1) d"
        ),
        "0"
    );
    assert_eq!(
        q("SELECT count(*) FROM (SELECT fingerprint FROM alerts GROUP BY 1 HAVING count(*) > 1) d"),
        "0"
    );
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_down_is_a_503_and_after_a_restart_the_next_sync_completes() {
    // A cluster of its own: stopping the shared one would cut the other tests.
    let own = tokio::task::spawn_blocking(|| pg_cluster::PgCluster::start().unwrap())
        .await
        .unwrap();
    let db = own.fresh_db().unwrap();
    let dbname = db.rsplit('/').next().unwrap().to_string();
    let sb = sandbox(5).await;
    let cfg = config::from_str(
        "[lease]\nttl_secs = 4\nrenew_secs = 1\n",
        &env_for(&sb, &db, sb.client_secret()),
        Need::Everything,
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    let running = serve::start(
        cfg,
        ServeOptions {
            client: Some(fast()),
            home: Some(home.path().to_path_buf()),
            replica: Some("solo".into()),
        },
        stop.clone(),
    )
    .await
    .unwrap();
    let healthz = format!("http://{}/healthz", running.addr);
    eventually(60, "a first sync", || {
        let url = healthz.clone();
        async move { !get_json(&url).await.1["last_sync_finished_at"].is_null() }
    })
    .await;

    let own = Arc::new(own);
    let o = Arc::clone(&own);
    tokio::task::spawn_blocking(move || o.stop().unwrap())
        .await
        .unwrap();
    let (status, h) = get_json(&healthz).await;
    assert_eq!(status, 503, "{h}");
    assert_ne!(h["database"], "ok");
    assert!(!h["database"].as_str().unwrap().is_empty(), "{h}");
    eventually(30, "the replica stops leading without its database", || {
        let url = healthz.clone();
        async move { get_json(&url).await.1["leader"] == false }
    })
    .await;

    let o = Arc::clone(&own);
    tokio::task::spawn_blocking(move || o.start_again().unwrap())
        .await
        .unwrap();
    let before = own
        .psql(
            &dbname,
            "SELECT count(*) FROM sync_runs WHERE status = 'ok'",
        )
        .unwrap();
    let before: u32 = before.parse().unwrap();
    eventually(60, "a sync completes after the restart", || {
        let n: u32 = own
            .psql(
                &dbname,
                "SELECT count(*) FROM sync_runs WHERE status = 'ok'",
            )
            .unwrap_or_default()
            .parse()
            .unwrap_or(0);
        let url = healthz.clone();
        async move { n > before && get_json(&url).await.0 == 200 }
    })
    .await;
    let (_, h) = get_json(&healthz).await;
    assert_eq!(h["database"], "ok");
    assert_eq!(h["leader"], true);
    stop.cancel();
    running.done.await.unwrap().unwrap();
    sb.shutdown().await;
    // Dropped off the async threads (it stops PostgreSQL with a command).
    let _ = tokio::task::spawn_blocking(move || drop(own)).await;
}

/// PostgreSQL restarted DURING a sync (not between two): the leader's first sync of 300 keys is
/// under way (listed, details still owed, its run `running`) when every connection is cut. The
/// server reconnects, leads again, and the next sync completes with exactly the sandbox's keys,
/// nothing written twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_restarted_during_a_sync_the_server_reconnects_and_the_next_sync_completes() {
    const KEYS: usize = 300;
    let own = tokio::task::spawn_blocking(|| pg_cluster::PgCluster::start().unwrap())
        .await
        .unwrap();
    let db = own.fresh_db().unwrap();
    let dbname = db.rsplit('/').next().unwrap().to_string();
    let sb = kinde_sandbox::spawn(
        "127.0.0.1:0".parse().unwrap(),
        Config {
            extra_keys: KEYS,
            rng_seed: Some(13),
            // Slow details: the first sync takes seconds, long enough to restart under it.
            detail_latency_ms: 100,
            ..Config::default()
        },
    )
    .await
    .unwrap();
    let cfg = config::from_str(
        "[lease]\nttl_secs = 4\nrenew_secs = 1\n",
        &env_for(&sb, &db, sb.client_secret()),
        Need::Everything,
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    let running = serve::start(
        cfg,
        ServeOptions {
            client: Some(fast()),
            home: Some(home.path().to_path_buf()),
            replica: Some("solo".into()),
        },
        stop.clone(),
    )
    .await
    .unwrap();
    let healthz = format!("http://{}/healthz", running.addr);
    let own = Arc::new(own);
    let q = {
        let own = Arc::clone(&own);
        let dbname = dbname.clone();
        move |sql: &str| own.psql(&dbname, sql).unwrap_or_default()
    };

    // The first sync is under way: its run is `running`, keys listed, details still owed.
    let mut under_way = String::new();
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        under_way = q(
            "SELECT r.id || ' ' || (extract(epoch FROM now()) * 1000)::bigint || ' ' || \
                    (SELECT count(*) FILTER (WHERE needs_detail) FROM keys) \
             FROM sync_runs r WHERE r.status = 'running' \
               AND (SELECT count(*) FILTER (WHERE needs_detail) FROM keys) >= 100 \
               AND EXISTS (SELECT 1 FROM keys WHERE NOT needs_detail)",
        );
        if !under_way.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut f = under_way.split(' ').map(|v| v.parse::<i64>().unwrap());
    let (run, restarted_at, owed) = match (f.next(), f.next(), f.next()) {
        (Some(r), Some(t), Some(o)) => (r, t, o),
        _ => panic!("no sync under way within 60 s"),
    };
    let o = Arc::clone(&own);
    tokio::task::spawn_blocking(move || o.restart().unwrap())
        .await
        .unwrap();
    let t0 = Instant::now();

    // The run under way had not finished when PostgreSQL went: it did not end before the
    // restart (it ended after it, failed, or never recorded an end).
    let ended = q(&format!(
        "SELECT coalesce(finished_at::text, 'none') || ' ' || status FROM sync_runs \
         WHERE id = {run}"
    ));
    let end = ended.split(' ').next().unwrap_or("none");
    assert!(
        end == "none" || end.parse::<i64>().unwrap() >= restarted_at,
        "run {run} ended before the restart: {ended}"
    );

    // The server reconnects and leads again; a sync started after the restart completes.
    let url = db.clone();
    assert!(
        within(120, || {
            let q = q.clone();
            let url = url.clone();
            async move {
                let ok = q(&format!(
                    "SELECT count(*) FROM sync_runs WHERE status = 'ok' AND id > {run}"
                ));
                ok.parse::<u32>().unwrap_or(0) > 0
                    && with_store(&url, |s| {
                        let keys = s.all_keys().unwrap();
                        keys.len() == KEYS && keys.iter().all(|k| !k.view.details_owed)
                    })
                    .await
            }
        })
        .await,
        "a sync completes after the restart: runs {}",
        q("SELECT string_agg(id || ':' || status, ' ' ORDER BY id) FROM sync_runs")
    );
    let (status, h) = get_json(&healthz).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["database"], "ok");
    assert_eq!(h["leader"], true);
    println!(
        "PostgreSQL restarted during run {run} ({owed} of {KEYS} keys still owing details); \
         run {run} just after: {ended}; a later sync completed {:.1} s after the restart; \
         runs now: {}",
        t0.elapsed().as_secs_f64(),
        q("SELECT string_agg(id || ':' || status, ' ' ORDER BY id) FROM sync_runs")
    );
    // Exactly the sandbox's keys, nothing twice.
    assert_eq!(q("SELECT count(DISTINCT id) FROM keys"), KEYS.to_string());
    assert_eq!(
        q(
            "SELECT count(*) FROM (SELECT kid, verification_count FROM history \
           GROUP BY 1, 2 HAVING count(*) > 1) d"
        ),
        "0"
    );
    stop.cancel();
    running.done.await.unwrap().unwrap();
    sb.shutdown().await;
    // Dropped off the async threads (it stops PostgreSQL with a command).
    drop(q);
    let _ = tokio::task::spawn_blocking(move || drop(own)).await;
}

// ------------------------------------------------------------------ benchmarks (figures)
//
// `cargo test [--release] -p keyward-server --test serve -- --ignored --nocapture bench_`
// prints: the time from the verification that raises an alert to the webhook receiving it
// (p50, p95; goal p95 < 2 s), the failover time over 5 kills (goal < 30 s), and the server's
// memory after syncing 10,000 keys.

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// One figure as `make bench` gathers them (`bench/server.sh` collects the `FIGURE` lines):
/// what, the value, the goal, and whether it is met or by how much it is missed.
fn figure(what: &str, value: &str, goal: &str, missed_by: Option<String>) {
    let verdict = match missed_by {
        None if goal == "none set" => "recorded".to_string(),
        None => "met".to_string(),
        Some(by) => format!("MISSED by {by}"),
    };
    println!("FIGURE {what}: {value} (goal {goal}): {verdict}");
}

/// `Some("x s (y %)")` when `got` is above `limit` seconds.
fn over(got: f64, limit: f64) -> Option<String> {
    (got >= limit).then(|| {
        format!(
            "{:.2} s ({:.0} % over)",
            got - limit,
            (got / limit - 1.0) * 100.0
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a benchmark: prints figures (--ignored --nocapture bench_)"]
async fn bench_alert_to_webhook_latency() {
    const N: usize = 20;
    let sb = sandbox(20).await;
    let db = support::fresh_db();
    let key = keyward_server::config::WebhookSecret::parse(
        "t",
        &keyward_core::secret::Secret::new(SECRET),
    )
    .unwrap()
    .key()
    .to_vec();
    let hook = Receiver::start(Kind::Webhook, vec![key], vec![]).await;
    let toml = format!(
        "[delivery]\nretry_base_ms = 100\n[[webhook]]\nname = \"ops\"\nurl = \"{}\"\n\
         secret = \"{SECRET}\"\nkinds = [\"canary_tripped\"]\n",
        hook.url()
    );
    let cfg = config::from_str(
        &toml,
        &env_for(&sb, &db, sb.client_secret()),
        Need::Everything,
    )
    .unwrap();
    let interval = cfg.sync_interval;
    let home = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    let running = serve::start(
        cfg,
        ServeOptions {
            client: Some(fast()),
            home: Some(home.path().to_path_buf()),
            replica: Some("bench".into()),
        },
        stop.clone(),
    )
    .await
    .unwrap();
    let healthz = format!("http://{}/healthz", running.addr);
    eventually(60, "a first sync", || {
        let url = healthz.clone();
        async move { !get_json(&url).await.1["last_sync_finished_at"].is_null() }
    })
    .await;
    let canary = with_store(&db, |s| {
        let k = s
            .all_keys()
            .unwrap()
            .into_iter()
            .find(|k| k.view.key.status == KeyStatus::Active)
            .unwrap();
        s.set_canary(&k.view.key.id, true).unwrap();
        k.view.key.id
    })
    .await;
    let mut lat = Vec::new();
    let mut from_sync = Vec::new();
    for i in 0..N {
        // Spread the verifications over the sync cycle.
        tokio::time::sleep(Duration::from_millis((i as u64 * 337) % 1000)).await;
        let t0 = Instant::now();
        assert!(sb.verify_as(&canary, "198.51.100.50", Utc::now(), 1));
        eventually(30, "the canary's alert at the webhook", || {
            let n = hook.received().len();
            async move { n > i }
        })
        .await;
        let got = &hook.received()[i];
        lat.push(got.arrived - t0);
        // From the sync that observed it (the alert's `at`) to the receiver.
        let at =
            chrono::DateTime::parse_from_rfc3339(got.body["data"]["alert"]["at"].as_str().unwrap())
                .unwrap();
        from_sync.push(
            (got.arrived_at - at.with_timezone(&Utc))
                .to_std()
                .unwrap_or_default(),
        );
    }
    lat.sort();
    from_sync.sort();
    let (p50, p95) = (
        percentile(&from_sync, 50).as_secs_f64(),
        percentile(&from_sync, 95).as_secs_f64(),
    );
    figure(
        &format!("alert to webhook, from the sync that raised it, {N} alerts"),
        &format!("p50 {p50:.3} s, p95 {p95:.3} s"),
        "p95 < 2 s",
        over(p95, 2.0),
    );
    println!(
        "bench: verification to webhook over {N} tripped canaries (a sync every {} s): p50 \
         {:.2} s, p95 {:.2} s, max {:.2} s",
        interval.as_secs(),
        percentile(&lat, 50).as_secs_f64(),
        percentile(&lat, 95).as_secs_f64(),
        lat.last().unwrap().as_secs_f64()
    );
    stop.cancel();
    running.done.await.unwrap().unwrap();
    hook.stop();
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: prints figures (--ignored --nocapture bench_)"]
async fn bench_failover_over_5_kills() {
    let sb = sandbox(50).await;
    let db = support::fresh_db();
    let mut env = env_for(&sb, &db, sb.client_secret());
    env.insert(config::ENV_SYNC_INTERVAL.into(), "5".into());
    let (code, _, err) = run_bin(&["migrate"], &env);
    assert_eq!(code, 0, "{err}");
    let home = tempfile::tempdir().unwrap();
    // The default lease (TTL 15 s, renewed every 5 s), as shipped.
    let spawn = |port: u16| {
        Command::new(BIN)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KEYWARD_SERVER_LOG", "warn")
            .env("KEYWARD_HOME", home.path())
            .envs(&env)
            .env(config::ENV_LISTEN, format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let ports = [free_port(), free_port()];
    let mut children = vec![spawn(ports[0]), spawn(ports[1])];
    let mut times = Vec::new();
    for round in 0..5 {
        let mut leader = None;
        let until = Instant::now() + Duration::from_secs(90);
        while leader.is_none() && Instant::now() < until {
            for (i, p) in ports.iter().enumerate() {
                if health_of(*p).await.is_some_and(|h| h["leader"] == true) {
                    leader = Some(i);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let leader = leader.expect("a replica leads");
        let other = 1 - leader;
        children[leader].kill().unwrap();
        let t0 = Instant::now();
        let _ = children[leader].wait();
        assert!(
            within(90, || async move {
                health_of(ports[other])
                    .await
                    .is_some_and(|h| h["leader"] == true)
            })
            .await,
            "round {round}: the other replica leads"
        );
        times.push(t0.elapsed());
        println!(
            "bench: failover {}: {:.1} s",
            round + 1,
            t0.elapsed().as_secs_f64()
        );
        children[leader] = spawn(ports[leader]);
        eventually(30, "the restarted replica answers", || async move {
            health_of(ports[leader]).await.is_some()
        })
        .await;
    }
    times.sort();
    let max = times.last().unwrap().as_secs_f64();
    figure(
        "failover over 5 SIGKILLs of the leader (lease TTL 15 s, renewal 5 s)",
        &format!(
            "median {:.1} s, max {max:.1} s",
            percentile(&times, 50).as_secs_f64()
        ),
        "< 30 s each",
        over(max, 30.0),
    );
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: prints figures (--ignored --nocapture bench_)"]
async fn bench_server_memory_at_10000_keys() {
    const KEYS: usize = 10_000;
    let sb = sandbox(KEYS).await;
    let db = support::fresh_db();
    let mut env = env_for(&sb, &db, sb.client_secret());
    env.insert(config::ENV_SYNC_INTERVAL.into(), "3600".into());
    let (code, _, err) = run_bin(&["migrate"], &env);
    assert_eq!(code, 0, "{err}");
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KEYWARD_SERVER_LOG", "warn")
        .env("KEYWARD_HOME", home.path())
        .envs(&env)
        .env(config::ENV_LISTEN, format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let dbname = db.rsplit('/').next().unwrap().to_string();
    let q = |sql: &str| support::cluster().psql(&dbname, sql).unwrap_or_default();
    // A whole first sync: listed, and every key's details fetched.
    eventually(900, "the first sync of 10,000 keys", || {
        let done = q(
            "SELECT (SELECT count(*) FROM sync_runs WHERE status = 'ok') > 0 \
                      AND (SELECT count(*) FROM keys WHERE needs_detail) = 0 \
                      AND (SELECT count(*) FROM keys) > 0",
        );
        async move { done == "t" }
    })
    .await;
    let run = q(
        "SELECT duration_ms || ' ms, ' || details_fetched || ' details' FROM sync_runs \
                 WHERE status = 'ok' ORDER BY id LIMIT 1",
    );
    let synced = started.elapsed();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    let keys = q("SELECT count(*) FROM keys");
    println!(
        "bench: keyward-server after syncing {keys} keys into PostgreSQL (the sync: {run}; \
         {:.1} s from start, {} build): RSS {:.1} MB, peak {:.1} MB",
        synced.as_secs_f64(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        field("VmRSS:"),
        field("VmHWM:")
    );
    figure(
        &format!("keyward-server's memory after a first sync of {keys} keys"),
        &format!(
            "RSS {:.1} MB, peak {:.1} MB",
            field("VmRSS:"),
            field("VmHWM:")
        ),
        "none set",
        None,
    );
    let _ = child.kill();
    let _ = child.wait();
    sb.shutdown().await;
}
