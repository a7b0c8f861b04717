//! The request loop: auth, counting (requests by kind, answers by status code), 401 refresh, 429 waits, retries of GETs only,
//! all within one [`RetryBudget`] per operation.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_LENGTH};

use super::budget::RetryBudget;
use super::errors::{
    Ctx, Transport, absurd_wait, classify, deadline_error, status_error, too_large, transport_error,
};
use super::token::{Token, TokenCache};
use super::transport::{Kind, Link, Pause, Refusal, Tried, exchange, kind_of, retriable};
use super::types::{ClientConfig, ClientOptions};
use super::validate::{check_base_url, validate_id};
use crate::error::{Error, ErrorCode, Result};
use crate::secret::Secret;

/// A client's shared state: its transport, its credentials and its token cache.
pub struct Inner {
    pub link: Link,
    pub client_id: String,
    pub secret: Secret,
    pub token: TokenCache,
}

impl std::ops::Deref for Inner {
    type Target = Link;

    fn deref(&self) -> &Link {
        &self.link
    }
}

impl Inner {
    pub fn new(cfg: ClientConfig, opts: ClientOptions) -> Result<Inner> {
        check_base_url(&cfg.base_url)?;
        validate_id("client id", &cfg.client_id)?;
        if cfg.client_secret.expose().trim().is_empty() {
            return Err(Error::new(
                ErrorCode::SecretMissing,
                "the client secret is empty",
                "Copy the M2M application's client secret from Kinde > Settings > Applications \
                 and give it again (or set KEYWARD_CLIENT_SECRET).",
            ));
        }
        if cfg.client_secret.expose().chars().any(char::is_whitespace) {
            return Err(Error::invalid_input(
                "client secret",
                "contains whitespace",
                "Copy the client secret again from Kinde > Settings > Applications; it has no \
                 spaces or newlines.",
            ));
        }
        Ok(Inner {
            link: Link::new(&cfg, opts)?,
            client_id: cfg.client_id,
            secret: cfg.client_secret,
            token: TokenCache::default(),
        })
    }

    /// Sends one Management API request and returns the body of a 2xx answer. Every try,
    /// the token's included, fits in `budget` (attempts and deadline); each reads at most its
    /// operation's cap ([`Operation::max_body`](super::Operation::max_body)).
    pub async fn send(
        &self,
        budget: &RetryBudget,
        ctx: &Ctx<'_>,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>> {
        let url = format!("{}{path}", self.origin);
        let mut pause = Pause::new(&self.link, budget.clone());
        let mut rejected: Option<Arc<Token>> = None;
        let mut first = true;
        loop {
            let token = self
                .token
                .get(
                    &self.link,
                    &self.client_id,
                    &self.secret,
                    rejected.as_ref(),
                    budget,
                )
                .await?;
            let _ = tokio::time::timeout(budget.remaining(), self.await_cooldown()).await;
            let deadline = self.try_deadline(budget);
            if deadline.is_zero() {
                return Err(budget.gave_up(deadline_error(ctx, &self.host, budget.limit())));
            }
            budget.take();
            self.counts.add(kind_of(ctx.op));
            if !first {
                self.counts.add(Kind::Retry);
            }
            first = false;
            let mut rb = self
                .http
                .request(method.clone(), &url)
                .header(ACCEPT, "application/json")
                .bearer_auth(token.access.expose());
            if !query.is_empty() {
                rb = rb.query(query);
            }
            rb = match body {
                Some(b) => rb.json(b),
                None if method != Method::GET => rb.header(CONTENT_LENGTH, "0"),
                None => rb,
            };
            let retry_allowed = ctx.op.idempotent();
            let (status, headers, bytes) = match exchange(rb, ctx.op.max_body(), deadline).await {
                Tried::Answer(s, h, b) => {
                    self.counts.answered(s.as_u16());
                    (s, h, b)
                }
                Tried::TooLarge(s) => {
                    self.counts.answered(s.as_u16());
                    return Err(too_large(ctx, &self.host, s));
                }
                Tried::NoAnswer(e) => {
                    self.counts.unanswered();
                    let t = classify(&e);
                    let err = self.failure(ctx, t, &e, deadline);
                    if retry_allowed && retriable(t) {
                        if pause.backoff(true).await {
                            continue;
                        }
                        return Err(budget.gave_up(err));
                    }
                    return Err(err);
                }
                Tried::BodyFailed(e) => {
                    self.counts.unanswered();
                    // The request was sent: a write is in doubt.
                    let t = match classify(&e) {
                        Transport::Timeout => Transport::Timeout,
                        _ => Transport::Broken,
                    };
                    let err = self.failure(ctx, t, &e, deadline);
                    if retry_allowed {
                        if pause.backoff(true).await {
                            continue;
                        }
                        return Err(budget.gave_up(err));
                    }
                    return Err(err);
                }
                Tried::Deadline => {
                    self.counts.unanswered();
                    let err = deadline_error(ctx, &self.host, deadline);
                    if retry_allowed {
                        if pause.backoff(true).await {
                            continue;
                        }
                        return Err(budget.gave_up(err));
                    }
                    return Err(err);
                }
            };
            if status.as_u16() == 401 && rejected.is_none() && budget.allows(Duration::ZERO) {
                rejected = Some(token);
                continue;
            }
            if status.as_u16() == 429 {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                match pause.rate_limit(&headers).await {
                    Ok(()) => continue,
                    Err(Refusal::Wait(secs)) => {
                        return Err(status_error(ctx, status, &bytes, Some(secs)));
                    }
                    Err(Refusal::Budget(secs)) => {
                        return Err(budget.gave_up(status_error(ctx, status, &bytes, Some(secs))));
                    }
                    Err(Refusal::Absurd(asked)) => {
                        return Err(absurd_wait(ctx.op.describe(), &asked));
                    }
                }
            }
            if status.is_server_error() && retry_allowed {
                if pause.backoff(true).await {
                    continue;
                }
                return Err(budget.gave_up(status_error(ctx, status, &bytes, None)));
            }
            if status.is_success() {
                budget.succeeded();
                return Ok(bytes);
            }
            return Err(status_error(ctx, status, &bytes, None));
        }
    }

    /// A try that got no (whole) answer: a timeout names the try's deadline.
    fn failure(
        &self,
        ctx: &Ctx<'_>,
        t: Transport,
        e: &reqwest::Error,
        deadline: Duration,
    ) -> Error {
        if t == Transport::Timeout {
            deadline_error(ctx, &self.host, deadline)
        } else {
            transport_error(ctx, t, &self.host, e)
        }
    }
}
