//! Issue-10 operations (the watchtower): alerts, mutes, policies, key expiry dates, canaries
//! and leak triage. Re-exported from [`crate::ops`]; each is one call for a Tauri command.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::alerts::{Alert, AlertEval, AlertFilter, AlertList, KeyMeta, Mute, MuteTarget, Policy};
use crate::ctx::{AppCtx, blocking};
use crate::error::Result;
use crate::kinde::validate_id;
use crate::ops::{CreateKeyInput, NewKey};
use crate::store::Store;

/// Called at the end of every sync, after its writes: evaluates the alert rules. Never fails
/// the sync (a failure is logged; the next sync evaluates again).
pub(crate) async fn after_sync(ctx: &AppCtx, store: &Arc<Store>) {
    let policy = match effective_policy(ctx, store).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(code = %e.code, "alert policy unavailable: {}", e.message);
            return;
        }
    };
    let s = Arc::clone(store);
    if let Err(e) = blocking(move || s.evaluate_alerts(&policy, Utc::now())).await {
        tracing::warn!(code = %e.code, "alert evaluation failed: {}", e.message);
    }
}

async fn effective_policy(ctx: &AppCtx, store: &Arc<Store>) -> Result<Policy> {
    let s = Arc::clone(store);
    match blocking(move || s.policy()).await? {
        Some(p) => Ok(p),
        None => Ok(Policy::from_settings(&ctx.settings().await?)),
    }
}

/// Evaluates the alert rules now over the local store (sync does it after every run).
pub async fn alerts_evaluate(ctx: &AppCtx) -> Result<AlertEval> {
    let store = ctx.store().await?;
    let policy = effective_policy(ctx, &store).await?;
    blocking(move || store.evaluate_alerts(&policy, Utc::now())).await
}

/// Alerts, newest first, with the count of open high/critical ones.
pub async fn alerts_list(ctx: &AppCtx, filter: AlertFilter) -> Result<AlertList> {
    if let Some(k) = &filter.key_id {
        validate_id("key id", k)?;
    }
    let store = ctx.store().await?;
    blocking(move || store.alerts_list(&filter)).await
}

/// Acknowledges an alert.
pub async fn alert_ack(ctx: &AppCtx, id: i64) -> Result<Alert> {
    let store = ctx.store().await?;
    blocking(move || store.alert_ack(id, Utc::now())).await
}

/// Mutes a key or a kind (its open alerts too). Returns how many open alerts it muted.
pub async fn alerts_mute(ctx: &AppCtx, target: MuteTarget) -> Result<u32> {
    if let MuteTarget::Key { key_id } = &target {
        validate_id("key id", key_id)?;
    }
    let store = ctx.store().await?;
    let n = blocking(move || store.alert_mute(&target, Utc::now())).await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Lifts a mute; `false` when there was none.
pub async fn alerts_unmute(ctx: &AppCtx, target: MuteTarget) -> Result<bool> {
    let store = ctx.store().await?;
    blocking(move || store.alert_unmute(&target)).await
}

/// The mutes in force.
pub async fn alert_mutes(ctx: &AppCtx) -> Result<Vec<Mute>> {
    let store = ctx.store().await?;
    blocking(move || store.alert_mutes()).await
}

/// The profile's policy and the keys with a local expiry date or a canary mark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PolicyView {
    pub policy: Policy,
    /// False: the defaults (from the settings) are in force.
    pub stored: bool,
    pub keys: Vec<KeyMeta>,
}

/// The profile's policy (stored, or the defaults) and the keys' local dates and marks.
pub async fn policy_show(ctx: &AppCtx) -> Result<PolicyView> {
    let store = ctx.store().await?;
    let s = Arc::clone(&store);
    let stored = blocking(move || s.policy()).await?;
    let policy = match stored {
        Some(p) => p,
        None => Policy::from_settings(&ctx.settings().await?),
    };
    let keys = blocking(move || store.key_metas()).await?;
    Ok(PolicyView {
        policy,
        stored: stored.is_some(),
        keys,
    })
}

/// Stores the profile's policy (checked first).
pub async fn policy_set(ctx: &AppCtx, policy: Policy) -> Result<PolicyView> {
    policy.check()?;
    let store = ctx.store().await?;
    blocking(move || store.set_policy(&policy)).await?;
    policy_show(ctx).await
}

/// Sets (or clears with `None`) a key's local "expires on" date. When the date comes, an
/// alert offers a rotate, a re-issue or a revoke; nothing happens on its own.
pub async fn key_expires_set(ctx: &AppCtx, id: &str, on: Option<DateTime<Utc>>) -> Result<KeyMeta> {
    validate_id("key id", id)?;
    let store = ctx.store().await?;
    let id = id.to_string();
    blocking(move || store.set_expires_on(&id, on)).await
}

/// Creates a normal Kinde key (see [`crate::ops::key_create`]) and marks it locally as a
/// canary: any verification of it is a critical alert. The secret is shown once.
pub async fn canary_create(ctx: &AppCtx, input: CreateKeyInput) -> Result<NewKey> {
    let key = crate::ops::key_create(ctx, input).await?;
    canary_mark(ctx, &key.id, true).await?;
    let store = ctx.store().await?;
    crate::ops_store::cache_key(ctx, &store, &key.id).await;
    Ok(key)
}

/// Marks (or unmarks) an existing key as a canary (demo mode marks the demo's canary key).
pub async fn canary_mark(ctx: &AppCtx, id: &str, canary: bool) -> Result<KeyMeta> {
    validate_id("key id", id)?;
    let store = ctx.store().await?;
    let id = id.to_string();
    blocking(move || store.set_canary(&id, canary)).await
}

/// DEMO: marks as canaries the cached keys whose name starts with "Canary" (the demo
/// sandbox's traffic plants one). Returns the keys marked.
pub async fn demo_mark_canaries(ctx: &AppCtx) -> Result<Vec<KeyMeta>> {
    let store = ctx.store().await?;
    blocking(move || {
        let mut out = Vec::new();
        for k in store.all_keys()? {
            if k.view.key.name.starts_with("Canary") {
                out.push(store.set_canary(&k.view.key.id, true)?);
            }
        }
        Ok(out)
    })
    .await
}

/// The keys marked as canaries (and keys with an expiry date).
pub async fn key_metas(ctx: &AppCtx) -> Result<Vec<KeyMeta>> {
    let store = ctx.store().await?;
    blocking(move || store.key_metas()).await
}
