//! A key's verification history from the local store, as points and per-hour or per-day counts.

use chrono::{DateTime, Duration, Utc};

use crate::ctx::{AppCtx, blocking};
use crate::error::{Error, Result};
use crate::kinde::validate_id;
use crate::model::history::{Bucket, KeyHistory};

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
