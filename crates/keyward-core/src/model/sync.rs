//! What a sync takes, reports while it runs, and leaves behind.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The default cap of the adaptive detail concurrency.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 64;
/// The largest concurrency (pinned or cap) accepted.
pub const CONCURRENCY_LIMIT: u32 = 256;

/// How to sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SyncOptions {
    /// Fetch every key's details, not only the changed ones.
    pub full: bool,
    /// Detail requests in flight: `Some(n)` pins it; `None` (the default) adapts (AIMD).
    pub concurrency: Option<u32>,
    /// The adaptive concurrency never goes above this (default 64).
    pub max_concurrency: u32,
    /// Keys per list request (default and maximum 500).
    pub page_size: u32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            full: false,
            concurrency: None,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            page_size: 500,
        }
    }
}

/// Where a sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SyncPhase {
    Listing,
    /// The listing is done (every key is in the store); the owed details stream in.
    Details,
    Names,
    Done,
}

/// Progress of a running sync: pages listed, then details done of those owed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SyncProgress {
    pub phase: SyncPhase,
    pub pages: u32,
    #[ts(type = "number")]
    pub keys_seen: u64,
    #[ts(type = "number")]
    pub details_done: u64,
    /// Details owed (known once the listing is done: "details 3,120 of 10,000").
    #[ts(type = "number")]
    pub details_total: u64,
    /// Still to come (`has_more` of the last page).
    pub more_pages: bool,
    /// The store's change cursor after the latest write this sync made
    /// (see `keys::changed_since`).
    #[ts(type = "number")]
    pub rev: i64,
    /// Detail requests allowed in flight now.
    pub concurrency: u32,
}

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SyncSummary {
    #[ts(type = "number")]
    pub run_id: i64,
    pub mode: String,
    /// ok | partial (some details could not be fetched; the next sync retries them)
    pub status: String,
    /// Keys in the cache that are not gone.
    #[ts(type = "number")]
    pub keys: u64,
    #[ts(type = "number")]
    pub keys_seen: u64,
    #[ts(type = "number")]
    pub new: u64,
    #[ts(type = "number")]
    pub changed: u64,
    #[ts(type = "number")]
    pub gone: u64,
    #[ts(type = "number")]
    pub details_fetched: u64,
    pub pages: u32,
    /// Requests this client sent during the sync, by kind.
    pub requests: RequestCounts,
    #[ts(type = "number")]
    pub duration_ms: u64,
    pub errors: Vec<String>,
    /// Ambiguous writes answered by this sync (see `keyward audit`).
    pub reconciled: u32,
    pub finished_at: DateTime<Utc>,
}

/// One recorded sync run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SyncRunRecord {
    #[ts(type = "number")]
    pub id: i64,
    pub mode: String,
    /// running | ok | partial | failed | cancelled | interrupted (its process died before it
    /// finished the run; `finished_at` stays null)
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    #[ts(type = "number")]
    pub pages: i64,
    #[ts(type = "number")]
    pub keys_seen: i64,
    #[ts(type = "number")]
    pub keys_new: i64,
    #[ts(type = "number")]
    pub keys_changed: i64,
    #[ts(type = "number")]
    pub keys_gone: i64,
    #[ts(type = "number")]
    pub details_fetched: i64,
    #[ts(type = "Record<string, number>")]
    pub requests: serde_json::Value,
    #[ts(type = "number | null")]
    pub duration_ms: Option<i64>,
    pub errors: Vec<String>,
}

/// HTTP requests sent by this client (and its clones), by kind. Retries count in their kind
/// and also in `retries`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RequestCounts {
    #[ts(type = "number")]
    pub token: u64,
    #[ts(type = "number")]
    pub list: u64,
    #[ts(type = "number")]
    pub detail: u64,
    #[ts(type = "number")]
    pub write: u64,
    #[ts(type = "number")]
    pub verify: u64,
    #[ts(type = "number")]
    pub other: u64,
    #[ts(type = "number")]
    pub retries: u64,
}
