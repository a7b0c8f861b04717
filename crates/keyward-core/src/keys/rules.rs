//! THE rules that flag a key and find it: `stale`, `rotation_due` and the search.
//!
//! Every reader uses these: the cached and the live key lists, one key's page, insights, export,
//! the alert policy, the CLI and the app (whose table searches in the webview with the same
//! rule, pinned by the shared cases in `search_cases.json`).
//!
//! - A flag is only raised on a key that can still be used: present in Kinde (not gone) and
//!   active. An inactive or revoked key cannot verify, so "stale" or "due" would be noise.
//! - **Stale**: its last activity (the last verification, or its creation when it was never
//!   verified) is older than the stale window. A key created a minute ago is not stale; a key
//!   with neither date is not flagged (there is no evidence either way).
//! - **Rotation due**: its secret (since the last rotation, else since creation) is older than
//!   the rotation window.
//! - **Search**: the query is split on whitespace into lower-cased terms; a key matches when
//!   every term is found (case-insensitively, as a substring) in one of its name, key prefix,
//!   key suffix, id, owner name or API name. A blank query matches every key. The keys table
//!   asks the store for a window of the keys matching a query (`window`): there the same rule
//!   is SQL (`store::view::window_where`, a trigram index), pinned by the same shared cases.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::config::Settings;
use crate::ctx::{AppCtx, blocking};
use crate::error::Result;
use crate::model::key::{KeyStatus, KeyView, KeyWindow, KeyWindowQuery};

/// Windows that decide `stale` and `rotation_due`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Windows {
    /// No activity (verification, or creation when never verified) in this many days → stale
    /// (default 30).
    pub stale_days: u32,
    /// Older than this since creation or last rotation → rotation due (default 90).
    pub rotation_days: u32,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            stale_days: 30,
            rotation_days: 90,
        }
    }
}

impl From<&Settings> for Windows {
    fn from(s: &Settings) -> Self {
        Windows {
            stale_days: s.stale_days,
            rotation_days: s.rotation_days,
        }
    }
}

/// True when a key in this state can be flagged at all.
pub fn flaggable(status: KeyStatus, gone: bool) -> bool {
    !gone && status == KeyStatus::Active
}

/// True when `at` is more than `days` days before `now`.
fn older_than(at: DateTime<Utc>, days: u32, now: DateTime<Utc>) -> bool {
    now - at > Duration::days(i64::from(days))
}

/// The stale rule (for a flaggable key): last activity older than `stale_days`.
pub fn is_stale(
    last_verified_on: Option<DateTime<Utc>>,
    created_on: Option<DateTime<Utc>>,
    stale_days: u32,
    now: DateTime<Utc>,
) -> bool {
    last_verified_on
        .or(created_on)
        .is_some_and(|t| older_than(t, stale_days, now))
}

/// The rotation rule (for a flaggable key): secret older than `rotation_days`.
pub fn is_rotation_due(
    rotated_on: Option<DateTime<Utc>>,
    created_on: Option<DateTime<Utc>>,
    rotation_days: u32,
    now: DateTime<Utc>,
) -> bool {
    rotated_on
        .or(created_on)
        .is_some_and(|t| older_than(t, rotation_days, now))
}

/// Fills a view's `stale` and `rotation_due` flags.
pub fn apply(v: &mut KeyView, w: Windows, now: DateTime<Utc>) {
    let can = flaggable(v.key.status, v.gone);
    v.stale = can && is_stale(v.key.last_verified_on, v.key.created_on, w.stale_days, now);
    v.rotation_due = can && is_rotation_due(v.rotated_on, v.key.created_on, w.rotation_days, now);
}

/// One window of the keys table (`keys_window`): the store answers with the search rule and
/// the flag rules (the local store through its in-memory window index, `store/window_index.rs`,
/// checked against its SQL path; the team server's in SQL); the rows' flags are set here.
pub async fn window(ctx: &AppCtx, q: KeyWindowQuery, offset: u32, limit: u32) -> Result<KeyWindow> {
    let w = Windows::from(&ctx.settings().await?);
    let store = ctx.store().await?;
    let now = chrono::Utc::now();
    let mut win = blocking(move || {
        store.keys_window(&q, offset, limit, (w.stale_days, w.rotation_days), now)
    })
    .await?;
    for v in &mut win.rows {
        apply(v, w, now);
    }
    Ok(win)
}

/// The ids of the keys matching a query that can still be revoked (not revoked), in id
/// order: "every key matching" of a bulk revoke, resolved here rather than in a front end.
pub async fn revocable_matching(ctx: &AppCtx, q: KeyWindowQuery) -> Result<Vec<String>> {
    let w = Windows::from(&ctx.settings().await?);
    let store = ctx.store().await?;
    let now = chrono::Utc::now();
    blocking(move || {
        store.keys_matching_ids(&q, true, (w.stale_days, w.rotation_days), now, u32::MAX)
    })
    .await
}

/// A parsed search query: its lower-cased terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    terms: Vec<String>,
}

impl Search {
    /// Splits `query` on whitespace into lower-cased terms (none for a blank query).
    pub fn parse(query: Option<&str>) -> Search {
        Search {
            terms: query
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_lowercase)
                .collect(),
        }
    }

    /// True for a blank query, which matches every key.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// True when every term is in one of the key's searched fields.
    pub fn matches(&self, v: &KeyView) -> bool {
        if self.terms.is_empty() {
            return true;
        }
        let fields: [Option<&str>; 6] = [
            Some(v.key.name.as_str()),
            Some(v.key.key_prefix.as_str()),
            v.key.key_suffix.as_deref(),
            Some(v.key.id.as_str()),
            v.owner_name.as_deref(),
            v.api_name.as_deref(),
        ];
        let fields: Vec<String> = fields
            .into_iter()
            .flatten()
            .map(str::to_lowercase)
            .collect();
        self.terms
            .iter()
            .all(|t| fields.iter().any(|f| f.contains(t.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::key::{ApiKey, KeyType};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn days_ago(d: i64) -> Option<DateTime<Utc>> {
        Some(now() - Duration::days(d))
    }

    fn view(name: &str) -> KeyView {
        KeyView {
            key: ApiKey {
                id: "api_key_0a1b2c".into(),
                name: name.into(),
                key_type: KeyType::Organization,
                status: KeyStatus::Active,
                key_prefix: "k_live_Ab".into(),
                key_suffix: Some("wXyZ".into()),
                created_on: days_ago(10),
                last_verified_on: None,
                last_verified_ip: None,
                created_by: None,
                api_ids: vec!["api_1".into()],
                scopes: vec![],
                verification_count: None,
                user_id: None,
                org_code: Some("org_acme".into()),
            },
            owner_name: Some("Acme Corp".into()),
            api_name: Some("Billing API".into()),
            stale: false,
            rotation_due: false,
            rotated_on: None,
            gone: false,
            details_owed: false,
            spark_7d: Vec::new(),
        }
    }

    #[test]
    fn a_new_key_never_verified_is_not_stale() {
        assert!(!is_stale(None, days_ago(0), 30, now()));
        assert!(!is_stale(None, days_ago(29), 30, now()));
        assert!(is_stale(None, days_ago(31), 30, now()));
    }

    #[test]
    fn stale_follows_the_last_verification() {
        assert!(!is_stale(days_ago(5), days_ago(400), 30, now()));
        assert!(is_stale(days_ago(31), days_ago(400), 30, now()));
        // No date at all: no evidence either way.
        assert!(!is_stale(None, None, 30, now()));
    }

    #[test]
    fn rotation_due_counts_from_the_last_rotation() {
        assert!(is_rotation_due(None, days_ago(91), 90, now()));
        assert!(!is_rotation_due(days_ago(3), days_ago(400), 90, now()));
        assert!(!is_rotation_due(None, days_ago(89), 90, now()));
        assert!(!is_rotation_due(None, None, 90, now()));
    }

    #[test]
    fn only_active_present_keys_are_flagged() {
        let w = Windows::default();
        let mut v = view("Old");
        v.key.created_on = days_ago(400);
        apply(&mut v, w, now());
        assert!(v.stale && v.rotation_due);
        for status in [KeyStatus::Inactive, KeyStatus::Revoked] {
            let mut v = view("Old");
            v.key.created_on = days_ago(400);
            v.key.status = status;
            apply(&mut v, w, now());
            assert!(!v.stale && !v.rotation_due, "{status:?}");
        }
        let mut v = view("Old");
        v.key.created_on = days_ago(400);
        v.gone = true;
        apply(&mut v, w, now());
        assert!(!v.stale && !v.rotation_due);
    }

    /// The cases the UI's search (ui/src/lib/logic/keys.ts) is tested against too.
    #[test]
    fn search_matches_the_shared_cases() {
        #[derive(Deserialize)]
        struct Case {
            query: String,
            matches: bool,
        }
        let cases: Vec<Case> = serde_json::from_str(include_str!("search_cases.json")).unwrap();
        assert!(cases.len() >= 10);
        let v = view("Billing reconciler");
        for c in cases {
            assert_eq!(
                Search::parse(Some(&c.query)).matches(&v),
                c.matches,
                "query {:?}",
                c.query
            );
        }
    }
}
