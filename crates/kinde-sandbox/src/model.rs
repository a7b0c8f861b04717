//! The sandbox's data: APIs with scopes, organizations, users and API keys.
//!
//! Everything here is serializable so that `--state FILE` can keep it across restarts.
//! A key's secret is never stored: only its sha256 hash, its prefix and its suffix.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Kinde's timestamp format as the sandbox writes it: RFC 3339, microseconds, `+00:00`.
pub fn ts(dt: &DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::Micros, false)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScopeRec {
    pub id: String,
    pub key: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiRec {
    pub id: String,
    pub name: String,
    pub audience: String,
    pub scopes: Vec<ScopeRec>,
}

impl ApiRec {
    /// Finds a scope by its id or by its key (Kinde's docs pass keys).
    pub fn scope(&self, id_or_key: &str) -> Option<&ScopeRec> {
        self.scopes
            .iter()
            .find(|s| s.id == id_or_key || s.key == id_or_key)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrgRec {
    pub code: String,
    pub name: String,
    pub handle: Option<String>,
    pub external_id: Option<String>,
    pub is_default: bool,
    pub created_on: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserRec {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub organizations: Vec<String>,
    pub created_on: DateTime<Utc>,
    pub last_signed_in: Option<DateTime<Utc>>,
    pub total_sign_ins: u64,
}

impl UserRec {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Inactive,
    Revoked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Inactive => "inactive",
            Status::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "active" => Some(Status::Active),
            "inactive" => Some(Status::Inactive),
            "revoked" => Some(Status::Revoked),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    User,
    Organization,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::User => "user",
            KeyKind::Organization => "organization",
        }
    }

    pub fn parse(s: &str) -> Option<KeyKind> {
        match s {
            "user" => Some(KeyKind::User),
            "organization" => Some(KeyKind::Organization),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyRec {
    pub id: String,
    pub name: String,
    pub kind: KeyKind,
    pub status: Status,
    /// Hex sha256 of the full secret.
    pub secret_hash: String,
    pub key_prefix: String,
    pub key_suffix: String,
    pub created_on: DateTime<Utc>,
    pub created_by: Option<String>,
    pub last_verified_on: Option<DateTime<Utc>>,
    pub last_verified_ip: Option<String>,
    pub api_id: String,
    /// Scope keys (`read:payments`), as Kinde lists them.
    pub scopes: Vec<String>,
    pub verification_count: u64,
    pub user_id: Option<String>,
    pub org_code: Option<String>,
    /// How much simulated traffic this key gets (0 = none).
    #[serde(default)]
    pub traffic_weight: u32,
}

/// All the data of one sandbox.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Db {
    pub apis: Vec<ApiRec>,
    pub orgs: Vec<OrgRec>,
    pub users: Vec<UserRec>,
    /// Ordered by id; ids start with their creation time, so this is creation order.
    pub keys: BTreeMap<String, KeyRec>,
    /// secret hash -> key id
    #[serde(skip)]
    pub by_hash: HashMap<String, String>,
}

impl Db {
    pub fn reindex(&mut self) {
        self.by_hash = self
            .keys
            .values()
            .map(|k| (k.secret_hash.clone(), k.id.clone()))
            .collect();
    }

    pub fn api(&self, id: &str) -> Option<&ApiRec> {
        self.apis.iter().find(|a| a.id == id)
    }

    pub fn org(&self, code: &str) -> Option<&OrgRec> {
        self.orgs.iter().find(|o| o.code == code)
    }

    pub fn user(&self, id: &str) -> Option<&UserRec> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn insert_key(&mut self, key: KeyRec) {
        self.by_hash.insert(key.secret_hash.clone(), key.id.clone());
        self.keys.insert(key.id.clone(), key);
    }
}
