//! Store types that cross to the CLI and the UI (serde + ts-rs).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, Result};

/// What a mutating operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AuditAction {
    Create,
    Rotate,
    Revoke,
    Reissue,
    Reconcile,
    MigrationClose,
    /// A change seen in Kinde with no Keyward action to match (dashboard, portal, API).
    OutsideKeyward,
    /// A key secret found by `keyward scan` (never the secret itself), and what was done.
    Leak,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Rotate => "rotate",
            AuditAction::Revoke => "revoke",
            AuditAction::Reissue => "reissue",
            AuditAction::Reconcile => "reconcile",
            AuditAction::MigrationClose => "migration_close",
            AuditAction::OutsideKeyward => "outside_keyward",
            AuditAction::Leak => "leak",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "create" => AuditAction::Create,
            "rotate" => AuditAction::Rotate,
            "revoke" => AuditAction::Revoke,
            "reissue" => AuditAction::Reissue,
            "reconcile" => AuditAction::Reconcile,
            "migration_close" => AuditAction::MigrationClose,
            "outside_keyward" => AuditAction::OutsideKeyward,
            "leak" => AuditAction::Leak,
            other => {
                return Err(Error::invalid_input(
                    "action",
                    format!("unknown action {other:?}"),
                    "Use one of create, rotate, revoke, reissue, reconcile, migration_close, \
                     outside_keyward, leak.",
                ));
            }
        })
    }
}

/// How it ended. `ambiguous`: the request was sent but the answer was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AuditOutcome {
    Ok,
    Failed,
    Ambiguous,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Ok => "ok",
            AuditOutcome::Failed => "failed",
            AuditOutcome::Ambiguous => "ambiguous",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "ok" => AuditOutcome::Ok,
            "failed" => AuditOutcome::Failed,
            "ambiguous" => AuditOutcome::Ambiguous,
            other => {
                return Err(Error::invalid_input(
                    "outcome",
                    format!("unknown outcome {other:?}"),
                    "Use one of ok, failed, ambiguous.",
                ));
            }
        })
    }
}

/// One audit log row. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AuditEntry {
    #[ts(type = "number")]
    pub id: i64,
    pub at: DateTime<Utc>,
    pub profile: String,
    pub action: AuditAction,
    pub key_id: Option<String>,
    pub key_name: Option<String>,
    pub outcome: AuditOutcome,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Free-form JSON object (scopes, new key id, what a reconcile found, ...).
    #[ts(type = "Record<string, unknown>")]
    pub details: serde_json::Value,
}

/// What to write into the audit log.
#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    pub action: AuditAction,
    pub key_id: Option<&'a str>,
    pub key_name: Option<&'a str>,
    pub outcome: AuditOutcome,
    pub error: Option<&'a Error>,
    pub details: serde_json::Value,
}

/// Filters of `audit_list`. Every field is optional; newest rows come first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AuditFilter {
    pub action: Option<AuditAction>,
    pub outcome: Option<AuditOutcome>,
    pub key_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: Option<u32>,
}

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
            Bucket::Hour => super::HOUR_MS,
            Bucket::Day => super::DAY_MS,
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

/// Windows that decide `stale` and `rotation_due`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Windows {
    /// Never verified, or not in this many days → stale (default 30).
    pub stale_days: u32,
    /// Older than this since creation or last rotation → rotation due (default 90).
    pub rotation_days: u32,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            stale_days: 30,
            rotation_days: 90,
        }
    }
}
