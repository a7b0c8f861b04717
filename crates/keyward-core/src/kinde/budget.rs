//! One retry budget per operation: a total deadline and a maximum number of attempts, shared
//! by every loop that may re-send a request (the client's own, and a caller's such as the
//! sync's), so that retries never nest (4 client tries inside 4 sync tries).
//!
//! A budget is cheap to clone; clones share the attempt counter. The client counts one attempt
//! per request it sends and clears the count after a successful answer, so one budget can carry
//! a sequence of requests (the pages of a listing) under one deadline, each request getting at
//! most `max_attempts` tries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::error::Error;

/// A total deadline and a maximum number of attempts for one operation (see the module docs).
#[derive(Clone)]
pub struct RetryBudget {
    started: Instant,
    until: Instant,
    /// The deadline as given (for messages).
    limit: Duration,
    max_attempts: u32,
    attempts: Arc<AtomicU32>,
}

impl std::fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryBudget")
            .field("limit", &self.limit)
            .field("max_attempts", &self.max_attempts)
            .field("attempts", &self.attempts())
            .field("elapsed", &self.elapsed())
            .finish()
    }
}

impl RetryBudget {
    /// At most `max_attempts` tries of a request (at least 1), all of them within `deadline`
    /// from now.
    pub fn new(max_attempts: u32, deadline: Duration) -> RetryBudget {
        let now = Instant::now();
        RetryBudget {
            started: now,
            until: now + deadline,
            limit: deadline,
            max_attempts: max_attempts.max(1),
            attempts: Arc::new(AtomicU32::new(0)),
        }
    }

    /// A budget for one call inside this operation: its own attempt count (at most this
    /// budget's `max_attempts`), and `deadline` from now but never past this budget's.
    pub fn child(&self, deadline: Duration) -> RetryBudget {
        let now = Instant::now();
        let until = self.until.min(now + deadline);
        RetryBudget {
            started: now,
            until,
            limit: until.saturating_duration_since(now),
            max_attempts: self.max_attempts,
            attempts: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Attempts made so far (since the last success).
    pub fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::SeqCst)
    }

    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The deadline as given.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.until.saturating_duration_since(Instant::now())
    }

    /// Counts one attempt about to be sent.
    pub(crate) fn take(&self) {
        self.attempts.fetch_add(1, Ordering::SeqCst);
    }

    /// A request succeeded: the next request of the operation gets its full tries again.
    pub(crate) fn succeeded(&self) {
        self.attempts.store(0, Ordering::SeqCst);
    }

    /// Whether one more attempt is allowed after waiting `wait` first.
    pub fn allows(&self, wait: Duration) -> bool {
        self.attempts() < self.max_attempts && wait < self.remaining()
    }

    /// `e` with the budget named: how many attempts in how long, and the limits.
    pub fn gave_up(&self, mut e: Error) -> Error {
        let n = self.attempts();
        let plural = if n == 1 { "" } else { "s" };
        e.message = format!(
            "{}; gave up after {n} attempt{plural} in {} s (this operation allows {} attempts \
             within {} s)",
            e.message,
            secs(self.elapsed()),
            self.max_attempts,
            secs(self.limit),
        );
        e
    }
}

/// Whole seconds, rounded up (a wait of 0.2 s is "1 s", never "0 s").
pub fn secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn attempts_are_shared_by_clones_and_cleared_by_a_success() {
        let b = RetryBudget::new(2, Duration::from_secs(60));
        let c = b.clone();
        assert!(b.allows(Duration::ZERO));
        b.take();
        c.take();
        assert_eq!(b.attempts(), 2);
        assert!(!c.allows(Duration::ZERO));
        b.succeeded();
        assert!(c.allows(Duration::ZERO));
        assert!(!b.allows(Duration::from_secs(61)));
        let e = b.gave_up(Error::new(ErrorCode::Timeout, "m", "h"));
        assert!(
            e.message.contains("gave up after 0 attempts"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("2 attempts within 60 s"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_child_never_outlives_its_parent() {
        let p = RetryBudget::new(3, Duration::from_secs(5));
        let c = p.child(Duration::from_secs(60));
        assert!(c.remaining() <= Duration::from_secs(5));
        assert_eq!(c.max_attempts(), 3);
        c.take();
        assert_eq!(p.attempts(), 0);
        assert_eq!(secs(Duration::from_millis(200)), 1);
    }
}
