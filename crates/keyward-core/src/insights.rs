//! Insights across keys, from the local store: totals per org and per API, the busiest keys,
//! stale keys and keys due for rotation.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::ctx::{AppCtx, blocking};
use crate::error::Result;
use crate::keys::rules::{Windows, apply};
use crate::model::key::{KeyStatus, KeyType};
use crate::store::{CachedKey, Store};

/// Options of `insights`; `Default` is 30 stale days, 90 rotation days, top 10 over 7 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct InsightsOptions {
    pub stale_days: u32,
    pub rotation_days: u32,
    /// How many keys in `top_keys`.
    pub top: u32,
    /// The window of "recent" verifications, in days.
    pub recent_days: u32,
}

impl Default for InsightsOptions {
    fn default() -> Self {
        InsightsOptions {
            stale_days: 30,
            rotation_days: 90,
            top: 10,
            recent_days: 7,
        }
    }
}

/// Totals of one org or API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct GroupTotal {
    /// Org code or API id (`None`: user and environment keys outside any org).
    pub id: Option<String>,
    pub name: String,
    pub keys: u32,
    pub active_keys: u32,
    /// Sum of the keys' lifetime `verification_count`.
    #[ts(type = "number")]
    pub verifications_total: i64,
    /// Verifications in the recent window (from history).
    #[ts(type = "number")]
    pub verifications_recent: i64,
}

/// A key in an insights list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct KeyInsight {
    pub id: String,
    pub name: String,
    pub owner_name: Option<String>,
    pub api_name: Option<String>,
    #[ts(type = "number")]
    pub verifications_recent: i64,
    #[ts(type = "number | null")]
    pub verification_count: Option<i64>,
    pub last_verified_on: Option<DateTime<Utc>>,
    /// Days since the last verification (stale) or since creation/rotation (rotation due).
    #[ts(type = "number | null")]
    pub days: Option<i64>,
    /// never_verified | quiet | created | rotated | busy
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Insights {
    pub generated_at: DateTime<Utc>,
    pub last_sync: Option<DateTime<Utc>>,
    pub options: InsightsOptions,
    pub keys: u32,
    pub active_keys: u32,
    pub by_org: Vec<GroupTotal>,
    pub by_api: Vec<GroupTotal>,
    pub top_keys: Vec<KeyInsight>,
    pub stale: Vec<KeyInsight>,
    pub rotation_due: Vec<KeyInsight>,
    /// Verifications of every key per UTC day over the last 7 days, oldest first (today
    /// last): the insights chart, summed in the store rather than over every key in a front end.
    #[serde(default)]
    #[ts(type = "Array<number>")]
    pub per_day_7d: Vec<i64>,
}

/// Computes the insights of `store` at `now`.
pub fn compute(store: &dyn Store, opts: InsightsOptions, now: DateTime<Utc>) -> Result<Insights> {
    let windows = Windows {
        stale_days: opts.stale_days,
        rotation_days: opts.rotation_days,
    };
    let mut keys: Vec<CachedKey> = store.all_keys()?;
    keys.retain(|k| !k.view.gone);
    let since = now - Duration::days(i64::from(opts.recent_days.max(1)) - 1);
    let since = since
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let recent = store.recent_verifications(since)?;
    for k in &mut keys {
        apply(&mut k.view, windows, now);
    }
    let recent_of = |k: &CachedKey| recent.get(&k.kid).copied().unwrap_or(0);
    let active = |k: &CachedKey| k.view.key.status == KeyStatus::Active;

    let mut by_org: BTreeMap<Option<String>, GroupTotal> = BTreeMap::new();
    let mut by_api: BTreeMap<Option<String>, GroupTotal> = BTreeMap::new();
    for k in &keys {
        let org = k.view.key.org_code.clone();
        let org_name = match (&org, k.view.key.key_type) {
            (Some(code), KeyType::Organization) => {
                k.view.owner_name.clone().unwrap_or(code.clone())
            }
            (Some(code), _) => code.clone(),
            (None, _) => "(no organization)".to_string(),
        };
        let api = k.view.key.api_ids.first().cloned();
        let api_name = k
            .view
            .api_name
            .clone()
            .or(api.clone())
            .unwrap_or_else(|| "(no API)".to_string());
        for (map, id, name) in [(&mut by_org, org, org_name), (&mut by_api, api, api_name)] {
            let g = map.entry(id.clone()).or_insert_with(|| GroupTotal {
                id,
                name,
                keys: 0,
                active_keys: 0,
                verifications_total: 0,
                verifications_recent: 0,
            });
            // Counts come from the server: a huge or negative one never overflows a sum
            // (saturating) nor lowers it (a negative count is taken as 0).
            g.keys = g.keys.saturating_add(1);
            g.active_keys = g.active_keys.saturating_add(u32::from(active(k)));
            g.verifications_total = g
                .verifications_total
                .saturating_add(k.view.key.verification_count.unwrap_or(0).max(0));
            g.verifications_recent = g.verifications_recent.saturating_add(recent_of(k).max(0));
        }
    }
    let sort_groups = |m: BTreeMap<Option<String>, GroupTotal>| {
        let mut v: Vec<GroupTotal> = m.into_values().collect();
        v.sort_by(|a, b| {
            b.verifications_recent
                .cmp(&a.verifications_recent)
                .then(b.verifications_total.cmp(&a.verifications_total))
                .then(a.name.cmp(&b.name))
        });
        v
    };

    let days_since = |t: Option<DateTime<Utc>>| t.map(|t| (now - t).num_days());
    let insight = |k: &CachedKey, days: Option<i64>, reason: &str| KeyInsight {
        id: k.view.key.id.clone(),
        name: k.view.key.name.clone(),
        owner_name: k.view.owner_name.clone(),
        api_name: k.view.api_name.clone(),
        verifications_recent: recent_of(k),
        verification_count: k.view.key.verification_count,
        last_verified_on: k.view.key.last_verified_on,
        days,
        reason: reason.to_string(),
    };

    let mut top: Vec<&CachedKey> = keys.iter().filter(|k| recent_of(k) > 0).collect();
    top.sort_by(|a, b| {
        recent_of(b)
            .cmp(&recent_of(a))
            .then(a.view.key.id.cmp(&b.view.key.id))
    });
    let top_keys = top
        .into_iter()
        .take(opts.top as usize)
        .map(|k| insight(k, None, "busy"))
        .collect();

    let mut stale: Vec<KeyInsight> = keys
        .iter()
        .filter(|k| k.view.stale)
        .map(|k| match k.view.key.last_verified_on {
            None => insight(k, days_since(k.view.key.created_on), "never_verified"),
            Some(t) => insight(k, days_since(Some(t)), "quiet"),
        })
        .collect();
    stale.sort_by(|a, b| b.days.cmp(&a.days).then(a.id.cmp(&b.id)));

    let mut rotation_due: Vec<KeyInsight> = keys
        .iter()
        .filter(|k| k.view.rotation_due)
        .map(|k| match k.view.rotated_on {
            Some(r) => insight(k, days_since(Some(r)), "rotated"),
            None => insight(k, days_since(k.view.key.created_on), "created"),
        })
        .collect();
    rotation_due.sort_by(|a, b| b.days.cmp(&a.days).then(a.id.cmp(&b.id)));

    Ok(Insights {
        generated_at: now,
        last_sync: store.last_sync_at()?,
        options: opts,
        keys: keys.len() as u32,
        active_keys: keys.iter().filter(|k| active(k)).count() as u32,
        by_org: sort_groups(by_org),
        by_api: sort_groups(by_api),
        top_keys,
        stale,
        rotation_due,
        per_day_7d: store
            .daily_totals(now - Duration::days(6), now)?
            .into_iter()
            .map(|b| b.verifications)
            .collect(),
    })
}

/// Totals per org and API, busiest keys, stale keys and keys due for rotation.
pub async fn summary(ctx: &AppCtx, opts: InsightsOptions) -> Result<Insights> {
    let store = ctx.store().await?;
    blocking(move || crate::insights::compute(&*store, opts, Utc::now())).await
}

/// [`InsightsOptions`] from the profile's settings (stale and rotation windows).
pub async fn options(ctx: &AppCtx) -> Result<InsightsOptions> {
    let s = ctx.settings().await?;
    Ok(InsightsOptions {
        stale_days: s.stale_days,
        rotation_days: s.rotation_days,
        ..Default::default()
    })
}

/// [`summary`] with the profile's windows and the busiest keys over `recent_days`.
pub async fn for_days(ctx: &AppCtx, recent_days: u32) -> Result<Insights> {
    let opts = options(ctx).await?;
    summary(
        ctx,
        InsightsOptions {
            recent_days,
            ..opts
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::key::ApiKey;
    use crate::store::{PageEntry, SqliteStore};

    fn key(id: &str, count: i64) -> ApiKey {
        ApiKey {
            id: id.into(),
            name: format!("name {id}"),
            key_type: KeyType::Organization,
            status: KeyStatus::Active,
            key_prefix: "k_live".into(),
            key_suffix: Some("abcd".into()),
            created_on: None,
            last_verified_on: None,
            last_verified_ip: None,
            created_by: None,
            api_ids: vec!["api_1".into()],
            scopes: vec!["read".into()],
            verification_count: Some(count),
            user_id: None,
            org_code: Some("org_a".into()),
        }
    }

    /// Two keys near `i64::MAX` (and one negative) sum to `i64::MAX`, no panic, no wrap.
    #[test]
    fn huge_counts_saturate_and_negative_ones_count_as_zero() {
        let s = SqliteStore::open_in_memory("p").unwrap();
        let now = Utc::now();
        let page: Vec<PageEntry> = [key("a", i64::MAX - 1), key("b", i64::MAX - 1), key("c", -5)]
            .into_iter()
            .map(|key| PageEntry { key, detail: true })
            .collect();
        s.apply_page(Some(1), now, &page).unwrap();
        let ins = compute(&s, InsightsOptions::default(), now).unwrap();
        let org = ins
            .by_org
            .iter()
            .find(|g| g.id.as_deref() == Some("org_a"))
            .unwrap();
        assert_eq!(org.keys, 3);
        assert_eq!(org.verifications_total, i64::MAX);
        assert!(org.verifications_recent >= 0);
        assert_eq!(ins.per_day_7d.len(), 7, "one total per day, today last");
    }
}
