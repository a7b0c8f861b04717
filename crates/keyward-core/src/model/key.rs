//! Keyward's domain types, shared by the client, the store, ops, the CLI and (via ts-rs) the UI.
//!
//! JSON field names follow Kinde's (`id`, `name`, `type`, `status`, `key_prefix`, `key_suffix`,
//! `scopes`, `verification_count`, `last_verified_on`, `org_code`, `user_id`, ...), so that
//! `keyward --json` output reads like Kinde's own. Kinde's wire structs live in `kinde::wire`
//! and convert into these.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::Error;
use crate::model::history::ReissueLink;
use crate::secret::OneTimeSecret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum KeyType {
    User,
    Organization,
    Environment,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::User => "user",
            KeyType::Organization => "organization",
            KeyType::Environment => "environment",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum KeyStatus {
    Active,
    Inactive,
    Revoked,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Inactive => "inactive",
            KeyStatus::Revoked => "revoked",
        }
    }
}

/// One API key. List fields are always present; `verification_count`, `user_id` and
/// `org_code` come only from Kinde's detail endpoint (`None` until fetched).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub key_type: KeyType,
    pub status: KeyStatus,
    pub key_prefix: String,
    pub key_suffix: Option<String>,
    pub created_on: Option<DateTime<Utc>>,
    pub last_verified_on: Option<DateTime<Utc>>,
    pub last_verified_ip: Option<String>,
    pub created_by: Option<String>,
    pub api_ids: Vec<String>,
    pub scopes: Vec<String>,
    #[ts(type = "number | null")]
    pub verification_count: Option<i64>,
    pub user_id: Option<String>,
    pub org_code: Option<String>,
}

/// An API key as Keyward shows it: the key plus what Keyward knows around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct KeyView {
    #[serde(flatten)]
    pub key: ApiKey,
    /// Org name or user's display name, resolved from Kinde.
    pub owner_name: Option<String>,
    /// Name of the (first) API the key belongs to.
    pub api_name: Option<String>,
    /// Never verified, or not verified in the stale window.
    pub stale: bool,
    /// Older than the rotation window since creation or last rotation.
    pub rotation_due: bool,
    /// When Keyward last rotated it (Kinde keeps the creation date only).
    pub rotated_on: Option<DateTime<Utc>>,
    /// No longer in Kinde's listing (deleted outside Keyward).
    pub gone: bool,
    /// The key is listed but its details (verification count, owner) are not fetched yet: a
    /// sync is streaming them in, or the next sync will. While owed and never fetched,
    /// `verification_count` is null (never a wrong 0).
    pub details_owed: bool,
    /// Verifications per day over the last 7 days, oldest first (for the sparkline).
    #[ts(type = "Array<number>")]
    pub spark_7d: Vec<i64>,
}

/// The filters of `keys list`. Every field is optional; `search` matches name, prefix and suffix.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct KeyFilter {
    pub org_code: Option<String>,
    pub user_id: Option<String>,
    pub status: Option<KeyStatus>,
    pub key_type: Option<KeyType>,
    pub api_id: Option<String>,
    pub search: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Scope {
    pub id: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Api {
    pub id: String,
    pub name: String,
    pub audience: String,
    pub is_management_api: bool,
    pub scopes: Vec<Scope>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Org {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct User {
    pub id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

impl User {
    pub fn display_name(&self) -> String {
        let full = format!(
            "{} {}",
            self.first_name.as_deref().unwrap_or(""),
            self.last_name.as_deref().unwrap_or("")
        );
        let full = full.trim();
        if !full.is_empty() {
            full.to_string()
        } else {
            self.email.clone().unwrap_or_else(|| self.id.clone())
        }
    }
}

/// Who a new key is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum Owner {
    User { user_id: String },
    Organization { org_code: String },
}

/// Result of `POST /api/v1/api_keys/verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct VerifyResult {
    pub is_valid: bool,
    pub key_id: Option<String>,
    pub status: Option<KeyStatus>,
    pub scopes: Vec<String>,
    pub org_code: Option<String>,
    pub user_id: Option<String>,
    pub last_verified_on: Option<DateTime<Utc>>,
    #[ts(type = "number | null")]
    pub verification_count: Option<i64>,
    /// Always set: verifying counts as a verification in Kinde and moves the key's history.
    pub note: String,
}

/// What `keys create` takes. Exactly one of `org_code` / `user_id`; scopes by key or id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CreateKeyInput {
    pub name: String,
    pub api_id: String,
    pub scopes: Vec<String>,
    pub org_code: Option<String>,
    pub user_id: Option<String>,
}

/// A created or rotated key, with its secret. The secret is shown once and never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct NewKey {
    pub id: String,
    /// The full secret: shown once, never again.
    pub key: OneTimeSecret,
    pub key_prefix: String,
    pub key_suffix: String,
    pub name: Option<String>,
    pub api_id: Option<String>,
    /// Scope keys (create only; a rotated key keeps its scopes).
    pub scopes: Vec<String>,
    pub owner: Option<Owner>,
    /// "Copy it now: Kinde will not show it again."
    pub warning: String,
    /// The audit row of this action could not be closed with Kinde's answer: it stays
    /// `pending`, and the next sync reconciles it as Keyward's own action (never as drift).
    /// The action itself happened; front ends say so beside the secret.
    #[serde(default)]
    pub audit_pending: bool,
}

/// The per-key result of a (bulk) revoke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RevokeOutcome {
    pub id: String,
    pub revoked: bool,
    pub error: Option<Error>,
}

/// The result of `keys revoke`: every key gets an outcome; one failure never stops the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RevokeSummary {
    pub requested: u32,
    pub revoked: u32,
    pub failed: u32,
    pub outcomes: Vec<RevokeOutcome>,
}

/// Progress of a bulk revoke (one event per finished key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RevokeProgress {
    pub done: u32,
    pub total: u32,
    pub id: String,
    pub revoked: bool,
}

/// The keys that changed since a change cursor (see [`crate::keys::changed_since`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct KeyChanges {
    /// The store's current change cursor: pass it as `since_rev` next time.
    #[ts(type = "number")]
    pub rev: i64,
    /// Every key whose row changed after `since_rev` (gone ones included, `gone: true`).
    pub keys: Vec<KeyView>,
}

/// The answer of `keys list` from the local store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CachedKeys {
    pub keys: Vec<KeyView>,
    /// When the cache was last synced with Kinde.
    pub synced_at: Option<DateTime<Utc>>,
    /// True when these keys come from the cache alone (offline, or Kinde unreachable).
    pub from_cache_only: bool,
    /// Why Kinde was not asked or did not answer (`offline`, or the sync's error).
    pub warning: Option<Error>,
}

/// A re-issue: the new key (its secret shown once) and the old → new link.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Reissued {
    pub old_id: String,
    pub new_key: crate::model::key::NewKey,
    pub link: ReissueLink,
}

/// An open re-issue and whether its old key may be revoked yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Handover {
    pub old_id: String,
    pub old_name: Option<String>,
    pub old_status: Option<String>,
    pub new_id: String,
    pub new_status: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub old_last_verified_on: Option<DateTime<Utc>>,
    /// The old key's verifications since the new key was issued.
    #[ts(type = "number")]
    pub old_verifications_since: i64,
    /// The new key's verifications since it was issued (is the new key in use?).
    #[ts(type = "number")]
    pub new_verifications_since: i64,
    pub quiet_days: u32,
    /// The old key has been quiet since this time (issue or last verification, the later).
    pub quiet_since: DateTime<Utc>,
    pub safe_to_revoke: bool,
    pub advice: String,
    /// Kinde could not be asked: figures come from the local cache.
    pub from_cache: bool,
    /// When the old key stops working: the first sync after it revokes it. `None`: it works
    /// until the admin revokes it.
    pub old_expires_at: Option<DateTime<Utc>>,
}

/// A column the keys table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum KeySortKey {
    Name,
    Owner,
    Api,
    Status,
    Created,
    #[default]
    LastVerified,
    Verifications,
    /// Verifications over the last 7 days (the sparkline's sum).
    Activity,
}

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SortDir {
    Asc,
    #[default]
    Desc,
}

/// A health flag the keys table filters by (see `keys::rules`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum KeyFlag {
    Stale,
    RotationDue,
}

/// Which cached keys the table shows, in which order: the search (the one search rule of
/// `keys::rules`), the filters and the sort. Selecting "every key matching" is this query too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct KeyWindowQuery {
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub status: Option<KeyStatus>,
    #[serde(default)]
    pub key_type: Option<KeyType>,
    #[serde(default)]
    pub org_code: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub api_id: Option<String>,
    #[serde(default)]
    pub flag: Option<KeyFlag>,
    /// Ties are ordered by key id, in the same direction.
    #[serde(default)]
    pub sort: KeySortKey,
    #[serde(default)]
    pub dir: SortDir,
}

/// Keys of this profile per status (gone ones included): the table's header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct KeyCounts {
    pub all: u32,
    pub active: u32,
    pub inactive: u32,
    pub revoked: u32,
}

/// One window of the keys table (`keys_window`): the rows `offset..offset + rows.len()` of
/// the keys matching a [`KeyWindowQuery`] in its order, how many match, the store's change cursor
/// the rows reflect, and the header's counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct KeyWindow {
    /// Keys matching the query.
    pub total: u32,
    pub offset: u32,
    pub rows: Vec<KeyView>,
    /// The store's change cursor, read before the rows.
    #[ts(type = "number")]
    pub rev: i64,
    pub counts: KeyCounts,
}
