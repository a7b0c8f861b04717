//! Kinde's JSON wire shapes, exactly as the Management API sends them, and their conversion
//! into Keyward's domain types (`crate::model`).
//!
//! Every field the spec marks nullable (and a few it does not, to be forgiving) is optional here;
//! conversion turns a missing required field into an `unexpected_response` error, never a panic.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorCode, Result};
use crate::model::key::{Api, ApiKey, KeyStatus, KeyType, Org, Scope, User, VerifyResult};

/// Parses a success body. Any shape mismatch is an `unexpected_response` error.
pub fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorCode::UnexpectedResponse,
            format!("Kinde's answer to {what} is not the JSON the Management API promises ({e})"),
            "Check that the profile's domain is your Kinde business domain \
             (https://<business>.kinde.com) and not a proxy or another site.",
        )
    })
}

fn missing(what: &str, field: &str) -> Error {
    Error::new(
        ErrorCode::UnexpectedResponse,
        format!("Kinde's answer to {what} lacks the field `{field}`"),
        "Check that the profile's domain points at Kinde's Management API; if it does, \
         Kinde may have changed its API: please report this.",
    )
}

// ---------------------------------------------------------------- token

#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: Option<String>,
    pub token_type: Option<String>,
    pub expires_in: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct OAuthError {
    pub error: Option<String>,
    pub error_description: Option<String>,
}

// ---------------------------------------------------------------- errors

#[derive(Debug, Default, Deserialize)]
pub struct ErrorItem {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `{"errors": [..]}` (400/403/429) or `{"errors": {..}}` (404).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Errors {
    Many(Vec<ErrorItem>),
    One(ErrorItem),
}

#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub errors: Option<Errors>,
}

impl ErrorBody {
    /// The error items of a body, whatever its shape; empty when it is not Kinde's shape.
    pub fn items(body: &[u8]) -> Vec<ErrorItem> {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(ErrorBody {
                errors: Some(Errors::Many(v)),
            }) => v,
            Ok(ErrorBody {
                errors: Some(Errors::One(e)),
            }) => vec![e],
            _ => Vec::new(),
        }
    }
}

// ---------------------------------------------------------------- api keys

#[derive(Debug, Deserialize)]
pub struct WireKey {
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub key_type: Option<String>,
    pub status: Option<String>,
    pub key_prefix: Option<String>,
    pub key_suffix: Option<String>,
    pub created_on: Option<String>,
    pub last_verified_on: Option<String>,
    pub last_verified_ip: Option<String>,
    pub created_by: Option<String>,
    pub api_ids: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub verification_count: Option<i64>,
    /// Kinde's detail calls the org code `organization_id`; accept `org_code` too.
    #[serde(alias = "org_code")]
    pub organization_id: Option<String>,
    pub user_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct KeysResponse {
    pub has_more: Option<bool>,
    pub api_keys: Option<Vec<WireKey>>,
}

#[derive(Debug, Deserialize)]
pub struct KeyResponse {
    pub api_key: Option<WireKey>,
}

#[derive(Debug, Deserialize)]
pub struct NewKey {
    pub id: Option<String>,
    pub key: Option<String>,
}

/// The answer of create (201) and rotate (201).
#[derive(Debug, Deserialize)]
pub struct NewKeyResponse {
    pub api_key: Option<NewKey>,
}

#[derive(Debug, Deserialize)]
pub struct VerifyResponse {
    pub is_valid: Option<bool>,
    pub key_id: Option<String>,
    pub status: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub org_code: Option<String>,
    pub user_id: Option<String>,
    pub last_verified_on: Option<String>,
    pub verification_count: Option<i64>,
}

pub fn key_type(s: &str, what: &str) -> Result<KeyType> {
    match s {
        "user" => Ok(KeyType::User),
        "organization" | "org" => Ok(KeyType::Organization),
        "environment" => Ok(KeyType::Environment),
        other => Err(unknown_value(what, "type", other)),
    }
}

pub fn key_status(s: &str, what: &str) -> Result<KeyStatus> {
    match s {
        "active" => Ok(KeyStatus::Active),
        "inactive" => Ok(KeyStatus::Inactive),
        "revoked" => Ok(KeyStatus::Revoked),
        other => Err(unknown_value(what, "status", other)),
    }
}

fn unknown_value(what: &str, field: &str, value: &str) -> Error {
    let shown: String = value.chars().take(40).collect();
    Error::new(
        ErrorCode::UnexpectedResponse,
        format!("Kinde's answer to {what} has an unknown {field} {shown:?}"),
        "Kinde may have added a new value; please report this so Keyward can learn it.",
    )
}

/// The largest verification count taken from Kinde: 10^15 (a million verifications a second
/// for 31 years). Sums over every key stay far from `i64::MAX`, and a count beyond it is a
/// broken answer, not traffic.
pub const MAX_VERIFICATION_COUNT: i64 = 1_000_000_000_000_000;

/// A key's verification count as Kinde sent it, checked: never negative, never absurd.
fn checked_count(count: Option<i64>, key: &str, what: &str) -> Result<Option<i64>> {
    match count {
        Some(n) if !(0..=MAX_VERIFICATION_COUNT).contains(&n) => Err(Error::new(
            ErrorCode::UnexpectedResponse,
            format!(
                "Kinde's answer to {what} gives {key} a verification_count of {n}, outside 0 to \
                 {MAX_VERIFICATION_COUNT}"
            ),
            "Nothing was recorded from this answer. Check that the profile's domain points at \
             Kinde's Management API; if it does, please report this.",
        )),
        n => Ok(n),
    }
}

impl WireKey {
    pub fn into_model(self, what: &str) -> Result<ApiKey> {
        let id = self
            .id
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing(what, "id"))?;
        let key_type = key_type(
            self.key_type
                .as_deref()
                .ok_or_else(|| missing(what, "type"))?,
            what,
        )?;
        let status = key_status(
            self.status
                .as_deref()
                .ok_or_else(|| missing(what, "status"))?,
            what,
        )?;
        let verification_count = checked_count(self.verification_count, &id, what)?;
        Ok(ApiKey {
            id,
            name: self.name.unwrap_or_default(),
            key_type,
            status,
            key_prefix: self.key_prefix.unwrap_or_default(),
            key_suffix: self.key_suffix,
            created_on: self.created_on.as_deref().and_then(parse_date),
            last_verified_on: self.last_verified_on.as_deref().and_then(parse_date),
            last_verified_ip: self.last_verified_ip,
            created_by: self.created_by,
            api_ids: self.api_ids.unwrap_or_default(),
            scopes: self.scopes.unwrap_or_default(),
            verification_count,
            user_id: self.user_id.filter(|s| !s.is_empty()),
            org_code: self.organization_id.filter(|s| !s.is_empty()),
        })
    }
}

impl VerifyResponse {
    pub fn into_model(self, what: &str) -> Result<VerifyResult> {
        let is_valid = self.is_valid.ok_or_else(|| missing(what, "is_valid"))?;
        let status = match self.status.as_deref() {
            None | Some("") => None,
            Some(s) => Some(key_status(s, what)?),
        };
        let verification_count = checked_count(self.verification_count, "the key", what)?;
        Ok(VerifyResult {
            is_valid,
            key_id: self.key_id.filter(|s| !s.is_empty()),
            status,
            scopes: self.scopes.unwrap_or_default(),
            org_code: self.org_code.filter(|s| !s.is_empty()),
            user_id: self.user_id.filter(|s| !s.is_empty()),
            last_verified_on: self.last_verified_on.as_deref().and_then(parse_date),
            verification_count,
            note: VERIFY_NOTE.to_string(),
        })
    }
}

/// Carried by every verify result.
pub const VERIFY_NOTE: &str = "Verifying counted as one verification in Kinde: the key's \
     verification_count and last_verified_on changed.";

// ---------------------------------------------------------------- apis, orgs, users

#[derive(Debug, Deserialize)]
pub struct WireScope {
    pub id: Option<String>,
    pub key: Option<String>,
}

impl WireScope {
    pub fn into_model(self, what: &str) -> Result<Scope> {
        Ok(Scope {
            id: self
                .id
                .filter(|s| !s.is_empty())
                .ok_or_else(|| missing(what, "id"))?,
            key: self.key.ok_or_else(|| missing(what, "key"))?,
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct WireApi {
    pub id: Option<String>,
    pub name: Option<String>,
    pub audience: Option<String>,
    pub is_management_api: Option<bool>,
    /// `None` when the answer did not expand scopes (then they are fetched separately).
    pub scopes: Option<Vec<WireScope>>,
}

impl WireApi {
    pub fn into_model(self, what: &str) -> Result<(Api, bool)> {
        let has_scopes = self.scopes.is_some();
        let scopes = self
            .scopes
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.into_model(what))
            .collect::<Result<Vec<_>>>()?;
        let api = Api {
            id: self
                .id
                .filter(|s| !s.is_empty())
                .ok_or_else(|| missing(what, "id"))?,
            name: self.name.unwrap_or_default(),
            audience: self.audience.unwrap_or_default(),
            is_management_api: self.is_management_api.unwrap_or(false),
            scopes,
        };
        Ok((api, has_scopes))
    }
}

#[derive(Debug, Deserialize)]
pub struct ApisResponse {
    pub apis: Option<Vec<WireApi>>,
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ScopesResponse {
    pub scopes: Option<Vec<WireScope>>,
}

#[derive(Debug, Deserialize)]
pub struct WireOrg {
    pub code: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct OrgsResponse {
    pub organizations: Option<Vec<WireOrg>>,
    pub next_token: Option<String>,
}

impl WireOrg {
    pub fn into_model(self, what: &str) -> Result<Org> {
        Ok(Org {
            code: self
                .code
                .filter(|s| !s.is_empty())
                .ok_or_else(|| missing(what, "code"))?,
            name: self.name.unwrap_or_default(),
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct WireUser {
    pub id: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct UsersResponse {
    pub users: Option<Vec<WireUser>>,
    pub next_token: Option<String>,
}

impl WireUser {
    pub fn into_model(self, what: &str) -> Result<User> {
        let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
        Ok(User {
            id: nonempty(self.id).ok_or_else(|| missing(what, "id"))?,
            email: nonempty(self.email),
            first_name: nonempty(self.first_name),
            last_name: nonempty(self.last_name),
        })
    }
}

// ---------------------------------------------------------------- dates

/// Parses Kinde's dates leniently: RFC 3339, an offset of hours only (`+11`, as in Kinde's own
/// examples), a space instead of `T`, or no offset at all (taken as UTC). `None` if unreadable.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    let t = s.replacen(' ', "T", 1);
    if let Ok(d) = DateTime::parse_from_rfc3339(&t) {
        return Some(d.with_timezone(&Utc));
    }
    // "+11" / "-0530" / "+1100" offsets.
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(d) = DateTime::<FixedOffset>::parse_from_str(&t, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    let naive = t.trim_end_matches('Z');
    NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| Utc.from_utc_datetime(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_kinde_examples() {
        let d = parse_date("2024-11-18T13:32:03+11").unwrap();
        assert_eq!(d.to_rfc3339(), "2024-11-18T02:32:03+00:00");
        let d = parse_date("2026-01-28T14:26:02.448856+00:00").unwrap();
        assert_eq!(d.timestamp(), 1769610362);
        assert!(parse_date("2024-11-18 13:32:03").is_some());
        assert!(parse_date("2024-11-18T13:32:03Z").is_some());
        assert!(parse_date("yesterday").is_none());
        assert!(parse_date("").is_none());
    }

    #[test]
    fn detail_key_maps_organization_id_to_org_code() {
        let body = br#"{"api_key":{"id":"api_key_1","name":"n","type":"organization",
            "status":"active","key_prefix":"k_live","key_suffix":"abcd",
            "verification_count":42,"organization_id":"org_1","user_id":null}}"#;
        let r: KeyResponse = parse(body, "t").unwrap();
        let k = r.api_key.unwrap().into_model("t").unwrap();
        assert_eq!(k.org_code.as_deref(), Some("org_1"));
        assert_eq!(k.verification_count, Some(42));
        assert_eq!(k.key_type, KeyType::Organization);
    }

    #[test]
    fn a_negative_or_absurd_verification_count_is_refused() {
        for n in [-1_i64, MAX_VERIFICATION_COUNT + 1, i64::MAX] {
            let body = format!(
                r#"{{"id":"api_key_1","type":"user","status":"active","verification_count":{n}}}"#
            );
            let k: WireKey = parse(body.as_bytes(), "t").unwrap();
            let e = k.into_model("t").unwrap_err();
            assert_eq!(e.code, ErrorCode::UnexpectedResponse, "{n}");
            assert!(e.message.contains(&n.to_string()), "{}", e.message);
        }
        let ok: WireKey = parse(
            format!(r#"{{"id":"a","type":"user","status":"active","verification_count":{MAX_VERIFICATION_COUNT}}}"#)
                .as_bytes(),
            "t",
        )
        .unwrap();
        assert_eq!(
            ok.into_model("t").unwrap().verification_count,
            Some(MAX_VERIFICATION_COUNT)
        );
        let v: VerifyResponse =
            parse(br#"{"is_valid":true,"verification_count":-5}"#, "t").unwrap();
        assert_eq!(
            v.into_model("t").unwrap_err().code,
            ErrorCode::UnexpectedResponse
        );
    }

    #[test]
    fn unknown_status_and_missing_id_are_errors() {
        let k: WireKey = parse(br#"{"id":"a","type":"user","status":"weird"}"#, "t").unwrap();
        assert_eq!(
            k.into_model("t").unwrap_err().code,
            ErrorCode::UnexpectedResponse
        );
        let k: WireKey = parse(br#"{"type":"user","status":"active"}"#, "t").unwrap();
        assert!(k.into_model("t").is_err());
    }

    #[test]
    fn both_error_shapes_are_read() {
        let many = ErrorBody::items(br#"{"errors":[{"code":"A","message":"m"}]}"#);
        assert_eq!(many.len(), 1);
        let one = ErrorBody::items(br#"{"errors":{"code":"ROUTE_NOT_FOUND","message":"x"}}"#);
        assert_eq!(one[0].code.as_deref(), Some("ROUTE_NOT_FOUND"));
        assert!(ErrorBody::items(b"<html>").is_empty());
    }
}
