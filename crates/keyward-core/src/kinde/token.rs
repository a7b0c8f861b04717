//! The client-credentials token: fetched once, cached until shortly before expiry, one refresh
//! in flight at a time, and refreshed once when Kinde answers 401.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, DATE, HeaderMap};

use super::budget::RetryBudget;
use super::errors::{
    Ctx, Operation, Transport, absurd_wait, classify, deadline_error, token_error, too_large,
    transport_error,
};
use super::transport::{Kind, Link, Pause, Refusal, Tried, exchange, retriable};
use super::types::TokenInfo;
use super::wire::{TokenResponse, parse};
use crate::error::{Error, ErrorCode, Result};
use crate::secret::Secret;

/// Clock skew above this many seconds is warned about.
pub const SKEW_WARN_SECS: i64 = 60;

pub struct Token {
    pub access: Secret,
    /// Local instant after which the token is not used any more.
    pub use_until: Instant,
    pub expires_at: DateTime<Utc>,
    pub scopes: Vec<String>,
    pub skew_secs: Option<i64>,
}

impl Token {
    pub fn info(&self) -> TokenInfo {
        TokenInfo {
            scopes: self.scopes.clone(),
            expires_at: self.expires_at,
            clock_skew_secs: self.skew_secs,
            clock_skew_warning: self.skew_secs.and_then(skew_warning),
        }
    }

    fn fresh(&self) -> bool {
        Instant::now() < self.use_until
    }
}

/// The warning for a clock skew above [`SKEW_WARN_SECS`].
pub fn skew_warning(skew: i64) -> Option<String> {
    (skew.abs() > SKEW_WARN_SECS).then(|| {
        let dir = if skew > 0 { "behind" } else { "ahead of" };
        format!(
            "This computer's clock is {} s {dir} Kinde's: token expiry and dates will be off. \
             Turn on automatic time synchronization (NTP).",
            skew.abs()
        )
    })
}

#[derive(Default)]
pub struct TokenCache {
    current: parking_lot::Mutex<Option<Arc<Token>>>,
    /// Held while a token request is in flight: single flight.
    refresh: tokio::sync::Mutex<()>,
    /// Token requests started so far, and the error of the last one if it failed: callers
    /// that waited for a request which failed share its error instead of each asking again.
    attempts: std::sync::atomic::AtomicU64,
    failure: parking_lot::Mutex<Option<Error>>,
}

impl TokenCache {
    fn cached(&self, rejected: Option<&Arc<Token>>) -> Option<Arc<Token>> {
        let cur = self.current.lock();
        cur.as_ref()
            .filter(|t| t.fresh())
            .filter(|t| rejected.is_none_or(|r| !Arc::ptr_eq(t, r)))
            .cloned()
    }

    /// A usable token. `rejected`: the token Kinde just answered 401 to; it is not reused.
    /// A token request keeps within `budget`'s deadline (with attempts of its own, which a
    /// failure then counts against `budget`).
    pub async fn get(
        &self,
        link: &Link,
        client_id: &str,
        secret: &Secret,
        rejected: Option<&Arc<Token>>,
        budget: &RetryBudget,
    ) -> Result<Arc<Token>> {
        use std::sync::atomic::Ordering;
        if let Some(t) = self.cached(rejected) {
            return Ok(t);
        }
        let seen = self.attempts.load(Ordering::SeqCst);
        let _flight = self.refresh.lock().await;
        // Another caller may have refreshed while this one waited...
        if let Some(t) = self.cached(rejected) {
            return Ok(t);
        }
        // ...or tried and failed: share that answer rather than asking again at once.
        if self.attempts.load(Ordering::SeqCst) != seen
            && let Some(e) = self.failure.lock().clone()
        {
            budget.take();
            return Err(e);
        }
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let parent = budget;
        let budget = parent.child(parent.remaining());
        match fetch(link, client_id, secret, &budget).await {
            Ok(t) => {
                let t = Arc::new(t);
                *self.failure.lock() = None;
                *self.current.lock() = Some(t.clone());
                Ok(t)
            }
            Err(e) => {
                // The failed tries count against the operation's budget too: a caller that
                // retries (the sync) must not start the token's tries over until its deadline.
                for _ in 0..budget.attempts().max(1) {
                    parent.take();
                }
                *self.failure.lock() = Some(e.clone());
                Err(e)
            }
        }
    }
}

/// Kinde's clock minus ours, from a `Date` header.
pub fn skew_from(headers: &HeaderMap) -> Option<i64> {
    let date = headers.get(DATE)?.to_str().ok()?;
    let server = DateTime::parse_from_rfc2822(date).ok()?;
    Some(server.timestamp() - Utc::now().timestamp())
}

/// The scopes in a JWT's payload (`scope`, space separated, and `scp`, an array).
pub fn jwt_scopes(jwt: &str) -> Vec<String> {
    let Some(payload) = jwt.split('.').nth(1) else {
        return Vec::new();
    };
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Ok(bytes) = engine.decode(payload.trim_end_matches('=')) else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    if let Some(s) = v.get("scope").and_then(|s| s.as_str()) {
        out.extend(s.split_whitespace().map(str::to_string));
    }
    if let Some(arr) = v.get("scp").and_then(|s| s.as_array()) {
        out.extend(arr.iter().filter_map(|s| s.as_str()).map(str::to_string));
    }
    out.sort();
    out.dedup();
    out
}

fn lifetime(v: Option<&serde_json::Value>) -> u64 {
    match v {
        Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(3600),
        Some(serde_json::Value::String(s)) => s.trim().parse().unwrap_or(3600),
        _ => 3600,
    }
}

/// Used until `lifetime - margin`: 60 s before expiry, less for short-lived tokens.
fn margin(lifetime: Duration) -> Duration {
    (lifetime / 4).min(Duration::from_secs(60))
}

async fn fetch(
    inner: &Link,
    client_id: &str,
    secret: &Secret,
    budget: &RetryBudget,
) -> Result<Token> {
    let ctx = Ctx {
        op: Operation::Token,
        subject: None,
        name: None,
    };
    let url = format!("{}/oauth2/token", inner.origin);
    let audience = format!("{}/api", inner.origin);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret.expose()),
        ("audience", audience.as_str()),
    ];
    let mut pause = Pause::new(inner, budget.clone());
    loop {
        let _ = tokio::time::timeout(budget.remaining(), inner.await_cooldown()).await;
        let deadline = inner.try_deadline(budget);
        if deadline.is_zero() {
            return Err(budget.gave_up(deadline_error(&ctx, &inner.host, budget.limit())));
        }
        budget.take();
        inner.counts.add(Kind::Token);
        let sent = Instant::now();
        let rb = inner
            .http
            .post(&url)
            .header(ACCEPT, "application/json")
            .form(&form);
        let (status, headers, body) = match exchange(rb, ctx.op.max_body(), deadline).await {
            Tried::Answer(s, h, b) => {
                inner.counts.answered(s.as_u16());
                (s, h, b)
            }
            Tried::TooLarge(s) => {
                inner.counts.answered(s.as_u16());
                return Err(too_large(&ctx, &inner.host, s));
            }
            Tried::NoAnswer(e) => {
                inner.counts.unanswered();
                let t = classify(&e);
                let err = if t == Transport::Timeout {
                    deadline_error(&ctx, &inner.host, deadline)
                } else {
                    transport_error(&ctx, t, &inner.host, &e)
                };
                if !retriable(t) {
                    return Err(err);
                }
                if pause.backoff(true).await {
                    inner.counts.add(Kind::Retry);
                    continue;
                }
                return Err(budget.gave_up(err));
            }
            Tried::BodyFailed(e) => {
                inner.counts.unanswered();
                let t = classify(&e);
                let err = if t == Transport::Timeout {
                    deadline_error(&ctx, &inner.host, deadline)
                } else {
                    transport_error(&ctx, t, &inner.host, &e)
                };
                if pause.backoff(true).await {
                    inner.counts.add(Kind::Retry);
                    continue;
                }
                return Err(budget.gave_up(err));
            }
            Tried::Deadline => {
                inner.counts.unanswered();
                if pause.backoff(true).await {
                    inner.counts.add(Kind::Retry);
                    continue;
                }
                return Err(budget.gave_up(deadline_error(&ctx, &inner.host, deadline)));
            }
        };
        if status.as_u16() == 429 {
            match pause.rate_limit(&headers).await {
                Ok(()) => {
                    inner.counts.add(Kind::Retry);
                    continue;
                }
                Err(Refusal::Wait(secs)) => return Err(token_error(status, &body, Some(secs))),
                Err(Refusal::Budget(secs)) => {
                    return Err(budget.gave_up(token_error(status, &body, Some(secs))));
                }
                Err(Refusal::Absurd(asked)) => {
                    return Err(absurd_wait(ctx.op.describe(), &asked));
                }
            }
        }
        if status.is_server_error() {
            if pause.backoff(true).await {
                inner.counts.add(Kind::Retry);
                continue;
            }
            return Err(budget.gave_up(token_error(status, &body, None)));
        }
        if !status.is_success() {
            return Err(token_error(status, &body, None));
        }
        let r: TokenResponse = parse(&body, "the token request")?;
        let access = r.access_token.filter(|t| !t.is_empty()).ok_or_else(|| {
            Error::new(
                ErrorCode::UnexpectedResponse,
                "the token answer has no access_token",
                "Check that the profile's domain is your Kinde business domain.",
            )
        })?;
        if let Some(tt) = r.token_type.as_deref()
            && !tt.eq_ignore_ascii_case("bearer")
        {
            tracing::warn!(token_type = tt, "unexpected token type");
        }
        let life = Duration::from_secs(lifetime(r.expires_in.as_ref()).min(86_400 * 365));
        let skew = skew_from(&headers);
        if let Some(w) = skew.and_then(skew_warning) {
            tracing::warn!("{w}");
        }
        let scopes = jwt_scopes(&access);
        let life_chrono = chrono::Duration::from_std(life).unwrap_or(chrono::Duration::zero());
        return Ok(Token {
            access: Secret::new(access),
            use_until: sent + life.saturating_sub(margin(life)),
            expires_at: Utc::now() + life_chrono,
            scopes,
            skew_secs: skew,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_from_a_jwt() {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload =
            engine.encode(br#"{"scope":"read:users read:apis","scp":["read:apis","x:y"]}"#);
        let jwt = format!("h.{payload}.s");
        assert_eq!(jwt_scopes(&jwt), vec!["read:apis", "read:users", "x:y"]);
        assert!(jwt_scopes("opaque").is_empty());
        assert!(jwt_scopes("a.!!!.b").is_empty());
    }

    #[test]
    fn margins_and_skew() {
        assert_eq!(margin(Duration::from_secs(3600)), Duration::from_secs(60));
        assert_eq!(margin(Duration::from_secs(2)), Duration::from_millis(500));
        assert!(skew_warning(61).is_some());
        assert!(skew_warning(-61).unwrap().contains("ahead"));
        assert!(skew_warning(60).is_none());
    }
}
