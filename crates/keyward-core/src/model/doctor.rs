//! A doctor's report: its steps, verdict and next action.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum DoctorKind {
    Key,
    Connection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum StepStatus {
    Ok,
    Warn,
    Fail,
    /// Not run, because an earlier step failed or it does not apply.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DoctorStep {
    /// Stable machine name: `whitespace`, `bearer_prefix`, `quotes`, `format`, `verify`,
    /// `status`, `owner`, `scopes`, `required_scope`, `organization`; `domain`, `dns`, `tls`,
    /// `token`, `token_scopes`, `clock`, `api_access`.
    pub name: String,
    pub status: StepStatus,
    /// `false` only for a failed step (a warning is ok).
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DoctorReport {
    pub kind: DoctorKind,
    pub steps: Vec<DoctorStep>,
    /// No step failed.
    pub healthy: bool,
    /// The verdict's weight: `fail` when a step failed, `warn` when none failed but one warned
    /// (for example "some scopes are missing"), else `ok`. Never `skipped`.
    #[serde(default = "outcome_ok")]
    pub outcome: StepStatus,
    /// The key doctor: the Kinde id of the key checked, when Kinde knows it.
    #[serde(default)]
    pub key_id: Option<String>,
    /// The key doctor: the key's name, when Kinde knows the key.
    #[serde(default)]
    pub key_name: Option<String>,
    /// The key doctor: the key's owner by name, e.g. `organization Acme Corp (org_1a2b)` or
    /// `user Ada Lovelace (kp_…)` (the code or id alone when the name cannot be read).
    #[serde(default)]
    pub owner: Option<String>,
    pub verdict: String,
    pub next_action: String,
    /// The key was sent to Kinde's verify endpoint, which counts as one verification.
    pub counted_verification: bool,
}

fn outcome_ok() -> StepStatus {
    StepStatus::Ok
}

/// What `doctor key` diagnoses.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct DoctorKeyInput {
    /// The key as pasted, whitespace, quotes and all.
    #[ts(type = "string")]
    pub key: Secret,
    /// A scope the key must have (`--require-scope`).
    pub require_scope: Option<String>,
    /// The organization the key must belong to (`--org`).
    pub org_code: Option<String>,
}

impl DoctorKeyInput {
    pub fn new(key: Secret) -> Self {
        DoctorKeyInput {
            key,
            require_scope: None,
            org_code: None,
        }
    }
}

/// What `keys verify` sends to Kinde's verify endpoint: the key as pasted (surrounding
/// whitespace is removed before it is sent).
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct VerifyKeyInput {
    #[ts(type = "string")]
    pub key: Secret,
}

/// On the wire to a team's server, which verifies the key with the team's Kinde credentials
/// (the member's machine holds none), as `DoctorKeyInput` is (`remote.rs`): the pasted key is
/// serialized only here, over TLS to the server, which never stores or logs it.
impl Serialize for VerifyKeyInput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("VerifyKeyInput", 1)?;
        st.serialize_field("key", self.key.expose())?;
        st.end()
    }
}
