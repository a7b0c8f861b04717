//! Who is asking: the member of a `Authorization: Bearer kwp_…` token, looked up by its hash
//! on every request (no cache: a revoked token fails at once), and a per-address token bucket
//! that slows down repeated failures. The token is never logged.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::header;
use keyward_core::ctx::blocking;

use super::members::{self, Member, TOKEN_PREFIX};
use super::state::{Api, ApiError};
use crate::pg;

/// The client's address: the peer, or behind a reverse proxy on loopback the last address of
/// its `X-Forwarded-For`.
pub fn client_ip(req: &Request) -> IpAddr {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    if peer.is_loopback()
        && let Some(fwd) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        && let Some(ip) = fwd
            .rsplit(',')
            .next()
            .and_then(|s| s.trim().parse::<IpAddr>().ok())
    {
        return ip;
    }
    peer
}

/// Who is asking, read from a request before anything is awaited (a request's body is not
/// `Sync`).
pub struct Caller {
    pub ip: IpAddr,
    token: String,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("ip", &self.ip)
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// The bearer token as sent (possibly empty): for a long stream to check it again.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

/// Whether `token` still belongs to a member (`true` when the database cannot say: a long
/// stream is not cut for a database hiccup).
pub async fn still_member(api: &Api, token: &str) -> bool {
    let (pool, token) = (api.pool.clone(), token.to_string());
    match blocking(move || members::authenticate(&mut *pg::get(&pool)?, &token)).await {
        Ok(found) => found.is_some(),
        Err(e) => {
            tracing::debug!(code = %e.code, "cannot check a stream's token again: {}", e.message);
            true
        }
    }
}

/// The caller of `req`: its address and bearer token (possibly empty).
pub fn caller(req: &Request) -> Caller {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("")
        .to_string();
    Caller {
        ip: client_ip(req),
        token,
    }
}

/// The member a [`Caller`] is, or the answer that refuses it (401, 429, or 503 when the
/// database cannot say).
pub async fn member_of(api: &Api, caller: Caller) -> Result<Member, ApiError> {
    let Caller { ip, token } = caller;
    api.limiter.check(ip).map_err(ApiError::throttled)?;
    if token.is_empty() {
        api.limiter.fail(ip);
        return Err(ApiError::unauthorized(
            "no token: send Authorization: Bearer kwp_…",
        ));
    }
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
        api.limiter.fail(ip);
        return Err(ApiError::unauthorized("that is not a Keyward Server token"));
    }
    let pool = api.pool.clone();
    let found = blocking(move || members::authenticate(&mut *pg::get(&pool)?, &token)).await?;
    match found {
        Some(m) => Ok(m),
        None => {
            api.limiter.fail(ip);
            tracing::info!(%ip, "refused a request with an unknown or revoked token");
            Err(ApiError::unauthorized(
                "the token is unknown or was revoked",
            ))
        }
    }
}
