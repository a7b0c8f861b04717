//! A key's counters over time and the re-issue links between keys.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// One observed change of a key's counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HistoryPoint {
    pub at: DateTime<Utc>,
    #[ts(type = "number | null")]
    pub verification_count: Option<i64>,
    pub last_verified_on: Option<DateTime<Utc>>,
    pub last_verified_ip: Option<String>,
    pub status: String,
    /// Verifications since the previous point (a counter reset counts as 0).
    #[ts(type = "number")]
    pub delta: i64,
}

/// Bucket size of a verification chart (UTC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Bucket {
    Hour,
    #[default]
    Day,
}

impl Bucket {
    pub fn millis(self) -> i64 {
        match self {
            Bucket::Hour => HOUR_MS,
            Bucket::Day => DAY_MS,
        }
    }
}

/// Verifications in one bucket starting at `start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BucketCount {
    pub start: DateTime<Utc>,
    #[ts(type = "number")]
    pub verifications: i64,
}

/// A key's history: raw points and bucketed verifications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct KeyHistory {
    pub key_id: String,
    pub name: Option<String>,
    pub bucket: Bucket,
    pub since: DateTime<Utc>,
    pub points: Vec<HistoryPoint>,
    pub buckets: Vec<BucketCount>,
    #[ts(type = "number")]
    pub total: i64,
}

/// An old → new re-issue link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReissueLink {
    pub old_id: String,
    pub new_id: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    #[ts(type = "number | null")]
    pub old_count_at_open: Option<i64>,
    /// When the old key stops working: the first sync after it revokes the old key (unless
    /// it is revoked already). `None`: it works until the admin revokes it.
    pub old_expires_at: Option<DateTime<Utc>>,
}

/// What [`crate::demo::prefill_history`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefillSummary {
    pub days: u32,
    /// Keys given a synthesized past.
    pub keys: u32,
    /// Synthesized history rows written (`history.source = 'demo'`).
    pub rows: u64,
    /// Why nothing was written: `has_history` (already prefilled, or the store has a past of
    /// its own) or `not_synced` (no key observed with verifications yet: sync first).
    pub skipped: Option<String>,
}
