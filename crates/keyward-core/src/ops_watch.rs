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
    // key_create caches the new key in the store.
    let key = crate::ops::key_create(ctx, input).await?;
    canary_mark(ctx, &key.id, true).await?;
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

/// A known key that a found secret may belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ScanMatch {
    pub key_id: String,
    pub name: String,
    pub owner_name: Option<String>,
    pub org_code: Option<String>,
    pub user_id: Option<String>,
    pub scopes: Vec<String>,
    pub status: crate::model::KeyStatus,
    pub last_verified_on: Option<DateTime<Utc>>,
    pub gone: bool,
}

/// One secret-shaped string found, and the known keys whose prefix and suffix it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ScanFinding {
    #[serde(flatten)]
    pub hit: crate::scan::SecretHit,
    pub matches: Vec<ScanMatch>,
    /// Exactly one known key matches.
    pub unique: bool,
}

/// What `scan` found. Secrets appear masked only; none was verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ScanReport {
    pub findings: Vec<ScanFinding>,
    pub stats: crate::scan::ScanStats,
    /// Findings that match a known key.
    pub matched: u32,
}

/// Scans files and folders for Kinde key secrets and matches them to the cached keys by
/// prefix (first 6) and suffix (last 4). Never verifies a found secret (that would count as a
/// verification) and never writes one anywhere.
pub async fn scan(
    ctx: &AppCtx,
    paths: Vec<std::path::PathBuf>,
    opts: crate::scan::ScanOptions,
) -> Result<ScanReport> {
    let store = ctx.store().await?;
    blocking(move || {
        let (hits, stats) = crate::scan::scan_paths(&paths, opts)?;
        let keys = if hits.is_empty() {
            Vec::new()
        } else {
            store.all_keys()?
        };
        let mut matched = 0;
        let findings = hits
            .into_iter()
            .map(|hit| {
                let matches: Vec<ScanMatch> = keys
                    .iter()
                    .map(|k| &k.view)
                    .filter(|v| {
                        v.key.key_prefix == hit.key_prefix
                            && v.key.key_suffix.as_deref() == Some(hit.key_suffix.as_str())
                    })
                    .map(|v| ScanMatch {
                        key_id: v.key.id.clone(),
                        name: v.key.name.clone(),
                        owner_name: v.owner_name.clone(),
                        org_code: v.key.org_code.clone(),
                        user_id: v.key.user_id.clone(),
                        scopes: v.key.scopes.clone(),
                        status: v.key.status,
                        last_verified_on: v.key.last_verified_on,
                        gone: v.gone,
                    })
                    .collect();
                if !matches.is_empty() {
                    matched += 1;
                }
                ScanFinding {
                    unique: matches.len() == 1,
                    matches,
                    hit,
                }
            })
            .collect();
        Ok(ScanReport {
            findings,
            stats,
            matched,
        })
    })
    .await
}

/// What to do about a leaked key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum LeakAction {
    /// New secret, same key: the leaked secret stops working at once.
    Rotate,
    /// A new key beside the old one; revoke the old when its clients moved.
    Reissue,
}

/// The outcome of [`leak_remediate`]: the new secret, shown once.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct LeakRemediation {
    pub key_id: String,
    pub action: LeakAction,
    pub new_key: NewKey,
}

/// Rotates or re-issues a key whose secret was found in files, and records the leak (where,
/// masked) and the action in the audit log (`leak`). The caller confirms first.
pub async fn leak_remediate(
    ctx: &AppCtx,
    key_id: &str,
    action: LeakAction,
    found: &[crate::scan::SecretHit],
) -> Result<LeakRemediation> {
    validate_id("key id", key_id)?;
    let result = match action {
        LeakAction::Rotate => crate::ops::key_rotate(ctx, key_id).await,
        LeakAction::Reissue => crate::ops::key_reissue(ctx, key_id, None)
            .await
            .map(|r| r.new_key),
    };
    let places: Vec<serde_json::Value> = found
        .iter()
        .map(|h| serde_json::json!({ "path": h.path, "line": h.line, "masked": h.masked }))
        .collect();
    let (outcome, err) = match &result {
        Ok(_) => (crate::store::AuditOutcome::Ok, None),
        Err(e) if e.code == crate::ErrorCode::Ambiguous => {
            (crate::store::AuditOutcome::Ambiguous, Some(e))
        }
        Err(e) => (crate::store::AuditOutcome::Failed, Some(e)),
    };
    let details = serde_json::json!({
        "found_in": places,
        "action": action,
        "new_key_id": result.as_ref().ok().map(|k| k.id.clone()),
    });
    crate::ops_store::audit_record(
        ctx,
        crate::store::AuditAction::Leak,
        Some(key_id),
        None,
        outcome,
        err,
        details,
    )
    .await;
    Ok(LeakRemediation {
        key_id: key_id.to_string(),
        action,
        new_key: result?,
    })
}
