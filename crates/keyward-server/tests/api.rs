//! Team mode over real parts: a kinde-sandbox on 127.0.0.1:0, a throwaway PostgreSQL (one
//! cluster for this binary, a database per test), the server's HTTP API over 127.0.0.1:0, and
//! the `keyward-server` binary for `member add|list|revoke`.
//!
//! - members through the binary: the token printed once, only its hash stored, names checked;
//! - every operation above a viewer's role refused to a viewer with `forbidden` and audited;
//! - an operator's rotate audited with the operator's name and no drift alert after the sync;
//! - an SSE client sees a key changed in the sandbox (outside Keyward) after the sync;
//! - a revoked token fails at once; wrong tokens from one address get 429 after 5;
//! - TLS with an rcgen certificate; plain HTTP on 0.0.0.0 refused;
//! - `pg_dump` and the server's log hold none of the secrets of the run: the members' tokens,
//!   the Kinde client secret, the new secrets of a rotate, a create, a re-issue and a canary,
//!   and the keys pasted to `key_verify` and `doctor_key`.

mod support;

use std::collections::HashMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use keyward_core::kinde::ClientOptions;
use keyward_core::operations::{self, Role};
use keyward_server::api::members;
use keyward_server::config::{self, Need};
use keyward_server::serve::{self, Running, ServeOptions};
use kinde_sandbox::{Config, Sandbox, Seed};
use serde_json::{Value, json};
use sha2::Digest as _;
use tokio_util::sync::CancellationToken;

const BIN: &str = env!("CARGO_BIN_EXE_keyward-server");

// ------------------------------------------------------------------ the server's log

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything the server logged in this process (debug level for its own crates).
fn log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(Arc::clone(&buf));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,keyward_server=debug,keyward_core=debug",
            ))
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .try_init();
        buf
    })
}

// ------------------------------------------------------------------ helpers

async fn sandbox(keys: usize) -> Sandbox {
    kinde_sandbox::spawn(
        "127.0.0.1:0".parse().unwrap(),
        Config {
            seed: Seed::Empty,
            extra_keys: keys,
            rng_seed: Some(11),
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

fn env_for(sb: &Sandbox, db_url: &str) -> HashMap<String, String> {
    [
        (config::ENV_DATABASE_URL, db_url.to_string()),
        (config::ENV_LISTEN, "127.0.0.1:0".to_string()),
        (config::ENV_KINDE_DOMAIN, sb.base_url()),
        (config::ENV_KINDE_CLIENT_ID, sb.client_id().to_string()),
        (
            config::ENV_KINDE_CLIENT_SECRET,
            sb.client_secret().to_string(),
        ),
        (config::ENV_SYNC_INTERVAL, "1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

static NEXT_REPLICA: AtomicUsize = AtomicUsize::new(1);

async fn start(toml: &str, env: &HashMap<String, String>, stop: &CancellationToken) -> Running {
    let cfg = config::from_str(toml, env, Need::Everything).unwrap();
    let home = tempfile::tempdir().unwrap().keep();
    serve::start(
        cfg,
        ServeOptions {
            client: Some(fast()),
            home: Some(home),
            // Each server its own replica id (two may share a database).
            replica: Some(format!(
                "replica-{}",
                NEXT_REPLICA.fetch_add(1, Ordering::SeqCst)
            )),
        },
        stop.clone(),
    )
    .await
    .expect("the server starts")
}

/// Adds a member straight in the database (the binary's path is tested on its own).
async fn add_member(db: &str, name: &str, role: Role) -> String {
    let (db, name) = (db.to_string(), name.to_string());
    tokio::task::spawn_blocking(move || {
        let pool = keyward_server::pg::pool(&db).unwrap();
        let t = members::add(&mut keyward_server::pg::get(&pool).unwrap(), &name, role)
            .unwrap()
            .token
            .expose()
            .to_string();
        drop(pool);
        t
    })
    .await
    .unwrap()
}

async fn revoke_member(db: &str, name: &str) {
    let (db, name) = (db.to_string(), name.to_string());
    tokio::task::spawn_blocking(move || {
        let pool = keyward_server::pg::pool(&db).unwrap();
        members::revoke(&mut keyward_server::pg::get(&pool).unwrap(), &name).unwrap();
        drop(pool);
    })
    .await
    .unwrap();
}

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    fn new(base: String) -> Client {
        Client {
            base,
            http: keyward_server::deliver::send::http_client(Duration::from_secs(60)),
        }
    }

    async fn send(
        &self,
        token: Option<&str>,
        forwarded: Option<&str>,
        op: &str,
        body: Value,
    ) -> (u16, HashMap<String, String>, Value) {
        let mut r = self
            .http
            .post(format!("{}/api/v1/ops/{op}", self.base))
            .json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(f) = forwarded {
            r = r.header("x-forwarded-for", f);
        }
        let r = r.send().await.expect("POST");
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        (status, headers, r.json().await.unwrap_or(Value::Null))
    }

    async fn op(&self, token: &str, op: &str, body: Value) -> (u16, Value) {
        let (s, _, v) = self.send(Some(token), None, op, body).await;
        (s, v)
    }

    async fn get(&self, token: Option<&str>, path: &str) -> (u16, Value) {
        let mut r = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let r = r.send().await.expect("GET");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// One Server-Sent Event.
#[derive(Debug)]
struct Sse {
    event: String,
    id: Option<String>,
    data: Value,
}

/// Reads events from an SSE response.
struct SseReader {
    resp: reqwest::Response,
    buf: String,
    /// The server ended the stream.
    ended: bool,
}

impl SseReader {
    async fn next(&mut self, timeout: Duration) -> Option<Sse> {
        let until = Instant::now() + timeout;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if event.is_empty() && data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some(Sse {
                    event,
                    id,
                    data: serde_json::from_str(&data).unwrap_or(Value::Null),
                });
            }
            let left = until.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Ok(Ok(Some(c))) => self.buf.push_str(&String::from_utf8_lossy(&c)),
                Ok(Ok(None)) => {
                    self.ended = true;
                    return None;
                }
                _ => return None,
            }
        }
    }
}

async fn sse(c: &Client, token: &str, path: &str, body: Option<Value>) -> SseReader {
    let r = match body {
        None => c.http.get(format!("{}{path}", c.base)),
        Some(b) => c.http.post(format!("{}{path}", c.base)).json(&b),
    };
    let resp = r
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("the stream opens");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    SseReader {
        resp,
        buf: String::new(),
        ended: false,
    }
}

async fn last_sync(c: &Client) -> Option<String> {
    c.get(None, "/healthz").await.1["last_sync_finished_at"]
        .as_str()
        .map(str::to_string)
}

/// Waits (at most `secs`) until a sync finished after `after` (RFC 3339 text compares in
/// order for one offset).
async fn sync_after(c: &Client, after: &str, secs: u64) -> String {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(s) = last_sync(c).await
            && s.as_str() > after
        {
            return s;
        }
        assert!(
            Instant::now() < until,
            "no sync finished after {after} within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

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

fn pg_dump(db_url: &str) -> String {
    let db = db_url.rsplit('/').next().unwrap();
    let port = support::cluster().port().to_string();
    let out = Command::new(pg_cluster::bin_dir().unwrap().join("pg_dump"))
        .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", db])
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ------------------------------------------------------------------ members, the binary

#[test]
fn members_are_added_listed_and_revoked_through_the_binary() {
    let db = support::fresh_db();
    let env: HashMap<String, String> = [(config::ENV_DATABASE_URL.to_string(), db.clone())].into();
    let (code, _, err) = run_bin(&["migrate"], &env);
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = run_bin(
        &[
            "member",
            "add",
            "alice@example.com",
            "--role",
            "operator",
            "--json",
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    let added: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(added["name"], "alice@example.com");
    assert_eq!(added["role"], "operator");
    let token = added["token"].as_str().unwrap().to_string();
    assert!(
        token.starts_with("kwp_") && token.len() == 4 + 43,
        "{token}"
    );

    let (code, out, err) = run_bin(&["member", "add", "bob", "--role", "viewer"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("kwp_"),
        "the plain answer shows the token once: {out}"
    );

    // Only the hash is kept.
    let name = db.rsplit('/').next().unwrap();
    let stored = support::cluster()
        .psql(
            name,
            "SELECT encode(token_sha256, 'hex') FROM members WHERE name = 'alice@example.com'",
        )
        .unwrap();
    assert_eq!(
        stored,
        format!("{:x}", sha2::Sha256::digest(token.as_bytes()))
    );

    let (code, out, _) = run_bin(&["member", "list", "--json"], &env);
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(out.trim()).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice@example.com", "bob"]);
    assert!(list[0]["last_used_at"].is_null() && list[0]["created_at"].is_string());
    assert!(!out.contains("kwp_"), "list shows no token: {out}");
    let (code, out, _) = run_bin(&["member", "list"], &env);
    assert_eq!(code, 0);
    assert!(
        out.contains("alice@example.com") && out.contains("never"),
        "{out}"
    );

    // Bad input: {code, message, hint} and exit 2; a name taken; an unknown member.
    for bad in ["_rm", "a b", "x/y", ""] {
        let (code, _, err) = run_bin(&["member", "add", bad, "--role", "viewer", "--json"], &env);
        assert_eq!(code, 2, "{bad}: {err}");
        let e: Value = serde_json::from_str(err.trim()).unwrap();
        assert_eq!(e["code"], "invalid_input", "{bad}");
        assert!(e["hint"].as_str().is_some_and(|h| !h.is_empty()));
    }
    let (code, _, err) = run_bin(&["member", "add", "bob", "--role", "admin"], &env);
    assert_ne!(code, 0);
    assert!(err.contains("already"), "{err}");
    let (code, _, err) = run_bin(&["member", "add", "carol", "--role", "root"], &env);
    assert_ne!(code, 0, "{err}");

    let (code, out, err) = run_bin(&["member", "revoke", "alice@example.com"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("revoked"), "{out}");
    let (code, _, err) = run_bin(&["member", "revoke", "alice@example.com", "--json"], &env);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("not_found"), "{err}");
    let (_, out, _) = run_bin(&["member", "list", "--json"], &env);
    let list: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

// ------------------------------------------------------------------ the API, end to end

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_team_api_roles_actor_throttle_and_no_secret_at_rest() {
    let log = log();
    let sb = sandbox(8).await;
    let db = support::fresh_db();
    let stop = CancellationToken::new();
    let toml = "[lease]\nttl_secs = 4\nrenew_secs = 1\n";
    // One scheduled sync at the start, then the syncs this test asks for (sync_start): a sync
    // that lists the key before the rotate and evaluates its alert rules after the rotate's
    // audit row misses that row (the drift rule's window starts at the evaluation, not the
    // listing), a race of the core's rules that this test keeps out of its way.
    let mut env = env_for(&sb, &db);
    env.insert(config::ENV_SYNC_INTERVAL.into(), "3600".into());
    let running = start(toml, &env, &stop).await;
    let c = Client::new(format!("http://{}", running.addr));

    let admin = add_member(&db, "ada", Role::Admin).await;
    let operator = add_member(&db, "bob", Role::Operator).await;
    let viewer = add_member(&db, "carol", Role::Viewer).await;
    let doomed = add_member(&db, "dave", Role::Viewer).await;
    let mut secrets: Vec<String> = vec![
        admin.clone(),
        operator.clone(),
        viewer.clone(),
        doomed.clone(),
        sb.client_secret().to_string(),
    ];

    // Who am I.
    for (t, name, role) in [(&admin, "ada", "admin"), (&viewer, "carol", "viewer")] {
        let (s, me) = c.get(Some(t), "/api/v1/me").await;
        assert_eq!(s, 200, "{me}");
        assert_eq!(
            (me["name"].as_str(), me["role"].as_str()),
            (Some(name), Some(role))
        );
        assert_eq!(me["server_version"], env!("CARGO_PKG_VERSION"));
    }
    let (s, e) = c.get(None, "/api/v1/me").await;
    assert_eq!((s, e["code"].as_str()), (401, Some("unauthorized")), "{e}");
    let (s, ops) = c.get(Some(&viewer), "/api/v1/ops").await;
    assert_eq!(s, 200);
    assert_eq!(ops.as_array().unwrap().len(), operations::NAMES.len() + 1);

    // The first sync.
    sync_after(&c, "", 60).await;
    // A sync of ours, which answers once its alert rules are evaluated (the scheduled one may
    // still be evaluating when /healthz shows it finished: 409 sync_in_progress until then).
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, summary) = c.op(&operator, "sync_start", json!({})).await;
        if s == 200 {
            break;
        }
        assert_eq!(
            (s, summary["code"].as_str()),
            (409, Some("sync_in_progress")),
            "{summary}"
        );
        assert!(Instant::now() < until, "the scheduled sync never ended");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every operation above a viewer's role is refused to the viewer, and audited.
    let mut writes: Vec<(&str, Role)> = operations::NAMES
        .iter()
        .filter_map(|n| operations::role_of(n).map(|r| (*n, r)))
        .filter(|(_, r)| *r > Role::Viewer)
        .collect();
    writes.push(("sync_start", Role::Operator));
    assert!(writes.len() >= 10, "{writes:?}");
    for (op, role) in &writes {
        let (s, e) = c.op(&viewer, op, json!({ "id": "api_key_x" })).await;
        assert_eq!(s, 403, "{op}: {e}");
        assert_eq!(e["code"], "forbidden", "{op}");
        assert_eq!(e["required_role"], role.as_str(), "{op}");
        assert!(
            !e["message"].as_str().unwrap().is_empty() && !e["hint"].as_str().unwrap().is_empty()
        );
    }
    let (s, e) = c.op(&operator, "policy_set", json!({})).await;
    assert_eq!(
        (s, e["required_role"].as_str()),
        (403, Some("admin")),
        "{e}"
    );
    let filter = json!({ "filter": { "action": "denied", "outcome": null, "key_id": null, "since": null, "limit": null } });
    let (s, denied) = c.op(&admin, "audit_list", filter).await;
    assert_eq!(s, 200, "{denied}");
    let denied = denied.as_array().unwrap();
    assert_eq!(denied.len(), writes.len() + 1, "one denied row per refusal");
    assert_eq!(
        denied.iter().filter(|a| a["actor"] == "carol").count(),
        writes.len()
    );
    assert!(denied.iter().any(|a| a["actor"] == "bob"
        && a["details"]["operation"] == "policy_set"
        && a["details"]["required_role"] == "admin"));

    // Reads work for the viewer; the errors have their status.
    let (s, keys) = c
        .op(&viewer, "keys_changed_since", json!({ "since_rev": 0 }))
        .await;
    assert_eq!(s, 200, "{keys}");
    let active: Vec<String> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["status"] == "active")
        .map(|k| k["id"].as_str().unwrap().to_string())
        .collect();
    assert!(active.len() >= 3, "{keys}");
    let (s, e) = c.op(&viewer, "key_show", json!({ "id": 5 })).await;
    assert_eq!((s, e["code"].as_str()), (400, Some("invalid_input")), "{e}");
    let (s, e) = c.op(&viewer, "profile_add", json!({})).await;
    assert_eq!((s, e["code"].as_str()), (404, Some("not_found")), "{e}");
    let (s, e) = c
        .op(
            &operator,
            "key_rotate",
            json!({ "id": "api_key_nosuchkey0000" }),
        )
        .await;
    assert!(s == 404 || s == 400, "{s} {e}");

    // An operator's rotate: audited with the operator's name; the next sync raises no drift.
    let rotated = active[0].clone();
    let (s, new) = c
        .op(&operator, "key_rotate", json!({ "id": rotated }))
        .await;
    assert_eq!(s, 200, "{new}");
    let secret = new["key"]
        .as_str()
        .expect("the new secret, once")
        .to_string();
    assert!(secret.len() > 16);
    secrets.push(secret);
    // ... and a create, like the rotated key (its API, owner and a scope).
    let model = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == rotated.as_str())
        .unwrap()
        .clone();
    let input = json!({ "input": {
        "name": "Team-made key",
        "api_id": model["api_ids"][0],
        "scopes": [model["scopes"][0]],
        "org_code": model["org_code"],
        "user_id": model["user_id"],
    } });
    let (s, created) = c.op(&operator, "key_create", input).await;
    assert_eq!(s, 200, "{created}");
    let created_id = created["id"].as_str().unwrap().to_string();
    secrets.push(
        created["key"]
            .as_str()
            .expect("the new secret, once")
            .to_string(),
    );
    // The next two syncs (each evaluates the alert rules before it answers).
    for _ in 0..2 {
        let (s, summary) = c.op(&operator, "sync_start", json!({})).await;
        assert_eq!(s, 200, "{summary}");
        assert_eq!(summary["keys"].as_u64(), Some(9), "{summary}");
    }
    let (s, alerts) = c.op(&viewer, "alerts_list", json!({ "filter": { "since": null, "kind": "drift", "key_id": null, "include_acknowledged": true, "include_muted": true, "limit": null } })).await;
    assert_eq!(s, 200, "{alerts}");
    assert_eq!(
        alerts["alerts"].as_array().unwrap().len(),
        0,
        "no drift alert for a member's create or rotate: {alerts}"
    );
    let (s, rows) = c
        .op(
            &viewer,
            "audit_list",
            json!({ "filter": { "action": "create", "outcome": null, "key_id": created_id, "since": null, "limit": null } }),
        )
        .await;
    assert_eq!(s, 200, "{rows}");
    assert_eq!(rows[0]["actor"], "bob", "{rows}");
    let (s, rows) = c
        .op(
            &viewer,
            "audit_list",
            json!({ "filter": { "action": null, "outcome": null, "key_id": rotated, "since": null, "limit": null } }),
        )
        .await;
    assert_eq!(s, 200, "{rows}");
    let rows = rows.as_array().unwrap();
    assert!(
        rows.iter()
            .any(|a| a["action"] == "rotate" && a["outcome"] == "ok" && a["actor"] == "bob"),
        "{rows:?}"
    );
    assert!(
        !rows.iter().any(|a| a["action"] == "outside_keyward"),
        "a member's rotate is not outside Keyward: {rows:?}"
    );
    let alerts_of = |id: &str| json!({ "filter": { "since": null, "kind": null, "key_id": id, "include_acknowledged": true, "include_muted": true, "limit": null } });
    let (s, alerts) = c.op(&viewer, "alerts_list", alerts_of(&rotated)).await;
    assert_eq!(s, 200, "{alerts}");
    assert!(
        !alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "drift"),
        "no drift alert for a member's rotate: {alerts}"
    );

    // The other ways a secret passes through the server: the new secrets of a re-issue and a
    // canary, and a pasted key sent to key_verify and doctor_key (a viewer may); each joins the
    // secrets that the dump and the log are searched for below.
    let (s, re) = c
        .op(&operator, "key_reissue", json!({ "id": active[1] }))
        .await;
    assert_eq!(s, 200, "{re}");
    secrets.push(
        re["new_key"]["key"]
            .as_str()
            .expect("re-issued secret")
            .to_string(),
    );
    let canary = json!({ "input": {
        "name": "Team canary",
        "api_id": model["api_ids"][0],
        "scopes": [model["scopes"][0]],
        "org_code": model["org_code"],
        "user_id": model["user_id"],
    } });
    let (s, can) = c.op(&operator, "canary_create", canary).await;
    assert_eq!(s, 200, "{can}");
    secrets.push(can["key"].as_str().expect("canary secret").to_string());
    let rotated_secret = secrets[secrets.len() - 4].clone();
    let (s, v) = c
        .op(
            &viewer,
            "key_verify",
            json!({ "input": { "key": format!(" {rotated_secret}\n") } }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["is_valid"].as_bool(), v["key_id"].as_str()),
        (Some(true), Some(rotated.as_str())),
        "{v}"
    );
    let (s, d) = c
        .op(
            &viewer,
            "doctor_key",
            json!({ "input": { "key": secrets[secrets.len() - 3] } }),
        )
        .await;
    assert_eq!(s, 200, "{d}");
    let (s, runs) = c.op(&viewer, "sync_runs", json!({ "limit": 2 })).await;
    assert_eq!(s, 200, "{runs}");
    assert_eq!(runs.as_array().map(Vec::len), Some(2), "{runs}");
    let (s, csv) = c
        .op(
            &viewer,
            "export_text",
            json!({ "what": "audit", "format": "csv" }),
        )
        .await;
    assert_eq!(s, 200, "{csv}");
    let text = csv["text"].as_str().unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains(",rotate,") && l.ends_with(",bob")),
        "{text}"
    );

    // A bulk revoke streams its progress.
    let mut rv = sse(
        &c,
        &operator,
        "/api/v1/ops/keys_revoke",
        Some(json!({ "ids": [active[2]] })),
    )
    .await;
    let mut progress = 0;
    let done = loop {
        let ev = rv
            .next(Duration::from_secs(60))
            .await
            .expect("revoke events");
        match ev.event.as_str() {
            "progress" => progress += 1,
            "done" => break ev.data,
            other => panic!("{other}: {:?}", ev.data),
        }
    };
    assert_eq!(progress, 1);
    assert_eq!(
        (done["requested"].as_u64(), done["revoked"].as_u64()),
        (Some(1), Some(1)),
        "{done}"
    );

    // A revoked token fails at once, and its open event stream ends.
    let (s, _) = c.get(Some(&doomed), "/api/v1/me").await;
    assert_eq!(s, 200);
    let mut doomed_events = sse(&c, &doomed, "/api/v1/events", None).await;
    let hello = doomed_events.next(Duration::from_secs(30)).await;
    assert_eq!(hello.map(|e| e.event).as_deref(), Some("keys"));
    revoke_member(&db, "dave").await;
    let (s, e) = c.get(Some(&doomed), "/api/v1/me").await;
    assert_eq!((s, e["code"].as_str()), (401, Some("unauthorized")), "{e}");
    while doomed_events.next(Duration::from_secs(30)).await.is_some() {}
    assert!(
        doomed_events.ended,
        "the revoked member's stream was ended by the server"
    );

    // Wrong tokens from one address: 401 five times, then 429 with Retry-After, even for a
    // good token from there; another address is not slowed down.
    let from = Some("192.0.2.7");
    for i in 0..5 {
        let (s, _, e) = c
            .send(Some(&format!("kwp_wrong{i}")), from, "insights", json!({}))
            .await;
        assert_eq!(s, 401, "{e}");
    }
    let (s, h, e) = c
        .send(Some("kwp_wrong5"), from, "insights", json!({}))
        .await;
    assert_eq!((s, e["code"].as_str()), (429, Some("rate_limited")), "{e}");
    assert!(h["retry-after"].parse::<u64>().unwrap() >= 1);
    let (s, _, _) = c.send(Some(&viewer), from, "alert_mutes", json!({})).await;
    assert_eq!(s, 429);
    let (s, _, e) = c
        .send(Some(&viewer), Some("192.0.2.8"), "alert_mutes", json!({}))
        .await;
    assert_eq!(s, 200, "{e}");

    // No secret of the run at rest: not in the database's dump, not in the server's log.
    stop.cancel();
    running.done.await.unwrap().unwrap();
    let dump = pg_dump(&db);
    assert!(
        dump.contains("CREATE TABLE public.members"),
        "the dump is the server's"
    );
    let logged = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(logged.contains("operation"), "the log was captured");
    for s in &secrets {
        assert!(!dump.contains(s.as_str()), "a secret in pg_dump");
        assert!(!logged.contains(s.as_str()), "a secret in the server's log");
    }
    println!(
        "checked {} secrets against pg_dump ({} bytes) and the log ({} bytes): 0 hits",
        secrets.len(),
        dump.len(),
        logged.len()
    );
    sb.shutdown().await;
}

// ------------------------------------------------------------------ transport security

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tls_with_a_certificate_works_and_plain_http_off_loopback_is_refused() {
    let sb = sandbox(2).await;
    let db = support::fresh_db();

    // Plain HTTP on 0.0.0.0: refused before listening, in words.
    let mut env = env_for(&sb, &db);
    env.insert(config::ENV_LISTEN.into(), "0.0.0.0:0".into());
    let cfg = config::from_str("", &env, Need::Everything).unwrap();
    let e = match serve::start(cfg, ServeOptions::default(), CancellationToken::new()).await {
        Ok(_) => panic!("plain HTTP on 0.0.0.0 was served"),
        Err(e) => e,
    };
    assert_eq!(e.code, keyward_core::ErrorCode::InvalidInput);
    assert!(
        e.message.contains("plain HTTP") && e.hint.contains("tls_cert"),
        "{e:?}"
    );
    // Refused before the database is opened (here: nothing listens on its port).
    let mut no_db = env.clone();
    no_db.insert(
        config::ENV_DATABASE_URL.into(),
        "postgres://postgres@127.0.0.1:1/keyward".into(),
    );
    let cfg = config::from_str("", &no_db, Need::Everything).unwrap();
    let e = match serve::start(cfg, ServeOptions::default(), CancellationToken::new()).await {
        Ok(_) => panic!("plain HTTP on 0.0.0.0 was served"),
        Err(e) => e,
    };
    assert!(e.message.contains("plain HTTP"), "{e:?}");
    // `check` says so too, and fails.
    let (code, out, err) = run_bin(&["check", "--json"], &env);
    assert_eq!(code, 1, "{err}");
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["transport"]["ok"], false, "{report}");
    assert_eq!(report["transport"]["error"]["code"], "invalid_input");
    assert_eq!(report["healthy"], false);
    // ... unless allowed (then it starts: stopped at once).
    let cfg = config::from_str("allow_plain_http = true", &env, Need::Everything).unwrap();
    let stop = CancellationToken::new();
    let r = serve::start(cfg, ServeOptions::default(), stop.clone())
        .await
        .unwrap();
    stop.cancel();
    r.done.await.unwrap().unwrap();

    // HTTPS with an rcgen certificate for 127.0.0.1.
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::File::create(&cert)
        .unwrap()
        .write_all(ck.cert.pem().as_bytes())
        .unwrap();
    std::fs::File::create(&key)
        .unwrap()
        .write_all(ck.signing_key.serialize_pem().as_bytes())
        .unwrap();
    let mut env = env_for(&sb, &db);
    // One scheduled sync at the start, then none in this test's time: sync_start runs alone.
    env.insert(config::ENV_SYNC_INTERVAL.into(), "3600".into());
    let toml = format!(
        "tls_cert = {:?}\ntls_key = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    let stop = CancellationToken::new();
    let running = start(&toml, &env, &stop).await;
    let token = add_member(&db, "erin", Role::Viewer).await;
    #[allow(
        clippy::disallowed_methods,
        reason = "a test's client of the server's own API, trusting the test certificate"
    )]
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ck.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let base = format!("https://{}", running.addr);
    let r = https.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let me: Value = https
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "erin");
    // A sync asked for by an operator streams its progress over HTTPS, after the scheduled
    // one finished.
    let op = add_member(&db, "fred", Role::Operator).await;
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let h: Value = https
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if h["last_sync_finished_at"].is_string() {
            break;
        }
        assert!(Instant::now() < until, "no first sync: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let resp = https
        .post(format!("{base}/api/v1/ops/sync_start"))
        .bearer_auth(&op)
        .header("accept", "text/event-stream")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut stream = SseReader {
        resp,
        buf: String::new(),
        ended: false,
    };
    let mut steps = 0;
    let summary = loop {
        let ev = stream
            .next(Duration::from_secs(60))
            .await
            .expect("sync events");
        match ev.event.as_str() {
            "progress" => steps += 1,
            "done" => break ev.data,
            other => panic!("{other}: {:?}", ev.data),
        }
    };
    assert!(steps >= 1, "progress before the summary");
    assert_eq!(summary["keys"].as_u64(), Some(2), "{summary}");
    // Plain HTTP to the TLS port gets no answer.
    let plain = keyward_server::deliver::send::http_client(Duration::from_secs(5));
    let r = plain
        .get(format!("http://{}/healthz", running.addr))
        .send()
        .await;
    assert!(r.is_err() || !r.unwrap().status().is_success());
    // A missing key file is a clear error.
    let bad = config::from_str(
        &format!(
            "tls_cert = {:?}\ntls_key = \"/nonexistent/key.pem\"\n",
            cert.display().to_string()
        ),
        &env,
        Need::Everything,
    )
    .unwrap();
    let e = match serve::start(bad, ServeOptions::default(), CancellationToken::new()).await {
        Ok(_) => panic!("served without its key"),
        Err(e) => e,
    };
    assert!(e.message.contains("TLS") && !e.hint.is_empty(), "{e:?}");
    stop.cancel();
    running.done.await.unwrap().unwrap();
    sb.shutdown().await;
}

// ------------------------------------------------------------------ live events, two replicas

/// What one SSE client saw of a key changed in the sandbox.
struct Seen {
    key_at: Instant,
    alert: bool,
    running: bool,
    finished: bool,
}

/// Reads `events` until the key `id` is in a `keys` delta, its drift alert in an `alerts`
/// event and a finished sync in a `sync` event (at most 60 s).
async fn watch_for(events: &mut SseReader, id: &str, cursor: i64) -> Seen {
    let (mut key_at, mut alert, mut running, mut finished) = (None, false, false, false);
    let until = Instant::now() + Duration::from_secs(60);
    while (key_at.is_none() || !alert || !finished) && Instant::now() < until {
        let Some(ev) = events.next(Duration::from_secs(30)).await else {
            break;
        };
        match ev.event.as_str() {
            "keys" => {
                assert!(ev.id.as_deref().unwrap().parse::<i64>().unwrap() > cursor);
                if ev.data["keys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["id"] == id)
                {
                    key_at.get_or_insert(Instant::now());
                }
            }
            "alerts" => {
                alert |= ev.data["alerts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["kind"] == "drift" && a["key_id"] == id);
            }
            "sync" => match ev.data["state"].as_str() {
                Some("running") => {
                    assert!(ev.data["progress"]["phase"].is_string(), "{:?}", ev.data);
                    running = true;
                }
                Some("finished") => {
                    assert!(ev.data["finished_at"].is_string(), "{:?}", ev.data);
                    finished = true;
                }
                other => panic!("a sync event in state {other:?}"),
            },
            other => panic!("unexpected event {other}"),
        }
    }
    Seen {
        key_at: key_at.expect("the sandbox's change reached the SSE client"),
        alert,
        running,
        finished,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_the_scheduled_sync_sees_reaches_the_clients_of_every_replica() {
    let sb = sandbox(4).await;
    let db = support::fresh_db();
    let toml = "[lease]\nttl_secs = 4\nrenew_secs = 1\n";
    let env = env_for(&sb, &db);
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let a = start(toml, &env, &stop_a).await;
    let b = start(toml, &env, &stop_b).await;
    let viewer = add_member(&db, "vic", Role::Viewer).await;
    let ca = Client::new(format!("http://{}", a.addr));
    let cb = Client::new(format!("http://{}", b.addr));
    sync_after(&ca, "", 60).await;
    let leads_a = ca.get(None, "/healthz").await.1["leader"] == true;
    let leads_b = cb.get(None, "/healthz").await.1["leader"] == true;
    assert!(leads_a != leads_b, "one leader: a {leads_a}, b {leads_b}");

    let (s, keys) = ca
        .op(&viewer, "keys_changed_since", json!({ "since_rev": 0 }))
        .await;
    assert_eq!(s, 200, "{keys}");
    let id = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["status"] == "active")
        .map(|k| k["id"].as_str().unwrap().to_string())
        .expect("an active key");

    // Both replicas' clients are connected; the first event of each is the cursor.
    let mut ea = sse(&ca, &viewer, "/api/v1/events", None).await;
    let mut eb = sse(&cb, &viewer, "/api/v1/events", None).await;
    let mut cursors = vec![];
    for e in [&mut ea, &mut eb] {
        let hello = e
            .next(Duration::from_secs(30))
            .await
            .expect("the first event");
        assert_eq!(hello.event, "keys", "{hello:?}");
        let cursor: i64 = hello.id.as_deref().unwrap().parse().unwrap();
        assert_eq!(hello.data["rev"].as_i64(), Some(cursor));
        assert!(hello.data["keys"].as_array().unwrap().is_empty());
        cursors.push(cursor);
    }

    // A rotate in the sandbox, outside Keyward: the leader's scheduled sync sees it.
    let changed_at = Instant::now();
    assert!(sb.portal_rotate(&id));
    let (sa, sb_seen) = tokio::join!(
        watch_for(&mut ea, &id, cursors[0]),
        watch_for(&mut eb, &id, cursors[1])
    );
    for (name, seen, leads) in [("a", &sa, leads_a), ("b", &sb_seen, leads_b)] {
        assert!(
            seen.alert,
            "replica {name}: the drift alert reached its client"
        );
        assert!(
            seen.finished,
            "replica {name}: the finished sync reached its client"
        );
        if leads {
            assert!(
                seen.running,
                "replica {name} leads: its sync's progress was streamed"
            );
        }
        println!(
            "figure: replica {name} ({}): sandbox change -> SSE delta {:.2} s (sync every 1 s, \
             store polled every 1 s)",
            if leads { "leader" } else { "follower" },
            (seen.key_at - changed_at).as_secs_f64()
        );
    }

    // Resuming with Last-Event-ID gives what changed after it, and only that.
    let (_, now) = cb
        .op(&viewer, "keys_changed_since", json!({ "since_rev": 0 }))
        .await;
    let rev = now["rev"].as_i64().unwrap();
    let resp = cb
        .http
        .get(format!("{}/api/v1/events", cb.base))
        .bearer_auth(&viewer)
        .header("last-event-id", (rev - 1).to_string())
        .send()
        .await
        .unwrap();
    let mut resumed = SseReader {
        resp,
        buf: String::new(),
        ended: false,
    };
    let ev = resumed
        .next(Duration::from_secs(30))
        .await
        .expect("a delta");
    assert_eq!(ev.event, "keys");
    assert_eq!(ev.id.as_deref(), Some(rev.to_string().as_str()));
    let changed = ev.data["keys"].as_array().unwrap();
    assert!(!changed.is_empty() && changed.len() < 4, "{:?}", ev.data);
    drop((ea, eb, resumed));

    stop_a.cancel();
    stop_b.cancel();
    a.done.await.unwrap().unwrap();
    b.done.await.unwrap().unwrap();
    sb.shutdown().await;
}

// ------------------------------------------------------------------ the database down

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_database_down_is_a_503_in_words_and_back_up_the_api_answers() {
    // A cluster of its own: stopping the shared one would cut the other tests.
    let own = Arc::new(
        tokio::task::spawn_blocking(|| pg_cluster::PgCluster::start().unwrap())
            .await
            .unwrap(),
    );
    let db = own.fresh_db().unwrap();
    let sb = sandbox(2).await;
    let mut env = env_for(&sb, &db);
    env.insert(config::ENV_SYNC_INTERVAL.into(), "3600".into());
    let stop = CancellationToken::new();
    let running = start("", &env, &stop).await;
    let token = add_member(&db, "gail", Role::Viewer).await;
    let c = Client::new(format!("http://{}", running.addr));
    let (s, _) = c.get(Some(&token), "/api/v1/me").await;
    assert_eq!(s, 200);

    let o = Arc::clone(&own);
    tokio::task::spawn_blocking(move || o.stop().unwrap())
        .await
        .unwrap();
    let (s, e) = c.get(Some(&token), "/api/v1/me").await;
    assert_eq!((s, e["code"].as_str()), (503, Some("database")), "{e}");
    assert!(!e["hint"].as_str().unwrap_or("").is_empty(), "{e}");
    // The database's failure is not the member's: no throttle, and the token still works after.
    let o = Arc::clone(&own);
    tokio::task::spawn_blocking(move || o.start_again().unwrap())
        .await
        .unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, me) = c.get(Some(&token), "/api/v1/me").await;
        if s == 200 {
            assert_eq!(me["name"], "gail");
            break;
        }
        assert_eq!(s, 503, "{me}");
        assert!(Instant::now() < until, "the API did not come back: {me}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stop.cancel();
    running.done.await.unwrap().unwrap();
    sb.shutdown().await;
}
