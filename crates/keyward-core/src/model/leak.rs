//! What a leak scan found, and what was done about a leaked key.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::model::key::NewKey;

/// A known key that a found secret may belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ScanMatch {
    pub key_id: String,
    pub name: String,
    pub owner_name: Option<String>,
    pub org_code: Option<String>,
    pub user_id: Option<String>,
    pub scopes: Vec<String>,
    pub status: crate::model::key::KeyStatus,
    pub last_verified_on: Option<DateTime<Utc>>,
    pub gone: bool,
}

/// One secret-shaped string found, and the known keys whose prefix and suffix it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ScanFinding {
    #[serde(flatten)]
    pub hit: SecretHit,
    pub matches: Vec<ScanMatch>,
    /// Exactly one known key matches.
    pub unique: bool,
}

/// What `scan` found. Secrets appear masked only; none was verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ScanReport {
    pub findings: Vec<ScanFinding>,
    pub stats: ScanStats,
    /// Findings that match a known key.
    pub matched: u32,
}

/// What to do about a leaked key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum LeakAction {
    /// New secret, same key: the leaked secret stops working at once.
    Rotate,
    /// A new key beside the old one; revoke the old when its clients moved.
    Reissue,
}

/// The outcome of [`crate::leaks::remediate`]: the new secret, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LeakRemediation {
    pub key_id: String,
    pub action: LeakAction,
    pub new_key: NewKey,
}

/// How to scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ScanOptions {
    /// Files bigger than this are skipped (default 16 MiB).
    #[ts(type = "number")]
    pub max_file_bytes: u64,
    /// Worker threads (0: one per core).
    pub threads: u32,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            max_file_bytes: 16 * 1024 * 1024,
            threads: 0,
        }
    }
}

/// Where a secret-shaped string was found. Never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SecretHit {
    pub path: String,
    /// 1-based line and column (in bytes).
    #[ts(type = "number")]
    pub line: u64,
    #[ts(type = "number")]
    pub column: u64,
    /// `k_live_…` and the last 4 characters.
    pub masked: String,
    /// First 6 characters (what Kinde keeps as `key_prefix`).
    pub key_prefix: String,
    /// Last 4 characters (what Kinde keeps as `key_suffix`).
    pub key_suffix: String,
}

/// What a scan walked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ScanStats {
    #[ts(type = "number")]
    pub files: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    #[ts(type = "number")]
    pub skipped_binary: u64,
    #[ts(type = "number")]
    pub skipped_large: u64,
    #[ts(type = "number")]
    pub unreadable: u64,
    #[ts(type = "number")]
    pub duration_ms: u64,
}
