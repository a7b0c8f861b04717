//! Alerts, mutes, the alert policy and what Keyward keeps locally about a key.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, Result};

/// What raised an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AlertKind {
    NewIp,
    DormantWakes,
    Spike,
    Drift,
    Stale,
    RotationDue,
    ExpiryComing,
    CanaryTripped,
}

impl AlertKind {
    pub const ALL: [AlertKind; 8] = [
        AlertKind::NewIp,
        AlertKind::DormantWakes,
        AlertKind::Spike,
        AlertKind::Drift,
        AlertKind::Stale,
        AlertKind::RotationDue,
        AlertKind::ExpiryComing,
        AlertKind::CanaryTripped,
    ];

    /// The kinds a desktop notification announces unless the admin changes it: the events
    /// (the policy kinds are a standing list, not news).
    pub const NOTIFY_DEFAULT: [AlertKind; 5] = [
        AlertKind::CanaryTripped,
        AlertKind::NewIp,
        AlertKind::Drift,
        AlertKind::Spike,
        AlertKind::DormantWakes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::NewIp => "new_ip",
            AlertKind::DormantWakes => "dormant_wakes",
            AlertKind::Spike => "spike",
            AlertKind::Drift => "drift",
            AlertKind::Stale => "stale",
            AlertKind::RotationDue => "rotation_due",
            AlertKind::ExpiryComing => "expiry_coming",
            AlertKind::CanaryTripped => "canary_tripped",
        }
    }

    pub fn parse(s: &str) -> Result<AlertKind> {
        let t = s.trim().to_ascii_lowercase().replace('-', "_");
        AlertKind::ALL
            .into_iter()
            .find(|k| k.as_str() == t)
            .ok_or_else(|| {
                Error::invalid_input(
                    "kind",
                    format!("unknown alert kind {s:?}"),
                    "Use one of new_ip, dormant_wakes, spike, drift, stale, rotation_due, \
                     expiry_coming, canary_tripped.",
                )
            })
    }
}

/// How bad it is. `keyward alerts` exits 1 while unacknowledged `high` or `critical` ones exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Severity {
        match s {
            "critical" => Severity::Critical,
            "high" => Severity::High,
            "medium" => Severity::Medium,
            "low" => Severity::Low,
            _ => Severity::Info,
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Alert {
    #[ts(type = "number")]
    pub id: i64,
    pub kind: AlertKind,
    pub severity: Severity,
    pub key_id: Option<String>,
    pub key_name: Option<String>,
    /// When the evidence was observed (the sync that saw it).
    pub at: DateTime<Utc>,
    pub message: String,
    /// The numbers or IPs that raised it (kind-specific JSON object; never a secret).
    #[ts(type = "Record<string, unknown>")]
    pub evidence: serde_json::Value,
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Raised while a mute covered its key or kind.
    pub muted: bool,
}

/// Filters of `alerts_list` (the most severe first, then the newest). By default acknowledged
/// and muted alerts are left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AlertFilter {
    pub since: Option<DateTime<Utc>>,
    pub kind: Option<AlertKind>,
    pub key_id: Option<String>,
    pub include_acknowledged: bool,
    pub include_muted: bool,
    pub limit: Option<u32>,
}

/// `alerts_list`'s answer: the alerts and the count that decides the CLI's exit code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AlertList {
    pub alerts: Vec<Alert>,
    /// Unacknowledged, unmuted alerts of severity high or critical (all of the store's, not
    /// only the filtered ones).
    pub open_high: u32,
    /// Unacknowledged, unmuted alerts of any severity.
    pub open_total: u32,
}

/// What a mute covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "target", rename_all = "snake_case")]
#[ts(export)]
pub enum MuteTarget {
    Key { key_id: String },
    Kind { kind: AlertKind },
}

/// A mute in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Mute {
    #[serde(flatten)]
    pub target: MuteTarget,
    pub at: DateTime<Utc>,
}

/// The policies of one profile (Kinde has no key expiry: Keyward keeps them locally).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Policy {
    /// A key older than this (since creation or last rotation) is due for rotation (0 = off).
    pub max_key_age_days: u32,
    /// `expiry_coming` this many days before the max age or a key's "expires on" date.
    pub warning_days: u32,
    /// No verification in this many days: stale (0 = off).
    pub stale_days: u32,
    /// A verification after this many quiet days: the key woke up.
    pub dormant_days: u32,
    /// A spike is more than this many times the key's hourly baseline...
    pub spike_factor: f64,
    /// ...and at least this many verifications in the hour.
    pub spike_floor: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_key_age_days: 90,
            warning_days: 14,
            stale_days: 30,
            dormant_days: 30,
            spike_factor: 5.0,
            spike_floor: 20,
        }
    }
}

impl Policy {
    /// Refuses values that make no sense (before anything is written).
    pub fn check(&self) -> Result<()> {
        let bad =
            |field: &str, hint: &str| Err(Error::invalid_input(field, "is out of range", hint));
        if self.max_key_age_days > 3650 {
            return bad("max key age", "Give 0 (off) to 3650 days.");
        }
        if self.warning_days > 365 {
            return bad("warning days", "Give 0 to 365 days.");
        }
        if self.stale_days > 3650 {
            return bad("stale days", "Give 0 (off) to 3650 days.");
        }
        if !(1..=3650).contains(&self.dormant_days) {
            return bad("dormant days", "Give 1 to 3650 days.");
        }
        if !self.spike_factor.is_finite() || !(1.0..=1000.0).contains(&self.spike_factor) {
            return bad("spike factor", "Give a factor from 1 to 1000 (default 5).");
        }
        if !(1..=10_000_000).contains(&self.spike_floor) {
            return bad(
                "spike floor",
                "Give at least 1 verification per hour (default 20).",
            );
        }
        Ok(())
    }
}

/// What Keyward keeps locally about a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct KeyMeta {
    pub key_id: String,
    pub canary: bool,
    /// The local "expires on" date (Kinde has no key expiry).
    pub expires_on: Option<DateTime<Utc>>,
}

/// What one evaluation did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AlertEval {
    /// The store's first evaluation: it set the baseline and raised no event alerts.
    pub baseline: bool,
    /// Alerts raised now (including muted ones).
    pub raised: Vec<Alert>,
    /// Drift rows written to the audit log.
    pub drift_audited: u32,
}

/// What the CLI and the app offer for a key that reached its policy date. Keyward never acts
/// on its own: the admin picks one.
pub const DUE_ACTIONS: [&str; 3] = ["rotate", "reissue", "revoke"];

/// The profile's policy and the keys with a local expiry date or a canary mark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PolicyView {
    pub policy: Policy,
    /// False: the defaults (from the settings) are in force.
    pub stored: bool,
    pub keys: Vec<KeyMeta>,
}

/// A key as the alert rules see it (times in Unix milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleKey {
    /// The store's row id of the key (its history is keyed by it).
    pub kid: i64,
    pub id: String,
    pub name: String,
    pub status: crate::model::key::KeyStatus,
    pub prefix: String,
    pub suffix: Option<String>,
    pub created_on: Option<i64>,
    pub created_by: Option<String>,
    pub rotated_on: Option<i64>,
    pub last_verified_on: Option<i64>,
    pub gone: bool,
}

/// What Keyward keeps about a key for the rules: its marks and what the last evaluation saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleMeta {
    pub canary: bool,
    pub expires_on: Option<i64>,
    pub seen_prefix: Option<String>,
    pub seen_suffix: Option<String>,
    pub seen_status: Option<String>,
    pub seen_at: Option<i64>,
}

/// One observed change of a key's counters, as the rules read it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRow {
    pub at: i64,
    pub last_verified_on: Option<i64>,
    pub ip: Option<String>,
    /// Verifications since the previous row.
    pub delta: i64,
}

/// One alert a rule raises (stored once per fingerprint).
#[derive(Debug, Clone, PartialEq)]
pub struct Raise {
    pub kind: AlertKind,
    pub severity: Severity,
    pub key_id: String,
    pub key_name: String,
    pub message: String,
    pub evidence: serde_json::Value,
    /// The same evidence never raises twice.
    pub fingerprint: String,
    /// For drift: the `outside_keyward` audit row to write with it.
    pub drift: Option<serde_json::Value>,
}

/// What the event and drift rules may ask the store about one key's history and audit.
pub trait AlertEvidence {
    /// The key's history rows in `(after, until]`, oldest first.
    fn rows_between(&self, after: i64, until: i64) -> crate::error::Result<Vec<RuleRow>>;
    /// When the key's history starts.
    fn first_row_at(&self) -> crate::error::Result<Option<i64>>;
    /// The key's last history row at or before `at`.
    fn last_row_until(&self, at: i64) -> crate::error::Result<Option<RuleRow>>;
    /// Every address the key was verified from at or before `at`.
    fn ips_until(&self, at: i64) -> crate::error::Result<std::collections::HashSet<String>>;
    /// The key's verifications in `(after, until]`.
    fn verifications_between(&self, after: i64, until: i64) -> crate::error::Result<i64>;
    /// True when Keyward audited one of `actions` on the key (ok or ambiguous) at or after
    /// `since`.
    fn audited(&self, actions: &[&str], since: i64) -> crate::error::Result<bool>;
}

/// Alerts stored together: one `summary` shown for all its `members` (a flood of one policy kind
/// read as one alert), or one member alone (no summary).
#[derive(Debug, Clone, PartialEq)]
pub struct RaiseGroup {
    pub summary: Option<Raise>,
    pub members: Vec<Raise>,
}

/// The alert rules as a store runs them, key by key, inside its evaluation: what to raise for
/// `key`, given the evaluation cursor (`None` the first time: the baseline) and `now`; then how
/// to group what is new.
pub trait AlertRules {
    fn raise(
        &self,
        key: &RuleKey,
        meta: Option<&RuleMeta>,
        cursor: Option<i64>,
        now: i64,
        evidence: &dyn AlertEvidence,
    ) -> crate::error::Result<Vec<Raise>>;

    /// Groups the alerts this evaluation raises that were never raised before. By default each
    /// stands alone.
    fn group(&self, new: Vec<Raise>, baseline: bool, now: i64) -> Vec<RaiseGroup> {
        let _ = (baseline, now);
        new.into_iter()
            .map(|r| RaiseGroup {
                summary: None,
                members: vec![r],
            })
            .collect()
    }
}
