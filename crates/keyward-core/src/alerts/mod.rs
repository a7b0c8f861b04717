//! Alerts: evaluated after every sync from what it added to the store, then listed,
//! acknowledged and muted; the policy (stale, maximum key age, spikes), local expiry dates and
//! canary marks. The rules themselves are in [`rules`].

pub mod rules;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::ctx::{AppCtx, blocking};
use crate::error::{Error, ErrorCode, Result};
use crate::kinde::validate_id;
use crate::model::alert::{
    Alert, AlertEval, AlertFilter, AlertList, KeyMeta, Mute, MuteTarget, Policy, PolicyView,
};
use crate::store::Store;

/// Called at the end of every sync, after its writes: evaluates the alert rules. Never fails
/// the sync (a failure is logged; the next sync evaluates again).
pub(crate) async fn after_sync(ctx: &AppCtx, store: &Arc<dyn Store>) {
    let policy = match effective_policy(ctx, store).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(code = %e.code, "alert policy unavailable: {}", e.message);
            return;
        }
    };
    let s = Arc::clone(store);
    if let Err(e) =
        blocking(move || s.evaluate_alerts(&rules::Rules { policy: &policy }, Utc::now())).await
    {
        tracing::warn!(code = %e.code, "alert evaluation failed: {}", e.message);
    }
}

async fn effective_policy(ctx: &AppCtx, store: &Arc<dyn Store>) -> Result<Policy> {
    let s = Arc::clone(store);
    match blocking(move || s.policy()).await? {
        Some(p) => Ok(p),
        None => Ok(default_policy(&ctx.settings().await?)),
    }
}

/// Evaluates the alert rules now over the local store (sync does it after every run).
pub async fn evaluate(ctx: &AppCtx) -> Result<AlertEval> {
    let store = ctx.store().await?;
    let policy = effective_policy(ctx, &store).await?;
    blocking(move || store.evaluate_alerts(&rules::Rules { policy: &policy }, Utc::now())).await
}

/// [`evaluate`] before a read (`keyward alerts`): it never waits on another process's write
/// and never fails the read. While another process writes (a sync evaluates when it ends) or
/// the disk is full, it is skipped.
pub async fn evaluate_if_free(ctx: &AppCtx) -> Result<()> {
    let store = ctx.store().await?;
    let policy = effective_policy(ctx, &store).await?;
    let done = blocking(move || {
        crate::store::without_waiting(|| {
            store.evaluate_alerts(&rules::Rules { policy: &policy }, Utc::now())
        })
    })
    .await;
    match done {
        Err(e) if matches!(e.code, ErrorCode::Database | ErrorCode::DiskFull) => {
            tracing::info!(code = %e.code, "alerts not evaluated before the list: {}", e.message);
            Ok(())
        }
        other => other.map(|_| ()),
    }
}

/// Alerts, the most severe first and then the newest, with the count of open high/critical
/// ones.
pub async fn list(ctx: &AppCtx, filter: AlertFilter) -> Result<AlertList> {
    if let Some(k) = &filter.key_id {
        validate_id("key id", k)?;
    }
    let store = ctx.store().await?;
    blocking(move || store.alerts_list(&filter)).await
}

/// Acknowledges an alert.
pub async fn ack(ctx: &AppCtx, id: i64) -> Result<Alert> {
    let store = ctx.store().await?;
    blocking(move || store.alert_ack(id, Utc::now())).await
}

/// Acknowledges several alerts, in order; stops at the first that fails.
pub async fn ack_many(ctx: &AppCtx, ids: &[u32]) -> Result<Vec<Alert>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(ack(ctx, i64::from(*id)).await?);
    }
    Ok(out)
}

/// Mutes a key or a kind (its open alerts too). Returns how many open alerts it muted.
pub async fn mute(ctx: &AppCtx, target: MuteTarget) -> Result<u32> {
    let store = ctx.store().await?;
    if let MuteTarget::Key { key_id } = &target {
        known_key(&store, key_id).await?;
    }
    let n = blocking(move || store.alert_mute(&target, Utc::now())).await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Lifts a mute; `false` when there was none.
pub async fn unmute(ctx: &AppCtx, target: MuteTarget) -> Result<bool> {
    let store = ctx.store().await?;
    blocking(move || store.alert_unmute(&target)).await
}

/// The mutes in force.
pub async fn mutes(ctx: &AppCtx) -> Result<Vec<Mute>> {
    let store = ctx.store().await?;
    blocking(move || store.alert_mutes()).await
}

/// The profile's policy (stored, or the defaults) and the keys' local dates and marks.
pub async fn policy_show(ctx: &AppCtx) -> Result<PolicyView> {
    let store = ctx.store().await?;
    let s = Arc::clone(&store);
    let stored = blocking(move || s.policy()).await?;
    let policy = match stored {
        Some(p) => p,
        None => default_policy(&ctx.settings().await?),
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
pub async fn expires_set(ctx: &AppCtx, id: &str, on: Option<DateTime<Utc>>) -> Result<KeyMeta> {
    let store = ctx.store().await?;
    known_key(&store, id).await?;
    let id = id.to_string();
    blocking(move || store.set_expires_on(&id, on)).await
}

/// Marks (or unmarks) an existing key as a canary (demo mode marks the demo's canary key).
pub async fn canary_mark(ctx: &AppCtx, id: &str, canary: bool) -> Result<KeyMeta> {
    let store = ctx.store().await?;
    known_key(&store, id).await?;
    let id = id.to_string();
    blocking(move || store.set_canary(&id, canary)).await
}

/// Checks that `id` is a well-formed key id that the store knows (from a sync, or a create or
/// rotate through Keyward): a mark, a date or a mute on a mistyped id would never apply to
/// anything (a mistyped canary never trips), so it is `not_found`, with a hint to sync.
async fn known_key(store: &Arc<dyn Store>, id: &str) -> Result<()> {
    validate_id("key id", id)?;
    let (s, key) = (Arc::clone(store), id.to_string());
    let found = blocking(move || s.get_key(&key, Utc::now())).await?;
    if found.is_none() {
        return Err(Error::new(
            ErrorCode::NotFound,
            format!("no key {id} is known here"),
            "Check the id (`keyward keys list --offline`), or run `keyward sync` first if the \
             key was created outside Keyward.",
        ));
    }
    Ok(())
}

/// The keys marked as canaries (and keys with an expiry date).
pub async fn key_metas(ctx: &AppCtx) -> Result<Vec<KeyMeta>> {
    let store = ctx.store().await?;
    blocking(move || store.key_metas()).await
}

/// The policy in force when none is stored: the defaults with the settings' stale and rotation
/// windows.
pub fn default_policy(s: &Settings) -> Policy {
    Policy {
        max_key_age_days: s.rotation_days,
        stale_days: s.stale_days,
        ..Policy::default()
    }
}

#[cfg(test)]
mod tests;
