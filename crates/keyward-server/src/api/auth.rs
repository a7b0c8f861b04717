//! Who is asking: the member of a `Authorization: Bearer kwp_…` token, looked up by its hash
//! on every request (no cache: a revoked token fails at once), and a per-address token bucket
//! that slows down repeated failures. The token is never logged.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};
use axum::http::header;
use keyward_core::ctx::blocking;

use super::members::{self, Member, TOKEN_PREFIX};
use super::{Api, ApiError};
use crate::pg;

/// Failed sign-ins an address may make in a burst.
pub const BURST: f64 = 5.0;
/// ... refilled at this many a minute.
pub const PER_MINUTE: f64 = 5.0;

/// A token bucket of failed sign-ins per client address.
#[derive(Default)]
pub struct Limiter {
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl Limiter {
    fn refill(entry: &mut (f64, Instant), now: Instant) {
        let secs = now.duration_since(entry.1).as_secs_f64();
        entry.0 = (entry.0 + secs * PER_MINUTE / 60.0).min(BURST);
        entry.1 = now;
    }

    /// `Err(seconds)` while `ip` has used up its failures.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = b.get_mut(&ip) else {
            return Ok(());
        };
        Self::refill(entry, Instant::now());
        if entry.0 >= 1.0 {
            Ok(())
        } else {
            let wait = (1.0 - entry.0) * 60.0 / PER_MINUTE;
            Err(Duration::from_secs_f64(wait).as_secs().max(1))
        }
    }

    /// Counts a failed sign-in from `ip`.
    pub fn fail(&self, ip: IpAddr) {
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if b.len() > 10_000 {
            // Forget the addresses that are back to a full bucket.
            b.retain(|_, e| {
                Self::refill(e, now);
                e.0 < BURST
            });
        }
        let entry = b.entry(ip).or_insert((BURST, now));
        Self::refill(entry, now);
        entry.0 = (entry.0 - 1.0).max(0.0);
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_then_throttled() {
        let l = Limiter::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..5 {
            assert!(l.check(ip).is_ok());
            l.fail(ip);
        }
        let wait = l.check(ip).unwrap_err();
        assert!((1..=12).contains(&wait), "{wait}");
        assert!(l.check("192.0.2.2".parse().unwrap()).is_ok());
    }
}
