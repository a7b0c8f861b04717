//! A raw HTTP/1.1 server on 127.0.0.1:0 that answers the way a broken or hostile server does:
//! bodies of any size (honest or lying Content-Length), truncated bodies, chunked endless
//! streams, slow drips, hangs and dropped connections. Used by `bounded_answers` (the
//! regressions of bounded answers and one retry budget) and `client_fuzz`.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// With the query.
    pub target: String,
    pub at: Instant,
}

impl Req {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// A query parameter's value.
    pub fn query(&self, name: &str) -> Option<String> {
        let q = self.target.split_once('?')?.1;
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

/// How the body goes out.
#[derive(Debug, Clone)]
pub enum Body {
    /// With an honest Content-Length.
    Full(Vec<u8>),
    /// Content-Length says `declared`, then `sent` goes out and the connection closes.
    Lie { declared: u64, sent: Vec<u8> },
    /// Chunked, ending properly.
    Chunked(Vec<u8>),
    /// `len` spaces (valid JSON whitespace, no value), with a Content-Length or chunked,
    /// written a piece at a time (the server holds none of it).
    Spaces { len: usize, chunked: bool },
    /// Chunked `{"api_keys":[` and then for ever (until the client goes away).
    Endless,
    /// Chunked, `chunk` bytes every `every`, for ever (or until `bytes` ran out).
    Drip {
        bytes: Vec<u8>,
        chunk: usize,
        every: Duration,
    },
    /// The headers, then nothing.
    Hang,
}

/// One answer: a status (0: close without answering), headers, a body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Answer {
    pub fn json(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Body::Full(body.as_bytes().to_vec()),
        }
    }

    pub fn with(status: u16, body: Body) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        }
    }

    pub fn close() -> Answer {
        Answer {
            status: 0,
            headers: Vec::new(),
            body: Body::Full(Vec::new()),
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Answer {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Handler = dyn Fn(&Req, usize) -> Answer + Send + Sync;

/// A running server; it stops with the test's runtime.
pub struct Wild {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Req>>>,
    /// Body bytes written so far, over all answers.
    pub written: Arc<AtomicU64>,
}

impl Wild {
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests seen with this method and path (query ignored).
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.seen
            .lock()
            .iter()
            .filter(|r| r.method == method && r.path() == path)
            .count()
    }

    pub fn requests(&self) -> Vec<Req> {
        self.seen.lock().clone()
    }

    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

/// Starts the server; `handler(request, n)`: `n` earlier requests had the same method and path.
pub async fn wild(handler: impl Fn(&Req, usize) -> Answer + Send + Sync + 'static) -> Wild {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Req>>> = Arc::default();
    let written = Arc::new(AtomicU64::new(0));
    let handler: Arc<Handler> = Arc::new(handler);
    let (log, w) = (seen.clone(), written.clone());
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let (log, handler, w) = (log.clone(), handler.clone(), w.clone());
            tokio::spawn(async move {
                let _ = serve(sock, log, handler, w).await;
            });
        }
    });
    Wild {
        addr,
        seen,
        written,
    }
}

async fn serve(
    mut sock: TcpStream,
    log: Arc<Mutex<Vec<Req>>>,
    handler: Arc<Handler>,
    written: Arc<AtomicU64>,
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
        if buf.len() > 1 << 20 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default().to_string();
    let len: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len.min(1 << 20) {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let req = Req {
        method,
        target,
        at: Instant::now(),
    };
    let n = {
        let mut l = log.lock();
        let n = l
            .iter()
            .filter(|r| r.method == req.method && r.path() == req.path())
            .count();
        l.push(req.clone());
        n
    };
    let a = handler(&req, n);
    if a.status == 0 {
        return Ok(());
    }
    let mut out = format!("HTTP/1.1 {} X\r\n", a.status);
    for (k, v) in &a.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("connection: close\r\n");
    let count = |n: usize| {
        written.fetch_add(n as u64, Ordering::Relaxed);
    };
    match a.body {
        Body::Full(b) => {
            out.push_str(&format!("content-length: {}\r\n\r\n", b.len()));
            sock.write_all(out.as_bytes()).await?;
            sock.write_all(&b).await?;
            count(b.len());
        }
        Body::Lie { declared, sent } => {
            out.push_str(&format!("content-length: {declared}\r\n\r\n"));
            sock.write_all(out.as_bytes()).await?;
            sock.write_all(&sent).await?;
            count(sent.len());
        }
        Body::Chunked(b) => {
            out.push_str("transfer-encoding: chunked\r\n\r\n");
            sock.write_all(out.as_bytes()).await?;
            for part in b.chunks(1000) {
                write_chunk(&mut sock, part).await?;
                count(part.len());
            }
            sock.write_all(b"0\r\n\r\n").await?;
        }
        Body::Spaces { len, chunked } => {
            if chunked {
                out.push_str("transfer-encoding: chunked\r\n\r\n");
            } else {
                out.push_str(&format!("content-length: {len}\r\n\r\n"));
            }
            sock.write_all(out.as_bytes()).await?;
            let piece = [b' '; 16 << 10];
            let mut left = len;
            while left > 0 {
                let n = left.min(piece.len());
                if chunked {
                    write_chunk(&mut sock, &piece[..n]).await?;
                } else {
                    sock.write_all(&piece[..n]).await?;
                }
                count(n);
                left -= n;
            }
            if chunked {
                sock.write_all(b"0\r\n\r\n").await?;
            }
        }
        Body::Endless => {
            out.push_str("transfer-encoding: chunked\r\n\r\n");
            sock.write_all(out.as_bytes()).await?;
            write_chunk(&mut sock, br#"{"has_more":true,"api_keys":["#).await?;
            let filler = br#"{"id":"api_key_x","name":"n"},"#.repeat(2000);
            // Until the client stops reading (the write fails then).
            loop {
                write_chunk(&mut sock, &filler).await?;
                count(filler.len());
            }
        }
        Body::Drip {
            bytes,
            chunk,
            every,
        } => {
            out.push_str("transfer-encoding: chunked\r\n\r\n");
            sock.write_all(out.as_bytes()).await?;
            for part in bytes.chunks(chunk.max(1)) {
                tokio::time::sleep(every).await;
                write_chunk(&mut sock, part).await?;
                count(part.len());
            }
            sock.write_all(b"0\r\n\r\n").await?;
        }
        Body::Hang => {
            out.push_str("content-length: 100\r\n\r\n");
            sock.write_all(out.as_bytes()).await?;
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
    }
    let _ = sock.shutdown().await;
    Ok(())
}

async fn write_chunk(sock: &mut TcpStream, part: &[u8]) -> std::io::Result<()> {
    sock.write_all(format!("{:x}\r\n", part.len()).as_bytes())
        .await?;
    sock.write_all(part).await?;
    sock.write_all(b"\r\n").await
}

/// A token answer the client accepts.
pub fn token_ok() -> Answer {
    let r = crate::support::fake_kinde::token_reply(3600);
    Answer::json(200, &r.body)
}

/// The process's peak resident set (VmHWM), in bytes (0 where /proc is missing).
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// A key of a listing (or, with `detail`, of `GET /api_keys/{id}`).
pub fn key_json(id: &str, detail: bool) -> String {
    let extra = if detail {
        r#","verification_count":3,"organization_id":"org_a""#
    } else {
        ""
    };
    format!(
        r#"{{"id":"{id}","name":"n {id}","type":"organization","status":"active","key_prefix":"k_live","key_suffix":"ab12","api_ids":["api1"],"scopes":["read:data"]{extra}}}"#
    )
}

/// A page of keys.
pub fn page_json(ids: &[String], has_more: bool) -> String {
    let keys: Vec<String> = ids.iter().map(|i| key_json(i, false)).collect();
    format!(
        r#"{{"code":"OK","message":"Success","has_more":{has_more},"api_keys":[{}]}}"#,
        keys.join(",")
    )
}
