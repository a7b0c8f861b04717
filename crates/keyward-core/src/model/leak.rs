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

/// How much a finding's match to a known key rests on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum MatchCertainty {
    /// No known key matches, or the string cannot be a Kinde secret (its length or alphabet
    /// differ from Kinde's), so it is matched to no key at all.
    #[default]
    None,
    /// The string has the shape of a Kinde secret and a known key ends with the same 4
    /// characters. Kinde keeps only the prefix (`k_live` for every key) and those 4
    /// characters, so this is never proof: any string can end that way. Acting on it needs
    /// a person's confirmation that names the doubt.
    Possible,
}

/// One secret-shaped string found, and the known keys whose prefix and suffix it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ScanFinding {
    #[serde(flatten)]
    pub hit: SecretHit,
    pub matches: Vec<ScanMatch>,
    /// Exactly one known key ends with these 4 characters. Even then the match is only
    /// [`MatchCertainty::Possible`]: the suffix is no secret.
    pub unique: bool,
    /// What the match rests on: always `possible` at best (see [`MatchCertainty`]).
    #[serde(default)]
    pub certainty: MatchCertainty,
}

/// What `scan` found. Secrets appear masked only; none was verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ScanReport {
    pub findings: Vec<ScanFinding>,
    pub stats: ScanStats,
    /// Findings that match a known key.
    pub matched: u32,
    /// Files not read, and why (at most [`SKIPPED_LISTED`]; `stats` has the full counts).
    #[serde(default)]
    pub skipped: Vec<SkippedFile>,
}

/// How many skipped files a report lists by name.
pub const SKIPPED_LISTED: usize = 1000;

/// Why a file was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SkipReason {
    /// Not a regular file: a FIFO, a device (`/dev/zero`), a socket. Never opened for reading
    /// (a FIFO would block, a device never ends).
    NotRegular,
    /// It could not be opened or read (permissions, an I/O error).
    Unreadable,
    /// A NUL byte in its first 8 KiB: a binary file.
    Binary,
    /// Bigger than the size cap.
    TooLarge,
}

/// A file the scan did not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SkippedFile {
    pub path: String,
    pub reason: SkipReason,
    /// The reason in words ("a FIFO", "Permission denied (os error 13)", "20.0 MiB, over
    /// the 16 MiB cap").
    pub detail: String,
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
    /// The length and alphabet of a Kinde secret (`k_live_` and 32 letters and digits). A
    /// string of another shape cannot be a Kinde secret and is matched to no key. Not in the
    /// TypeScript type: front ends send hits back (`leak_remediate`) built from a finding, and
    /// read the shape from the finding's `certainty`.
    #[serde(default)]
    #[ts(skip)]
    pub kinde_shaped: bool,
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
    /// FIFOs, devices and sockets: never read.
    #[ts(type = "number")]
    #[serde(default)]
    pub not_regular: u64,
    #[ts(type = "number")]
    pub duration_ms: u64,
}
