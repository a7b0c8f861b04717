//! Keyward's domain types, shared by the client, the store, ops, the CLI and (via ts-rs) the UI.
//!
//! JSON field names follow Kinde's (`id`, `name`, `type`, `status`, `key_prefix`, `key_suffix`,
//! `scopes`, `verification_count`, `last_verified_on`, `org_code`, `user_id`, ...), so that
//! `keyward --json` output reads like Kinde's own. Kinde's wire structs live in `kinde::wire`
//! and convert into these.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

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
