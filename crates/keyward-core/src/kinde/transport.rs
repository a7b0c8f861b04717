//! The transport under the token cache and the endpoints: one HTTP client per Kinde domain,
//! request counting (by kind, and answers by status code), the 429 cooldown, backoff with jitter and `RateLimit-Reset`,
//! and bounded answers: every body is read in chunks up to a cap, within the try's deadline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::redirect;

use super::budget::{RetryBudget, secs};
use super::errors::{Ctx, Operation, Transport, classify, transport_error};
use super::types::{
    ClientConfig, ClientOptions, MAX_SANE_RESET_SECS, RequestCounts, ResponseCounts,
};
use crate::error::{Error, ErrorCode, Result};

/// How one try of a request ended.
pub enum Tried {
    /// A whole answer within the cap and the deadline.
    Answer(StatusCode, HeaderMap, Vec<u8>),
    /// No status line (refused, reset, DNS, TLS, timed out before the headers).
    NoAnswer(reqwest::Error),
    /// The headers came, then reading the body failed.
    BodyFailed(reqwest::Error),
    /// The answer is (or says it is) larger than the cap: not read further.
    TooLarge(StatusCode),
    /// No complete answer within the try's deadline.
    Deadline,
}

/// Sends `rb` and reads its answer whole, at most `cap` bytes, all within `deadline` (reqwest's
/// own timeout is set to it too; this one also bounds a body that drips forever).
pub async fn exchange(rb: reqwest::RequestBuilder, cap: usize, deadline: Duration) -> Tried {
    let run = async {
        let mut resp = match rb.timeout(deadline).send().await {
            Ok(r) => r,
            Err(e) => return Tried::NoAnswer(e),
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        match read_capped(&mut resp, cap).await {
            Ok(b) => Tried::Answer(status, headers, b),
            Err(BodyError::TooLarge) => Tried::TooLarge(status),
            Err(BodyError::Read(e)) => Tried::BodyFailed(e),
        }
    };
    // A little slack so that reqwest's own timeout (with its classification) usually fires first.
    match tokio::time::timeout(deadline + Duration::from_millis(500), run).await {
        Ok(t) => t,
        Err(_) => Tried::Deadline,
    }
}

/// Why [`read_capped`] stopped.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the cap (by its Content-Length, or by what arrived).
    TooLarge,
    Read(reqwest::Error),
}

/// Reads a body in chunks, at most `cap` bytes: a Content-Length above the cap fails before
/// anything is read, and an answer that grows past it stops there.
pub async fn read_capped(
    resp: &mut reqwest::Response,
    cap: usize,
) -> std::result::Result<Vec<u8>, BodyError> {
    let declared = resp.content_length();
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut out = Vec::with_capacity(declared.map_or(0, |n| n as usize).min(64 << 10));
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Read)? {
        if out.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

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
    /// The longest one try may take, connect, headers and body (`ClientConfig::timeout`).
    pub timeout: Duration,
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
            timeout: nonzero(cfg.timeout),
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

    /// The deadline of the next try under `budget`: the client's timeout, or less when the
    /// operation's deadline comes first.
    pub fn try_deadline(&self, budget: &RetryBudget) -> Duration {
        self.timeout.min(budget.remaining())
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

/// Why a 429 is not waited out.
pub enum Refusal {
    /// A sane wait, but longer than this client waits, or after too many waits: seconds.
    Wait(u64),
    /// The wait would pass the operation's deadline or its attempts: seconds.
    Budget(u64),
    /// Not a wait Kinde asks for (above [`MAX_SANE_RESET_SECS`], or unreadable): described.
    Absurd(String),
}

/// Backoff and rate-limit waits of one call, within its [`RetryBudget`].
pub struct Pause<'a> {
    inner: &'a Link,
    budget: RetryBudget,
    retries: u32,
    waits: u32,
}

impl<'a> Pause<'a> {
    pub fn new(inner: &'a Link, budget: RetryBudget) -> Self {
        Pause {
            inner,
            budget,
            retries: 0,
            waits: 0,
        }
    }

    /// Sleeps before a retry; `false` when no retry is allowed: `allowed` is false, or the
    /// budget has no attempt left or no time for the wait and a try after it.
    pub async fn backoff(&mut self, allowed: bool) -> bool {
        let opts = &self.inner.opts;
        if !allowed {
            return false;
        }
        let factor = 1u32 << self.retries.min(10);
        let delay = opts.retry_base_delay.saturating_mul(factor) + jitter(opts);
        if !self.budget.allows(delay) {
            return false;
        }
        self.retries += 1;
        tokio::time::sleep(delay).await;
        true
    }

    /// Waits out a 429 (and makes the client's other calls wait too), at least
    /// `min_rate_limit_wait` doubled on each wait (a reset of 0 is not "go now"); or says why
    /// it will not.
    pub async fn rate_limit(&mut self, headers: &HeaderMap) -> std::result::Result<(), Refusal> {
        let opts = &self.inner.opts;
        let asked = match reset_after(headers) {
            RateWait::Unsaid => Duration::ZERO,
            RateWait::After(d) => d,
            RateWait::Absurd(what) => return Err(Refusal::Absurd(what)),
        };
        let floor = opts
            .min_rate_limit_wait
            .saturating_mul(1u32 << self.waits.min(6));
        let wait = asked.max(floor);
        if self.waits >= opts.max_rate_limit_waits || wait > opts.max_rate_limit_wait {
            // The hint says what Kinde asked for (or the least this client would wait).
            let asked = asked.max(opts.min_rate_limit_wait);
            return Err(Refusal::Wait(secs(asked).max(1)));
        }
        if !self.budget.allows(wait) {
            return Err(Refusal::Budget(secs(wait).max(1)));
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
        let _ = tokio::time::timeout(self.budget.remaining(), self.inner.await_cooldown()).await;
        Ok(())
    }
}

/// What a 429 asked for.
#[derive(Debug, PartialEq)]
pub enum RateWait {
    /// No (usable) header: the client's own minimum wait.
    Unsaid,
    After(Duration),
    /// Above [`MAX_SANE_RESET_SECS`], or not a number: described for the error.
    Absurd(String),
}

/// `RateLimit-Reset` (seconds, or a Unix time), else `Retry-After` (seconds or an HTTP date).
/// A value that is not a sane wait is [`RateWait::Absurd`] unless the other header gives one.
pub fn reset_after(headers: &HeaderMap) -> RateWait {
    let now = chrono::Utc::now().timestamp() as f64;
    let text = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
    };
    let sane = |secs: f64| secs <= MAX_SANE_RESET_SECS as f64;
    let mut absurd: Option<String> = None;
    if let Some(v) = text("ratelimit-reset") {
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => {
                // Large values are absolute Unix times.
                let secs = if x > 1.0e9 { (x - now).max(0.0) } else { x };
                if sane(secs) {
                    return RateWait::After(Duration::from_secs_f64(secs));
                }
                absurd = Some(format!(
                    "about {} s (RateLimit-Reset: {})",
                    magnitude(secs),
                    shown(&v)
                ));
            }
            _ => {
                absurd = Some(format!(
                    "\"{}\" (RateLimit-Reset), which is not a number of seconds",
                    shown(&v)
                ));
            }
        }
    }
    if let Some(v) = text(RETRY_AFTER.as_str()) {
        let secs = match v.parse::<u64>() {
            Ok(s) => Some(s as f64),
            Err(_) => chrono::DateTime::parse_from_rfc2822(&v)
                .ok()
                .map(|at| (at.timestamp() as f64 - now).max(0.0)),
        };
        match secs {
            Some(s) if sane(s) => return RateWait::After(Duration::from_secs_f64(s)),
            Some(s) => {
                absurd.get_or_insert(format!(
                    "about {} s (Retry-After: {})",
                    magnitude(s),
                    shown(&v)
                ));
            }
            None => {
                absurd.get_or_insert(format!(
                    "\"{}\" (Retry-After), which is neither seconds nor a date",
                    shown(&v)
                ));
            }
        }
    }
    match absurd {
        Some(a) => RateWait::Absurd(a),
        None => RateWait::Unsaid,
    }
}

/// A header value for a message: at most 40 printable characters.
fn shown(v: &str) -> String {
    v.chars()
        .filter(|c| !c.is_control())
        .take(40)
        .collect::<String>()
}

/// A number of seconds as a person reads it: `86400`, or `10^12` / `2.5×10^13` when huge.
pub fn magnitude(secs: f64) -> String {
    if secs < 1.0e6 {
        return format!("{secs:.0}");
    }
    let mut exp = secs.log10().floor();
    let mut mant = (secs / 10f64.powf(exp) * 10.0).round() / 10.0;
    if mant >= 10.0 {
        mant /= 10.0;
        exp += 1.0;
    }
    if (mant - 1.0).abs() < 0.05 {
        format!("10^{exp:.0}")
    } else {
        format!("{mant:.1}×10^{exp:.0}")
    }
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

    fn after(w: RateWait) -> Duration {
        match w {
            RateWait::After(d) => d,
            other => panic!("not a wait: {other:?}"),
        }
    }

    #[test]
    fn reset_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(reset_after(&h), RateWait::Unsaid);
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(after(reset_after(&h)), Duration::from_secs(3));
        h.insert("ratelimit-reset", HeaderValue::from_static("2"));
        assert_eq!(after(reset_after(&h)), Duration::from_secs(2));
        h.insert("ratelimit-reset", HeaderValue::from_static("garbage"));
        assert_eq!(after(reset_after(&h)), Duration::from_secs(3));
        h.insert("ratelimit-reset", HeaderValue::from_static("0"));
        assert_eq!(after(reset_after(&h)), Duration::ZERO);
        let mut h = HeaderMap::new();
        let later = chrono::Utc::now() + chrono::Duration::seconds(30);
        let v = HeaderValue::from_str(&later.to_rfc2822()).unwrap();
        h.insert("retry-after", v);
        let d = after(reset_after(&h));
        assert!(d <= Duration::from_secs(31) && d >= Duration::from_secs(28));
    }

    #[test]
    fn absurd_resets_are_described_not_waited() {
        let one = |k: &'static str, v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(k, HeaderValue::from_static(v));
            reset_after(&h)
        };
        let RateWait::Absurd(a) = one("ratelimit-reset", "1e12") else {
            panic!("1e12 taken as a wait")
        };
        assert!(a.contains("10^12 s") && a.contains("1e12"), "{a}");
        let RateWait::Absurd(a) = one("ratelimit-reset", "86401") else {
            panic!("a day taken as a wait")
        };
        assert!(a.contains("86401 s"), "{a}");
        assert!(
            matches!(one("ratelimit-reset", "soon"), RateWait::Absurd(a) if a.contains("soon"))
        );
        assert!(matches!(one("ratelimit-reset", "-5"), RateWait::Absurd(_)));
        assert!(matches!(one("ratelimit-reset", "NaN"), RateWait::Absurd(_)));
        assert!(matches!(one("retry-after", "1e12"), RateWait::Absurd(_)));
        assert_eq!(
            one("ratelimit-reset", "3600"),
            RateWait::After(Duration::from_secs(3600))
        );
        assert_eq!(magnitude(2.5e13), "2.5×10^13");
        assert_eq!(magnitude(9.99e11), "10^12");
    }
}
