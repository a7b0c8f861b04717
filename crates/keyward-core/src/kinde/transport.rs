//! The transport under the token cache and the endpoints: one HTTP client per Kinde domain,
//! request counting (by kind, and answers by status code), the 429 cooldown, backoff with jitter and `RateLimit-Reset`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::redirect;

use super::errors::{Ctx, Operation, Transport, classify, transport_error};
use super::types::{ClientConfig, ClientOptions, RequestCounts, ResponseCounts};
use crate::error::{Error, ErrorCode, Result};

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Token,
    List,
    Detail,
    Write,
    Verify,
    Other,
    Retry,
}

/// Requests by kind, and answers by status code (plus the tries that got none).
#[derive(Default)]
pub struct Counters {
    kinds: [AtomicU64; 7],
    statuses: parking_lot::Mutex<std::collections::BTreeMap<u16, u64>>,
    transport_failures: AtomicU64,
}

impl Counters {
    pub fn add(&self, k: Kind) {
        self.kinds[k as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// One answer with this status code.
    pub fn answered(&self, status: u16) {
        *self.statuses.lock().entry(status).or_insert(0) += 1;
    }

    /// One try that got no (readable) answer.
    pub fn unanswered(&self) {
        self.transport_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn responses(&self) -> ResponseCounts {
        ResponseCounts {
            by_status: self.statuses.lock().clone(),
            transport_failures: self.transport_failures.load(Ordering::Relaxed),
        }
    }

    pub fn snapshot(&self) -> RequestCounts {
        let g = |k: Kind| self.kinds[k as usize].load(Ordering::Relaxed);
        RequestCounts {
            token: g(Kind::Token),
            list: g(Kind::List),
            detail: g(Kind::Detail),
            write: g(Kind::Write),
            verify: g(Kind::Verify),
            other: g(Kind::Other),
            retries: g(Kind::Retry),
        }
    }
}

pub fn kind_of(op: Operation) -> Kind {
    use Operation::*;
    match op {
        Token => Kind::Token,
        ListKeys => Kind::List,
        GetKey => Kind::Detail,
        CreateKey | RotateKey | RevokeKey => Kind::Write,
        VerifyKey => Kind::Verify,
        Probe | ListApis | ApiScopes | ListOrgs | ListUsers => Kind::Other,
    }
}

/// The HTTP side of a client: one domain, its request counters and its 429 cooldown.
pub struct Link {
    pub http: reqwest::Client,
    pub base: url::Url,
    /// `scheme://host[:port]`, no trailing slash.
    pub origin: String,
    /// `host[:port]`, for messages.
    pub host: String,
    pub counts: Counters,
    pub opts: ClientOptions,
    /// After a 429, every request of this client waits until then (plus jitter).
    pub cooldown: parking_lot::Mutex<Option<Instant>>,
    /// 429 answers received (the sync's concurrency control reads it).
    pub throttled: AtomicU64,
}

impl Link {
    /// An HTTP client for one Kinde domain: timeouts, no redirects, the extra root
    /// certificate if any.
    #[allow(
        clippy::disallowed_methods,
        reason = "the one reqwest client of keyward-core"
    )]
    pub fn new(cfg: &ClientConfig, opts: ClientOptions) -> Result<Link> {
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("keyward/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(nonzero(cfg.connect_timeout))
            .timeout(nonzero(cfg.timeout))
            // Never follow a redirect: it could carry the Authorization header elsewhere.
            .redirect(redirect::Policy::none());
        if let Some(pem) = &opts.root_cert_pem {
            let cert = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| {
                Error::invalid_input(
                    "root certificate",
                    format!("is not a PEM certificate ({e})"),
                    "Give the server's certificate in PEM form (-----BEGIN CERTIFICATE-----).",
                )
            })?;
            b = b.tls_certs_merge([cert]);
        }
        let http = b.build().map_err(|e| {
            Error::new(
                ErrorCode::Tls,
                format!("could not set up the HTTP client ({e})"),
                "The TLS setup of this machine failed; check its certificate store.",
            )
        })?;
        let origin = cfg.base_url.origin().ascii_serialization();
        let host = match (cfg.base_url.host_str(), cfg.base_url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => origin.clone(),
        };
        Ok(Link {
            http,
            base: cfg.base_url.clone(),
            origin,
            host,
            counts: Counters::default(),
            opts,
            cooldown: parking_lot::Mutex::new(None),
            throttled: AtomicU64::new(0),
        })
    }

    /// An unauthenticated GET of the domain's root: any HTTP answer means DNS, TCP and TLS
    /// work. Returns the status code.
    pub async fn probe(&self) -> Result<u16> {
        let ctx = Ctx {
            op: Operation::Probe,
            subject: None,
            name: None,
        };
        self.counts.add(Kind::Other);
        match self.http.get(format!("{}/", self.origin)).send().await {
            Ok(r) => {
                self.counts.answered(r.status().as_u16());
                Ok(r.status().as_u16())
            }
            Err(e) => {
                self.counts.unanswered();
                Err(transport_error(&ctx, classify(&e), &self.host, &e))
            }
        }
    }

    /// Waits while a 429 told this client to hold off: one throttled call pauses them all.
    pub async fn await_cooldown(&self) {
        loop {
            let until = *self.cooldown.lock();
            match until.map(|u| u.saturating_duration_since(Instant::now())) {
                Some(d) if !d.is_zero() => tokio::time::sleep(d + jitter(&self.opts)).await,
                _ => return,
            }
        }
    }
}

fn nonzero(d: Duration) -> Duration {
    if d.is_zero() {
        Duration::from_secs(30)
    } else {
        d
    }
}

/// DNS and TLS failures do not heal by retrying.
pub fn retriable(t: Transport) -> bool {
    !matches!(t, Transport::Dns | Transport::Tls)
}

/// Random jitter up to `max_jitter`.
fn jitter(opts: &ClientOptions) -> Duration {
    let max = opts.max_jitter.as_millis().min(10_000) as u64;
    if max == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::rng().random_range(0..=max))
}

/// Backoff and rate-limit waits of one call.
pub struct Pause<'a> {
    inner: &'a Link,
    retries: u32,
    waits: u32,
}

impl<'a> Pause<'a> {
    pub fn new(inner: &'a Link) -> Self {
        Pause {
            inner,
            retries: 0,
            waits: 0,
        }
    }

    /// Sleeps before a retry; `false` when no retry is allowed (any more).
    pub async fn backoff(&mut self, allowed: bool) -> bool {
        let opts = &self.inner.opts;
        if !allowed || self.retries >= opts.max_retries {
            return false;
        }
        let factor = 1u32 << self.retries.min(10);
        let delay = opts.retry_base_delay.saturating_mul(factor) + jitter(opts);
        self.retries += 1;
        tokio::time::sleep(delay).await;
        true
    }

    /// Waits out a 429 (and makes the client's other calls wait too); `Err(seconds to wait)`
    /// when it will not.
    pub async fn rate_limit(&mut self, headers: &HeaderMap) -> std::result::Result<(), u64> {
        let opts = &self.inner.opts;
        let wait = reset_after(headers).unwrap_or(Duration::from_secs(1));
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        if self.waits >= opts.max_rate_limit_waits || wait > opts.max_rate_limit_wait {
            return Err(secs.max(1));
        }
        self.waits += 1;
        tracing::info!(
            wait_ms = wait.as_millis() as u64,
            "Kinde answered 429; waiting"
        );
        let until = Instant::now() + wait;
        {
            let mut c = self.inner.cooldown.lock();
            if c.is_none_or(|u| u < until) {
                *c = Some(until);
            }
        }
        self.inner.await_cooldown().await;
        Ok(())
    }
}

/// `RateLimit-Reset` (seconds, or a Unix time), else `Retry-After` (seconds or an HTTP date).
pub fn reset_after(headers: &HeaderMap) -> Option<Duration> {
    let now = chrono::Utc::now().timestamp();
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(v) = text("ratelimit-reset").and_then(|s| s.parse::<f64>().ok())
        && v.is_finite()
        && v >= 0.0
    {
        // Large values are absolute Unix times.
        let secs = if v > 1.0e9 {
            (v - now as f64).max(0.0)
        } else {
            v
        };
        return Some(Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let ra = text(RETRY_AFTER.as_str())?;
    if let Ok(secs) = ra.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(86_400)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(ra).ok()?;
    let secs = (at.timestamp() - now).clamp(0, 86_400) as u64;
    Some(Duration::from_secs(secs))
}

/// The HTTP client of a team profile's Keyward Server (`crate::remote`): rustls, timeouts, no
/// redirect followed (it could carry the member's token elsewhere), the extra root certificate
/// of `KEYWARD_CA_CERT` if any. `timeout` 0: none (an event stream stays open).
#[allow(
    clippy::disallowed_methods,
    reason = "the one reqwest client of keyward-core for a Keyward Server"
)]
pub fn server_http(root_cert_pem: Option<&str>, timeout: Duration) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("keyward/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .redirect(redirect::Policy::none());
    if !timeout.is_zero() {
        b = b.timeout(timeout);
    }
    if let Some(pem) = root_cert_pem {
        let cert = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| {
            Error::invalid_input(
                "root certificate",
                format!("is not a PEM certificate ({e})"),
                "Give the server's certificate in PEM form (-----BEGIN CERTIFICATE-----).",
            )
        })?;
        b = b.tls_certs_merge([cert]);
    }
    b.build().map_err(|e| {
        Error::new(
            ErrorCode::Tls,
            format!("could not set up the HTTP client ({e})"),
            "The TLS setup of this machine failed; check its certificate store.",
        )
    })
}

/// A failed request to a Keyward Server (`host`) as an error with a hint; `writes`: the
/// operation changes something, so a timeout after sending leaves it in doubt.
pub fn server_transport_error(host: &str, what: &str, writes: bool, e: &reqwest::Error) -> Error {
    let t = classify(e);
    if writes && matches!(t, Transport::Timeout | Transport::Broken) {
        return Error::new(
            ErrorCode::Ambiguous,
            format!("{what} on the Keyward Server {host} got no answer after it was sent"),
            "It may or may not have happened: look at the keys list and the audit log before \
             trying again.",
        );
    }
    let hint = "Check the profile's server address, that the Keyward Server is running and \
                reachable from this machine, and your network or proxy (KEYWARD_CA_CERT for a \
                private root certificate). `--offline` shows the last answers kept here.";
    let (code, msg) = match t {
        Transport::Dns => (ErrorCode::Dns, format!("the name {host} does not resolve")),
        Transport::Tls => (
            ErrorCode::Tls,
            format!("the TLS connection to the Keyward Server {host} failed"),
        ),
        Transport::Refused => (
            ErrorCode::ConnectionRefused,
            format!("nothing accepted the connection to the Keyward Server {host}"),
        ),
        Transport::ConnectTimeout | Transport::Timeout => (
            ErrorCode::Timeout,
            format!("{what} timed out talking to the Keyward Server {host}"),
        ),
        Transport::Broken | Transport::Other => (
            ErrorCode::Network,
            format!("{what} failed on the network to the Keyward Server {host}"),
        ),
    };
    Error::new(code, msg, hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reset_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(reset_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(reset_after(&h), Some(Duration::from_secs(3)));
        h.insert("ratelimit-reset", HeaderValue::from_static("2"));
        assert_eq!(reset_after(&h), Some(Duration::from_secs(2)));
        h.insert("ratelimit-reset", HeaderValue::from_static("garbage"));
        assert_eq!(reset_after(&h), Some(Duration::from_secs(3)));
        let mut h = HeaderMap::new();
        let later = chrono::Utc::now() + chrono::Duration::seconds(30);
        let v = HeaderValue::from_str(&later.to_rfc2822()).unwrap();
        h.insert("retry-after", v);
        let d = reset_after(&h).unwrap();
        assert!(d <= Duration::from_secs(31) && d >= Duration::from_secs(28));
    }
}
