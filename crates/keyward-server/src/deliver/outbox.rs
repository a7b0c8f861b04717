//! The outbox in PostgreSQL (`migrations/0100_deliveries.sql`): deliveries queued once per
//! (alert, destination), claimed one at a time with `FOR UPDATE SKIP LOCKED`, every attempt
//! logged, retried with exponential backoff and jitter (or after a `Retry-After`) until
//! delivered or given up. Blocking (the `postgres` crate): call it from a blocking thread.

use std::time::Duration;

use chrono::{DateTime, Utc};
use keyward_core::error::Result;
use postgres::Client;
use rand::Rng;

use crate::lease::Fence;
use crate::pg::db_err;

/// One delivery to queue.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub alert_id: i64,
    pub destination: String,
    pub dest_kind: &'static str,
    pub message_id: String,
    pub body: String,
    pub kind: String,
    pub severity: String,
}

/// The last alert id queued for `profile` (0: none yet).
pub fn cursor(c: &mut Client, profile: &str) -> Result<i64> {
    let row = c
        .query_opt(
            "SELECT last_alert_id FROM delivery_cursor WHERE profile = $1",
            &[&profile],
        )
        .map_err(db_err)?;
    Ok(row.map(|r| r.get(0)).unwrap_or(0))
}

/// Queues `items` (a row already queued for the same alert and destination is left alone) and
/// moves the cursor to `new_cursor`, in one transaction, only while `fence` holds. Returns the
/// rows queued now.
pub fn enqueue(
    c: &mut Client,
    profile: &str,
    items: &[NewDelivery],
    new_cursor: i64,
    fence: Option<&Fence>,
) -> Result<u64> {
    let mut tx = c.transaction().map_err(db_err)?;
    if let Some(f) = fence {
        f.check(&mut tx)?;
    }
    let mut n = 0;
    for d in items {
        n += tx
            .execute(
                "INSERT INTO deliveries (profile, alert_id, destination, dest_kind, message_id, \
                 body, kind, severity) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (profile, alert_id, destination) DO NOTHING",
                &[
                    &profile,
                    &d.alert_id,
                    &d.destination,
                    &d.dest_kind,
                    &d.message_id,
                    &d.body,
                    &d.kind,
                    &d.severity,
                ],
            )
            .map_err(db_err)?;
    }
    tx.execute(
        "INSERT INTO delivery_cursor (profile, last_alert_id) VALUES ($1, $2) \
         ON CONFLICT (profile) DO UPDATE SET last_alert_id = \
         GREATEST(delivery_cursor.last_alert_id, EXCLUDED.last_alert_id)",
        &[&profile, &new_cursor],
    )
    .map_err(db_err)?;
    tx.commit().map_err(db_err)?;
    Ok(n)
}

/// A delivery claimed for sending.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub alert_id: i64,
    pub destination: String,
    pub message_id: String,
    pub body: String,
    /// Attempts before this one.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// What one attempt got.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// Why it failed (no answer, or a short excerpt of a non-2xx answer).
    pub error: Option<String>,
    pub duration: Duration,
    /// A 429/503's `Retry-After`.
    pub retry_after: Option<Duration>,
}

impl Attempt {
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// What became of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Will be tried again after this long.
    Retry(Duration),
    /// Given up (too old, or its destination is gone).
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retry(_) => "retry",
            Outcome::Failed => "failed",
        }
    }
}

/// The longest wait between two attempts (and the cap on a `Retry-After`).
pub const MAX_DELAY: Duration = Duration::from_secs(3600);

/// The wait after the `attempts`-th failure (1 = the first): `base * 2^(attempts-1)`, at most an
/// hour, plus up to a quarter of it at random.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let exp = (attempts.max(1) - 1).min(30) as u32;
    let d = base.saturating_mul(2u32.saturating_pow(exp)).min(MAX_DELAY);
    let jitter = rand::rng().random_range(0..=(d.as_millis() as u64 / 4).max(1));
    d + Duration::from_millis(jitter)
}

/// Claims the next delivery of `profile` due by `due_by` (skipping rows another replica holds;
/// a round passes its start, so that a row retried in the round waits for the next), sends it
/// with `send` while holding its row, logs the attempt and moves it on, in one transaction.
/// `None` when nothing is due (or `fence` no longer holds: nothing new is sent).
pub fn deliver_one(
    c: &mut Client,
    profile: &str,
    replica: &str,
    retry_base: Duration,
    give_up_after: Duration,
    fence: Option<&Fence>,
    due_by: DateTime<Utc>,
    send: &mut dyn FnMut(&Due) -> Option<Attempt>,
) -> Result<Option<(Due, Outcome)>> {
    let mut tx = c.transaction().map_err(db_err)?;
    if let Some(f) = fence {
        f.check(&mut tx)?;
    }
    let row = tx
        .query_opt(
            "SELECT id, alert_id, destination, message_id, body, attempts, created_at \
             FROM deliveries WHERE profile = $1 AND status = 'pending' \
             AND next_attempt_at <= $2 ORDER BY next_attempt_at, id LIMIT 1 \
             FOR UPDATE SKIP LOCKED",
            &[&profile, &due_by],
        )
        .map_err(db_err)?;
    let Some(r) = row else {
        return Ok(None);
    };
    let due = Due {
        id: r.get(0),
        alert_id: r.get(1),
        destination: r.get(2),
        message_id: r.get(3),
        body: r.get(4),
        attempts: r.get(5),
        created_at: r.get(6),
    };
    let started = Utc::now();
    let Some(att) = send(&due) else {
        // The destination is no longer configured: give it up, logged.
        tx.execute(
            "INSERT INTO delivery_attempts (delivery_id, at, status_code, error, duration_ms, \
             replica) VALUES ($1, $2, NULL, $3, 0, $4)",
            &[
                &due.id,
                &started,
                &"destination no longer configured",
                &replica,
            ],
        )
        .map_err(db_err)?;
        tx.execute(
            "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, \
             last_error = 'destination no longer configured' WHERE id = $1",
            &[&due.id],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        return Ok(Some((due, Outcome::Failed)));
    };
    let status_code = att.status.map(i32::from);
    let duration_ms = att.duration.as_millis().min(i32::MAX as u128) as i32;
    tx.execute(
        "INSERT INTO delivery_attempts (delivery_id, at, status_code, error, duration_ms, \
         replica) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &due.id,
            &started,
            &status_code,
            &att.error,
            &duration_ms,
            &replica,
        ],
    )
    .map_err(db_err)?;
    let attempts = due.attempts + 1;
    let outcome = if att.ok() {
        Outcome::Delivered
    } else {
        let wait = match att.retry_after {
            Some(ra) => ra.min(MAX_DELAY),
            None => backoff(retry_base, attempts),
        };
        let age = (Utc::now() - due.created_at).to_std().unwrap_or_default();
        if age + wait > give_up_after {
            Outcome::Failed
        } else {
            Outcome::Retry(wait)
        }
    };
    match outcome {
        Outcome::Delivered => tx.execute(
            "UPDATE deliveries SET status = 'delivered', attempts = $2, delivered_at = now(), \
             last_error = NULL WHERE id = $1",
            &[&due.id, &attempts],
        ),
        Outcome::Retry(wait) => {
            let ms = wait.as_millis() as f64;
            tx.execute(
                "UPDATE deliveries SET attempts = $2, last_error = $3, \
                 next_attempt_at = now() + $4::float8 * interval '1 millisecond' WHERE id = $1",
                &[&due.id, &attempts, &att.error, &ms],
            )
        }
        Outcome::Failed => tx.execute(
            "UPDATE deliveries SET status = 'failed', attempts = $2, last_error = $3 \
             WHERE id = $1",
            &[&due.id, &attempts, &att.error],
        ),
    }
    .map_err(db_err)?;
    tx.commit().map_err(db_err)?;
    Ok(Some((due, outcome)))
}

/// The earliest time a pending delivery of `profile` is due (to sleep until then).
pub fn next_due(c: &mut Client, profile: &str) -> Result<Option<DateTime<Utc>>> {
    let r = c
        .query_one(
            "SELECT min(next_attempt_at) FROM deliveries WHERE profile = $1 AND status = 'pending'",
            &[&profile],
        )
        .map_err(db_err)?;
    Ok(r.get(0))
}

/// Deliveries by status (for the metrics).
pub fn counts(c: &mut Client, profile: &str) -> Result<Vec<(String, i64)>> {
    let rows = c
        .query(
            "SELECT status, count(*) FROM deliveries WHERE profile = $1 GROUP BY status \
             ORDER BY status",
            &[&profile],
        )
        .map_err(db_err)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let base = Duration::from_secs(5);
        for (n, want) in [(1, 5u64), (2, 10), (3, 20), (4, 40)] {
            let d = backoff(base, n);
            assert!(d >= Duration::from_secs(want), "{n}: {d:?}");
            assert!(d <= Duration::from_millis(want * 1250), "{n}: {d:?}");
        }
        let d = backoff(base, 40);
        assert!(d >= MAX_DELAY && d <= MAX_DELAY + MAX_DELAY / 4, "{d:?}");
    }
}
