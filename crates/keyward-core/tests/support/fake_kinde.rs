//! A tiny raw HTTP/1.1 server standing in for Kinde, for answers the sandbox does not give on
//! demand (429 with a short reset, 503 then 200, a hang after the request, a redirect, a skewed
//! `Date`), and the requests it saw.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the fake server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait this long before answering (past the client's timeout = a hang).
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }

    /// Close the connection without answering (after reading the request).
    pub fn drop_connection() -> Reply {
        Reply::json(0, "")
    }

    pub fn delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
}

/// A JWT-shaped token (unsigned; the client only reads its payload).
pub fn fake_jwt(scopes: &str) -> String {
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = serde_json::json!({ "scope": scopes, "exp": 4_000_000_000u64 });
    format!(
        "{}.{}.sig",
        e.encode(b"{\"alg\":\"none\"}"),
        e.encode(payload.to_string())
    )
}

pub fn token_reply(ttl: u64) -> Reply {
    let body = serde_json::json!({
        "access_token": fake_jwt("read:api_keys create:api_keys update:api_keys delete:api_keys read:apis read:api_scopes read:organizations read:users"),
        "token_type": "Bearer",
        "expires_in": ttl,
    });
    Reply::json(200, &body.to_string())
}

pub const EMPTY_KEYS: &str = r#"{"code":"OK","message":"Success","has_more":false,"api_keys":[]}"#;
pub const CREATED: &str =
    r#"{"code":"API_KEY_CREATED","message":"ok","api_key":{"id":"api_key_1","key":"k_live_x"}}"#;

type Handler = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

pub struct Fake {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn count(&self, method: &str, path: &str) -> usize {
        self.seen
            .lock()
            .iter()
            .filter(|s| s.method == method && s.path.split('?').next() == Some(path))
            .count()
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().clone()
    }
}

/// Starts a raw HTTP/1.1 server; `handler(request, n)` gets `n` = how many earlier requests
/// had the same method and path (0 for the first).
pub async fn fake(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let handler: Arc<Handler> = Arc::new(handler);
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let (log, handler) = (log.clone(), handler.clone());
            tokio::spawn(async move {
                let _ = serve(sock, log, handler).await;
            });
        }
    });
    Fake { addr, seen }
}

async fn serve(
    mut sock: TcpStream,
    log: Arc<Mutex<Vec<Seen>>>,
    handler: Arc<Handler>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
    let req = Seen {
        method,
        path,
        headers,
        body,
    };
    let n = {
        let mut l = log.lock();
        let key = req.path.split('?').next().unwrap_or_default().to_string();
        let n = l
            .iter()
            .filter(|s| s.method == req.method && s.path.split('?').next() == Some(key.as_str()))
            .count();
        l.push(req.clone());
        n
    };
    let reply = handler(&req, n);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    if reply.status == 0 {
        return Ok(());
    }
    let mut out = format!("HTTP/1.1 {} X\r\n", reply.status);
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{}",
        reply.body.len(),
        reply.body
    ));
    sock.write_all(out.as_bytes()).await?;
    sock.shutdown().await
}
