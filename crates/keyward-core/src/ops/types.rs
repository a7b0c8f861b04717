//! Inputs and results of the issue-3 operations (serde + ts-rs: they cross to the UI).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::config::{Environment, Profile};
use crate::error::Error;
use crate::model::Owner;
use crate::secret::{OneTimeSecret, Secret};

/// What `profile add` takes (the secret travels separately).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ProfileInput {
    pub name: String,
    /// `mybiz.kinde.com` or a full URL.
    pub domain: String,
    pub client_id: String,
    /// Defaults to `production`.
    pub environment: Option<Environment>,
}

/// A profile as `profile list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ProfileInfo {
    #[serde(flatten)]
    pub profile: Profile,
    /// It is `default_profile` in the settings.
    pub is_default: bool,
    /// It is the profile operations would use now.
    pub selected: bool,
}

/// Where a profile's client secret came from when the operation ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SecretSource {
    /// Stored in the OS keyring (or the memory store of a sandbox).
    Keyring,
    /// From `KEYWARD_CLIENT_SECRET` (never stored).
    Env,
    /// None stored: the profile cannot connect until one is given.
    Missing,
}

/// The result of `profile add`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ProfileAdded {
    #[serde(flatten)]
    pub info: ProfileInfo,
    pub secret: SecretSource,
    /// Set when the profile cannot connect yet (no secret anywhere).
    pub warning: Option<String>,
}

/// The result of `profile remove`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ProfileRemoved {
    pub name: String,
    /// The keyring entry was deleted (or there was none).
    pub secret_deleted: bool,
    /// Set when the keyring could not be reached: the entry may still be there.
    pub warning: Option<String>,
}

/// Connection details that are not saved yet (the first-run form's "Test connection").
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct ProfileDraft {
    pub domain: String,
    pub client_id: String,
    #[ts(type = "string")]
    pub client_secret: Secret,
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
