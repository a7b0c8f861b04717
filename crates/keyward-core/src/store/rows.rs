//! Conversions between rows and Keyward's types: times as Unix milliseconds, enums as text.

use chrono::{DateTime, Utc};

use crate::model::key::{KeyStatus, KeyType};

/// Milliseconds since the epoch.
pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Back from milliseconds (out-of-range values become `None`).
pub fn from_ms(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

pub(crate) fn opt_from_ms(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(from_ms)
}

pub(crate) const DAY_MS: i64 = 86_400_000;

pub(crate) fn parse_status(s: &str) -> KeyStatus {
    match s {
        "active" => KeyStatus::Active,
        "inactive" => KeyStatus::Inactive,
        _ => KeyStatus::Revoked,
    }
}

pub(crate) fn parse_type(s: &str) -> KeyType {
    match s {
        "organization" => KeyType::Organization,
        "environment" => KeyType::Environment,
        _ => KeyType::User,
    }
}

pub(crate) fn opt_time(ms: Option<i64>) -> Option<DateTime<Utc>> {
    opt_from_ms(ms)
}
