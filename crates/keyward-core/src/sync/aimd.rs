//! Adaptive concurrency of the detail fetches (GETs only): AIMD with a latency signal.
//!
//! - Slow start: from [`INITIAL`], one more request in flight per answer (the limit doubles
//!   every round trip) until the first sign of congestion.
//! - Then additive increase: one more per round trip (1/limit per answer) while answers are
//!   fast.
//! - Multiplicative decrease: halved on a 429 (the client itself waits out `RateLimit-Reset`
//!   before any request goes out again); ×0.8 when the smoothed latency rises above twice its
//!   baseline (the smallest smoothed latency seen). At most one decrease per round trip (per
//!   `limit` answers), since one burst of 429s is one signal.
//! - Never above `cap`, never below 1. A pinned limit never moves.
//!
//! Pure and deterministic: the caller measures the round trips and feeds them in.

use std::time::Duration;

/// The starting limit of an adaptive controller.
pub const INITIAL: u32 = 4;
/// Answers before the latency baseline is trusted.
const WARMUP: u64 = 8;
/// Weight of a new latency sample in the smoothed latency.
const ALPHA: f64 = 0.2;
/// Smoothed latency above `baseline × HOLD` stops the growth; above `baseline × BACK_OFF`
/// shrinks the limit.
const HOLD: f64 = 1.5;
const BACK_OFF: f64 = 2.0;

/// The limit of detail requests in flight.
#[derive(Debug, Clone)]
pub struct Concurrency {
    limit: f64,
    cap: u32,
    pinned: bool,
    slow_start: bool,
    smoothed_ms: Option<f64>,
    baseline_ms: Option<f64>,
    samples: u64,
    /// Answers since the last decrease.
    since_decrease: u64,
    /// The largest limit reached.
    peak: u32,
}

impl Concurrency {
    /// Adaptive, starting at `INITIAL` (or `cap` when lower), never above `cap` (at least 1).
    pub fn adaptive(cap: u32) -> Self {
        let cap = cap.max(1);
        let start = INITIAL.min(cap);
        Concurrency {
            limit: f64::from(start),
            cap,
            pinned: false,
            slow_start: true,
            smoothed_ms: None,
            baseline_ms: None,
            samples: 0,
            since_decrease: u64::MAX / 2,
            peak: start,
        }
    }

    /// Always `n` (at least 1).
    pub fn pinned(n: u32) -> Self {
        let n = n.max(1);
        Concurrency {
            pinned: true,
            limit: f64::from(n),
            cap: n,
            peak: n,
            ..Self::adaptive(n)
        }
    }

    /// Requests that may be in flight now.
    pub fn limit(&self) -> usize {
        (self.limit.floor() as usize).max(1)
    }

    /// The largest limit reached so far.
    pub fn peak(&self) -> u32 {
        self.peak
    }

    pub fn is_pinned(&self) -> bool {
        self.pinned
    }

    /// The smoothed round trip, once there is one.
    pub fn smoothed_rtt(&self) -> Option<Duration> {
        self.smoothed_ms
            .map(|ms| Duration::from_secs_f64(ms / 1000.0))
    }

    /// An answer that came without a 429, after `rtt`.
    pub fn on_success(&mut self, rtt: Duration) {
        let ms = rtt.as_secs_f64() * 1000.0;
        self.samples += 1;
        self.since_decrease = self.since_decrease.saturating_add(1);
        let smoothed = match self.smoothed_ms {
            Some(s) => s + ALPHA * (ms - s),
            None => ms,
        };
        self.smoothed_ms = Some(smoothed);
        if self.samples >= WARMUP {
            self.baseline_ms = Some(self.baseline_ms.map_or(smoothed, |b| b.min(smoothed)));
        }
        if self.pinned {
            return;
        }
        if let Some(base) = self.baseline_ms {
            if smoothed > base * BACK_OFF {
                self.decrease(0.8);
                return;
            }
            if smoothed > base * HOLD {
                self.slow_start = false;
                return;
            }
        }
        self.limit += if self.slow_start {
            1.0
        } else {
            1.0 / self.limit.max(1.0)
        };
        self.limit = self.limit.min(f64::from(self.cap));
        self.peak = self.peak.max(self.limit() as u32);
    }

    /// An answer that was (or followed) a 429.
    pub fn on_throttled(&mut self) {
        self.since_decrease = self.since_decrease.saturating_add(1);
        if !self.pinned {
            self.decrease(0.5);
        }
    }

    fn decrease(&mut self, factor: f64) {
        self.slow_start = false;
        if self.since_decrease < self.limit() as u64 {
            return;
        }
        self.limit = (self.limit * factor).max(1.0);
        self.since_decrease = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_millis(20);

    fn feed(c: &mut Concurrency, n: usize, rtt: Duration) {
        for _ in 0..n {
            c.on_success(rtt);
        }
    }

    #[test]
    fn grows_while_answers_are_fast_up_to_the_cap() {
        let mut c = Concurrency::adaptive(64);
        assert_eq!(c.limit(), INITIAL as usize);
        feed(&mut c, 10, FAST);
        assert!(c.limit() > INITIAL as usize, "slow start: {}", c.limit());
        feed(&mut c, 10_000, FAST);
        assert_eq!(c.limit(), 64, "stops at the cap");
        assert_eq!(c.peak(), 64);
        let mut small = Concurrency::adaptive(2);
        feed(&mut small, 1_000, FAST);
        assert_eq!(small.limit(), 2);
    }

    #[test]
    fn halves_on_429_once_per_round_trip_and_grows_back_linearly() {
        let mut c = Concurrency::adaptive(64);
        feed(&mut c, 10_000, FAST);
        assert_eq!(c.limit(), 64);
        c.on_throttled();
        assert_eq!(c.limit(), 32);
        // The rest of the same burst (the requests in flight) is one signal, not 31 more.
        for _ in 0..31 {
            c.on_throttled();
        }
        assert_eq!(c.limit(), 32);
        // The next round trip's 429 halves again.
        c.on_throttled();
        assert_eq!(c.limit(), 16);
        // After congestion: additive increase, about one per round trip (~16 answers).
        feed(&mut c, 20, FAST);
        assert_eq!(c.limit(), 17);
        feed(&mut c, 20, FAST);
        assert_eq!(c.limit(), 18);
        // Never below 1.
        let mut one = Concurrency::adaptive(64);
        for _ in 0..100 {
            one.on_throttled();
        }
        assert_eq!(one.limit(), 1);
    }

    #[test]
    fn shrinks_when_latency_rises_and_holds_when_it_is_high() {
        let mut c = Concurrency::adaptive(64);
        feed(&mut c, 10_000, FAST);
        assert_eq!(c.limit(), 64);
        // Latency triples: the smoothed value climbs past 2× the baseline and the limit
        // shrinks.
        feed(&mut c, 200, Duration::from_millis(60));
        assert!(c.limit() < 64, "{}", c.limit());
        let shrunk = c.limit();
        // 1.5×–2× the baseline: no growth, no shrinking.
        let mut h = Concurrency::adaptive(64);
        feed(&mut h, 30, FAST);
        feed(&mut h, 10, Duration::from_millis(35));
        let before = h.limit();
        feed(&mut h, 200, Duration::from_millis(35));
        assert_eq!(h.limit(), before, "held at {before}");
        // Fast again: grows again.
        feed(&mut c, 2_000, FAST);
        assert!(c.limit() > shrunk);
    }

    #[test]
    fn a_pinned_limit_never_moves() {
        let mut c = Concurrency::pinned(8);
        assert!(c.is_pinned());
        feed(&mut c, 1_000, FAST);
        assert_eq!(c.limit(), 8);
        c.on_throttled();
        feed(&mut c, 100, Duration::from_secs(2));
        assert_eq!(c.limit(), 8);
        assert_eq!(Concurrency::pinned(0).limit(), 1);
    }
}
