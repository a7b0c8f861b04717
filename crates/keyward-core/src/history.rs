//! A key's verification history from the local store, as points and per-hour or per-day counts,
//! and the roll-up that keeps it small: raw samples older than the retention setting
//! (`history_raw_days`, 90 by default) become verifications per hour after each sync, and per
//! day after a year; charts and insights read across them without a seam.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

use crate::ctx::{AppCtx, blocking};
use crate::error::{Error, Result};
use crate::kinde::validate_id;
use crate::model::history::{Bucket, KeyHistory, RollupSummary};
use crate::store::Store;

/// Raw samples rolled up per transaction: a transaction holds the store for a few
/// milliseconds, so reads and the next sync's writes go between them.
pub const ROLLUP_BATCH: u32 = 2000;

/// How long one sync's roll-up may go on; the rest waits for the next sync.
const ROLLUP_SLICE: std::time::Duration = std::time::Duration::from_secs(2);

/// Called at the end of every sync: rolls up what passed the retention period, for at most
/// [`ROLLUP_SLICE`]. Never fails the sync (a failure is logged; the next sync goes on).
pub(crate) async fn after_sync(ctx: &AppCtx, store: &Arc<dyn Store>) {
    let keep = match ctx.settings().await {
        Ok(s) => s.history_raw_days(),
        Err(e) => {
            tracing::warn!(code = %e.code, "history roll-up skipped: {}", e.message);
            return;
        }
    };
    let s = Arc::clone(store);
    let started = Instant::now();
    let done = blocking(move || {
        s.roll_up_history(Utc::now(), keep, ROLLUP_BATCH, &|_| {
            started.elapsed() < ROLLUP_SLICE
        })
    })
    .await;
    match done {
        Ok(r) if r.ran => tracing::info!(
            samples = r.samples_rolled,
            days = r.days_rolled,
            folded = r.days_folded,
            transactions = r.transactions,
            "history rolled up"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(code = %e.code, "history roll-up failed: {}", e.message),
    }
}

/// Rolls up every raw sample older than `keep_raw_days` (the setting when `None`) now, to
/// the end, in transactions of [`ROLLUP_BATCH`].
pub async fn roll_up(ctx: &AppCtx, keep_raw_days: Option<u32>) -> Result<RollupSummary> {
    let settings = ctx.settings().await?;
    let keep = match keep_raw_days {
        Some(d) => {
            let s = crate::config::Settings {
                history_raw_days: Some(d),
                ..settings
            };
            s.check_history()?;
            d
        }
        None => settings.history_raw_days(),
    };
    let store = ctx.store().await?;
    blocking(move || store.roll_up_history(Utc::now(), keep, ROLLUP_BATCH, &|_| true)).await
}

/// A key's counters over time and its verifications per hour or day, from the local store.
/// `since` defaults to 48 hours (hourly) or 30 days (daily).
pub async fn key_history(
    ctx: &AppCtx,
    id: &str,
    bucket: Bucket,
    since: Option<DateTime<Utc>>,
) -> Result<KeyHistory> {
    validate_id("key id", id)?;
    let now = Utc::now();
    let since = since.unwrap_or_else(|| match bucket {
        Bucket::Hour => now - Duration::hours(47),
        Bucket::Day => now - Duration::days(29),
    });
    if since > now {
        return Err(Error::invalid_input(
            "since",
            "is in the future",
            "Give a past date, e.g. --since 2026-01-31 or --since 7d.",
        ));
    }
    let limit = match bucket {
        Bucket::Hour => Duration::days(93),
        Bucket::Day => Duration::days(3660),
    };
    if now - since > limit {
        return Err(Error::invalid_input(
            "since",
            "is too far back for this bucket",
            "Use --bucket day for more than 93 days, and at most 10 years.",
        ));
    }
    let store = ctx.store().await?;
    let id = id.to_string();
    blocking(move || store.key_history(&id, bucket, since, now)).await
}

/// [`key_history`] over the last `since_days` days (at least one).
pub async fn key_history_days(
    ctx: &AppCtx,
    id: &str,
    bucket: Bucket,
    since_days: u32,
) -> Result<KeyHistory> {
    let since = Utc::now() - Duration::days(i64::from(since_days.max(1)));
    key_history(ctx, id, bucket, Some(since)).await
}
