//! A token bucket of failed sign-ins per client address: after 5 failures in a minute, an
//! address is answered 429 until the bucket refills (5 a minute).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
