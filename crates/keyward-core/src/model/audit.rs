//! The audit log: what the admin did through Keyward, and what Kinde showed was done elsewhere.

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
    /// The old key of a re-issue was revoked: its handover is closed.
    HandoverClose,
    /// The old key of a re-issue was revoked by the first sync after its deadline.
    HandoverExpire,
    /// A change seen in Kinde with no Keyward action to match (dashboard, portal, API).
    OutsideKeyward,
    /// A key secret found by `keyward scan` (never the secret itself), and what was done.
    Leak,
    /// A member's write refused by the server for their role (`details`: the operation and
    /// the role it needed).
    Denied,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Rotate => "rotate",
            AuditAction::Revoke => "revoke",
            AuditAction::Reissue => "reissue",
            AuditAction::Reconcile => "reconcile",
            AuditAction::HandoverClose => "handover_close",
            AuditAction::HandoverExpire => "handover_expire",
            AuditAction::OutsideKeyward => "outside_keyward",
            AuditAction::Leak => "leak",
            AuditAction::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "create" => AuditAction::Create,
            "rotate" => AuditAction::Rotate,
            "revoke" => AuditAction::Revoke,
            "reissue" => AuditAction::Reissue,
            "reconcile" => AuditAction::Reconcile,
            // The name before handovers were named: kept so that an old export or script still reads.
            "handover_close" | "migration_close" => AuditAction::HandoverClose,
            "handover_expire" => AuditAction::HandoverExpire,
            "outside_keyward" => AuditAction::OutsideKeyward,
            "leak" => AuditAction::Leak,
            "denied" => AuditAction::Denied,
            other => {
                return Err(Error::invalid_input(
                    "action",
                    format!("unknown action {other:?}"),
                    "Use one of create, rotate, revoke, reissue, reconcile, handover_close, \
                     handover_expire, outside_keyward, leak, denied.",
                ));
            }
        })
    }
}

/// How it ended. `ambiguous`: the request was sent but the answer was lost. `pending`: the
/// intent, written before the request is sent; it becomes `ok` or `failed` once Kinde answers,
/// and a row left pending (the process died while Kinde answered) is reconciled by the next
/// sync as Keyward's own ambiguous action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AuditOutcome {
    Ok,
    Failed,
    Ambiguous,
    Pending,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Ok => "ok",
            AuditOutcome::Failed => "failed",
            AuditOutcome::Ambiguous => "ambiguous",
            AuditOutcome::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "ok" => AuditOutcome::Ok,
            "failed" => AuditOutcome::Failed,
            "ambiguous" => AuditOutcome::Ambiguous,
            "pending" => AuditOutcome::Pending,
            other => {
                return Err(Error::invalid_input(
                    "outcome",
                    format!("unknown outcome {other:?}"),
                    "Use one of ok, failed, ambiguous, pending.",
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
    /// Who did it: the team member whose token made the request on a Keyward Server; absent
    /// for the app's own admin and for what a sync found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub actor: Option<String>,
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
    /// The member who did it (see [`AuditEntry::actor`]); `None` for the local admin.
    pub actor: Option<&'a str>,
}

/// How a `pending` audit row ends (see `Store::audit_close`).
#[derive(Debug, Clone)]
pub struct AuditClose<'a> {
    /// `ok`, `failed` or `ambiguous` (never `pending`).
    pub outcome: AuditOutcome,
    pub key_id: Option<&'a str>,
    pub key_name: Option<&'a str>,
    pub error: Option<&'a Error>,
    /// Replaces the intent's details when given.
    pub details: Option<serde_json::Value>,
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
