//! The request loop: auth, counting (requests by kind, answers by status code), 401 refresh, 429 waits, retries of GETs only.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_LENGTH};

use super::errors::{Ctx, Transport, classify, status_error, transport_error};
use super::token::{Token, TokenCache};
use super::transport::{Kind, Link, Pause, kind_of, retriable};
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

    /// Sends one Management API request and returns the body of a 2xx answer.
    pub async fn send(
        &self,
        ctx: &Ctx<'_>,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>> {
        let url = format!("{}{path}", self.origin);
        let mut pause = Pause::new(&self.link);
        let mut rejected: Option<Arc<Token>> = None;
        let mut first = true;
        loop {
            let token = self
                .token
                .get(&self.link, &self.client_id, &self.secret, rejected.as_ref())
                .await?;
            self.await_cooldown().await;
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
            let fail = |t: Transport, e: &reqwest::Error| transport_error(ctx, t, &self.host, e);
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(e) => {
                    self.counts.unanswered();
                    let t = classify(&e);
                    if ctx.op.idempotent() && retriable(t) && pause.backoff(true).await {
                        continue;
                    }
                    return Err(fail(t, &e));
                }
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            let bytes = match resp.bytes().await {
                Ok(b) => {
                    self.counts.answered(status.as_u16());
                    b.to_vec()
                }
                Err(e) => {
                    self.counts.unanswered();
                    let t = classify(&e);
                    if ctx.op.idempotent() && pause.backoff(true).await {
                        continue;
                    }
                    // The request was sent: a write is in doubt.
                    let t = if matches!(t, Transport::Timeout) {
                        t
                    } else {
                        Transport::Broken
                    };
                    return Err(fail(t, &e));
                }
            };
            if status.as_u16() == 401 && rejected.is_none() {
                rejected = Some(token);
                continue;
            }
            if status.as_u16() == 429 {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                match pause.rate_limit(&headers).await {
                    Ok(()) => continue,
                    Err(secs) => return Err(status_error(ctx, status, &bytes, Some(secs))),
                }
            }
            if status.is_server_error() && ctx.op.idempotent() && pause.backoff(true).await {
                continue;
            }
            if status.is_success() {
                return Ok(bytes);
            }
            return Err(status_error(ctx, status, &bytes, None));
        }
    }
}
