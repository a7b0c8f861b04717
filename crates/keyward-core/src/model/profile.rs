//! Connection profiles as the front ends add, list and remove them.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::config::{Environment, Profile};
use crate::secret::Secret;

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
