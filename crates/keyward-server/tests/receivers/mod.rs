//! Real HTTP receivers on 127.0.0.1:0 for the delivery tests: a Standard Webhooks receiver that
//! verifies every signature (with each key it knows) and the event's JSON shape, and a Slack
//! receiver that checks the Block Kit shape. Each answers from a script (status, Retry-After),
//! then 200, and records what it got.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use keyward_server::deliver::sign;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Received {
    pub id: Option<String>,
    pub timestamp: Option<i64>,
    pub signatures: usize,
    /// Every signature key it knows verified (webhooks), or the Slack shape held.
    pub valid: bool,
    /// Why not valid.
    pub problem: Option<String>,
    pub body: Value,
    /// What it answered.
    pub answered: u16,
    /// When it arrived.
    pub arrived: std::time::Instant,
    pub arrived_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Webhook,
    Slack,
}

struct Inner {
    kind: Kind,
    keys: Vec<Vec<u8>>,
    script: Mutex<Vec<(u16, Option<String>)>>,
    got: Mutex<Vec<Received>>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl Receiver {
    /// A receiver of `kind`: answers the `script` in order (status, Retry-After), then 200.
    /// A webhook receiver checks the signature with each of `keys` (all must verify).
    pub async fn start(
        kind: Kind,
        keys: Vec<Vec<u8>>,
        script: Vec<(u16, Option<&str>)>,
    ) -> Receiver {
        let inner = Arc::new(Inner {
            kind,
            keys,
            script: Mutex::new(
                script
                    .into_iter()
                    .rev()
                    .map(|(s, r)| (s, r.map(str::to_string)))
                    .collect(),
            ),
            got: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Receiver { addr, inner, stop }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.got.lock().unwrap().clone()
    }

    pub fn stop(self) {
        let _ = self.stop.send(());
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The event's shape: `{type, timestamp, data: {profile, alert: {id, kind, severity, message,
/// at, evidence}, key, link}}`.
fn check_event(v: &Value) -> Result<(), String> {
    let need_str = |p: &str| -> Result<(), String> {
        v.pointer(p)
            .and_then(Value::as_str)
            .map(|_| ())
            .ok_or_else(|| format!("{p} is not a string"))
    };
    need_str("/type")?;
    need_str("/timestamp")?;
    need_str("/data/profile")?;
    need_str("/data/alert/kind")?;
    need_str("/data/alert/severity")?;
    need_str("/data/alert/message")?;
    need_str("/data/alert/at")?;
    v.pointer("/data/alert/id")
        .and_then(Value::as_i64)
        .ok_or("alert id is not a number")?;
    if !v
        .pointer("/data/alert/evidence")
        .is_some_and(Value::is_object)
    {
        return Err("evidence is not an object".into());
    }
    if let Some(k) = v.pointer("/data/key").filter(|k| !k.is_null()) {
        for f in ["id", "name", "prefix", "masked", "status"] {
            if !k.get(f).is_some_and(Value::is_string) {
                return Err(format!("key.{f} is not a string"));
            }
        }
    }
    Ok(())
}

/// Slack's shape: `text`, and `blocks` starting with a header, with a section of fields
/// (severity, key, owner, kind) and a context line.
fn check_slack(v: &Value) -> Result<(), String> {
    if !v.get("text").is_some_and(Value::is_string) {
        return Err("no text".into());
    }
    let blocks = v
        .get("blocks")
        .and_then(Value::as_array)
        .ok_or("no blocks")?;
    let types: Vec<&str> = blocks
        .iter()
        .filter_map(|b| b.get("type").and_then(Value::as_str))
        .collect();
    if types.first() != Some(&"header")
        || !types.contains(&"section")
        || !types.contains(&"context")
    {
        return Err(format!("blocks {types:?}"));
    }
    let header = blocks[0]
        .pointer("/text/text")
        .and_then(Value::as_str)
        .unwrap_or("");
    if header.is_empty() || header.chars().count() > 150 {
        return Err("header text empty or too long".into());
    }
    let fields: Vec<&str> = blocks
        .iter()
        .filter_map(|b| b.get("fields").and_then(Value::as_array))
        .flatten()
        .filter_map(|f| f.get("text").and_then(Value::as_str))
        .collect();
    for want in ["*Severity*", "*Key*", "*Owner*", "*Kind*"] {
        if !fields.iter().any(|f| f.starts_with(want)) {
            return Err(format!("no {want} field"));
        }
    }
    Ok(())
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut problem = None;
    let (id, ts, sigs) = (
        header(&headers, "webhook-id").map(str::to_string),
        header(&headers, "webhook-timestamp").and_then(|t| t.parse::<i64>().ok()),
        header(&headers, "webhook-signature").unwrap_or(""),
    );
    match inner.kind {
        Kind::Webhook => {
            match (&id, ts) {
                (Some(id), Some(ts)) => {
                    let now = chrono::Utc::now().timestamp();
                    if (now - ts).abs() > 300 {
                        problem = Some(format!("timestamp {ts} is off by more than 5 minutes"));
                    }
                    for (i, k) in inner.keys.iter().enumerate() {
                        if !sign::verify(k, sigs, id, ts, &body) {
                            problem = Some(format!("signature with key {i} does not verify"));
                        }
                    }
                }
                _ => problem = Some("webhook-id or webhook-timestamp missing".into()),
            }
            if problem.is_none()
                && let Err(e) = check_event(&parsed)
            {
                problem = Some(e);
            }
        }
        Kind::Slack => {
            if let Err(e) = check_slack(&parsed) {
                problem = Some(e);
            }
        }
    }
    if String::from_utf8_lossy(&body).contains("k_live_") {
        problem = Some("the body carries something that looks like a key secret".into());
    }
    let valid = problem.is_none();
    let (status, retry_after) = if valid {
        inner.script.lock().unwrap().pop().unwrap_or((200, None))
    } else {
        (400, None)
    };
    inner.got.lock().unwrap().push(Received {
        id,
        timestamp: ts,
        signatures: sigs.split(' ').filter(|s| !s.is_empty()).count(),
        valid,
        problem,
        body: parsed,
        answered: status,
        arrived: std::time::Instant::now(),
        arrived_at: chrono::Utc::now(),
    });
    let mut resp = (StatusCode::from_u16(status).unwrap(), "ok").into_response();
    if let Some(r) = retry_after {
        resp.headers_mut().insert("retry-after", r.parse().unwrap());
    }
    resp
}
