//! The operations the CLI and the app call: one async function each, over an [`AppCtx`].
//!
//! Every input check happens before any request. Front ends only adapt arguments and output.
//! Issue-4 operations (sync, history, insights, audit, re-issue, migrations, export) live in
//! `ops_store.rs` and are re-exported from here.

mod names;
mod profile;
mod types;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::ctx::AppCtx;
use crate::doctor::{self, DoctorKeyInput, DoctorReport};
use crate::error::{Error, ErrorCode, Result};
use crate::kinde::{CreateKeyRequest, CreatedKey, ListKeysQuery, validate_id, validate_name};
use crate::model::{Api, ApiKey, KeyFilter, KeyView, Org, Owner, User, VerifyResult};
use crate::secret::Secret;
use crate::store::{AuditAction, AuditOutcome};

pub use crate::ops_store::*;
pub use crate::ops_watch::*;
pub use profile::{
    doctor_connection, profile_add, profile_list, profile_remove, profile_test, settings_get,
    settings_set,
};
pub use types::*;

/// The warning that goes with every new secret.
pub const ONE_TIME_WARNING: &str =
    "Copy this key now: it is shown once and Kinde will not show it again.";

/// Lists keys from the local store after an incremental sync (`offline`: the cache alone).
/// When Kinde is unreachable the cache answers; [`keys_list_cached`] also says how old it is.
pub async fn keys_list(ctx: &AppCtx, filter: &KeyFilter, offline: bool) -> Result<Vec<KeyView>> {
    check_key_filter(filter)?;
    Ok(keys_list_cached(ctx, filter, offline).await?.keys)
}

/// Lists keys straight from Kinde with Kinde's own filters (org, user, status, type), then
/// Keyward's (API, search over name, prefix and suffix), with owner and API names resolved.
/// No store involved; the listing carries no owner unless an owner filter says it.
pub async fn keys_list_live(ctx: &AppCtx, filter: &KeyFilter) -> Result<Vec<KeyView>> {
    check_key_filter(filter)?;
    let client = ctx.client().await?;
    let q = ListKeysQuery {
        key_type: filter.key_type,
        status: filter.status,
        user_id: filter.user_id.clone(),
        org_code: filter.org_code.clone(),
        ..ListKeysQuery::default()
    };
    let keys = client.list_keys_all(&q).await?;
    let settings = ctx.settings().await?;
    let names = names::Names::fetch(&client).await;
    let search = filter.search.as_deref().map(str::to_lowercase);
    let mut out = Vec::new();
    for mut k in keys {
        if let Some(api) = &filter.api_id
            && !k.api_ids.iter().any(|a| a == api)
        {
            continue;
        }
        if let Some(s) = &search
            && !matches_search(&k, s)
        {
            continue;
        }
        // The listing omits the owner; a filter on it tells us.
        if k.org_code.is_none() {
            k.org_code = filter.org_code.clone();
        }
        if k.user_id.is_none() {
            k.user_id = filter.user_id.clone();
        }
        out.push(names.view(k, &settings));
    }
    Ok(out)
}

fn matches_search(k: &ApiKey, needle: &str) -> bool {
    k.name.to_lowercase().contains(needle)
        || k.key_prefix.to_lowercase().contains(needle)
        || k.key_suffix
            .as_deref()
            .is_some_and(|s| s.to_lowercase().contains(needle))
        || k.id.to_lowercase() == needle
}

/// Checks the ids in a key filter (org code, user id, API id) before anything is asked.
pub fn check_key_filter(f: &KeyFilter) -> Result<()> {
    if let Some(o) = &f.org_code {
        validate_id("org code", o)?;
    }
    if let Some(u) = &f.user_id {
        validate_id("user id", u)?;
    }
    if let Some(a) = &f.api_id {
        validate_id("api id", a)?;
    }
    Ok(())
}

/// One key with every field Kinde has (verification count, owner) and names resolved.
pub async fn key_show(ctx: &AppCtx, id: &str) -> Result<KeyView> {
    validate_id("key id", id)?;
    let client = ctx.client().await?;
    let key = client.get_key(id).await?;
    let settings = ctx.settings().await?;
    let names = names::Names::fetch(&client).await;
    Ok(names.view(key, &settings))
}

/// Creates a user or organization key. Checks the name, owner, API id and scopes first, then
/// resolves the scopes (by key or id) against the API's own, then creates.
pub async fn key_create(ctx: &AppCtx, input: CreateKeyInput) -> Result<NewKey> {
    let name = input.name.trim().to_string();
    validate_name(&name)?;
    let owner = match (input.org_code.as_deref(), input.user_id.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid_input(
                "owner",
                "a key belongs to an organization or a user, not both",
                "Give either --org CODE or --user ID.",
            ));
        }
        (None, None) => {
            return Err(Error::invalid_input(
                "owner",
                "a key needs an owner",
                "Give --org CODE for an organization key or --user ID for a user key \
                 (`keyward orgs list`, `keyward users list`).",
            ));
        }
        (Some(o), None) => {
            validate_id("org code", o)?;
            Owner::Organization {
                org_code: o.to_string(),
            }
        }
        (None, Some(u)) => {
            validate_id("user id", u)?;
            Owner::User {
                user_id: u.to_string(),
            }
        }
    };
    validate_id("api id", &input.api_id)?;
    if input.scopes.is_empty() {
        return Err(Error::invalid_input(
            "scopes",
            "a key needs at least one scope",
            "Give --scope for each scope (`keyward apis list` shows each API's scopes).",
        ));
    }
    for s in &input.scopes {
        check_scope_text(s)?;
    }
    let client = ctx.client().await?;
    let api_scopes = client.api_scopes(&input.api_id).await?;
    let mut scope_ids = Vec::new();
    let mut scope_keys = Vec::new();
    for wanted in &input.scopes {
        match api_scopes
            .iter()
            .find(|s| s.id == *wanted || s.key == *wanted)
        {
            Some(s) => {
                if !scope_ids.contains(&s.id) {
                    scope_ids.push(s.id.clone());
                    scope_keys.push(s.key.clone());
                }
            }
            None => {
                let known: Vec<&str> = api_scopes.iter().map(|s| s.key.as_str()).collect();
                return Err(Error::invalid_input(
                    "scope",
                    format!("API {} has no scope {wanted:?}", input.api_id),
                    if known.is_empty() {
                        "This API defines no scopes: add them in Kinde > Settings > APIs > \
                         (the API) > Scopes."
                            .to_string()
                    } else {
                        format!("Use one of this API's scopes: {}.", known.join(", "))
                    },
                ));
            }
        }
    }
    let req = CreateKeyRequest {
        name: name.clone(),
        owner: owner.clone(),
        api_id: input.api_id.clone(),
        scope_ids,
    };
    let details = json!({ "api_id": input.api_id, "scopes": scope_keys, "owner": owner });
    let result = client.create_key(&req).await;
    let id = result.as_ref().ok().map(|c| c.id.as_str());
    audit(
        ctx,
        AuditAction::Create,
        id,
        Some(&name),
        result.as_ref().err(),
        details,
    )
    .await;
    let created = result?;
    // Into the local cache at once (best effort; the next sync would bring it anyway): the
    // leak scan and the alert rules know the key before any sync.
    if let Ok(store) = ctx.store().await {
        crate::ops_store::cache_key(ctx, &store, &created.id).await;
    }
    Ok(NewKey {
        name: Some(name),
        api_id: Some(input.api_id),
        scopes: scope_keys,
        owner: Some(owner),
        ..new_key(created)
    })
}

/// A new secret as the front ends show it, with the one-time warning; the key's name, API,
/// scopes and owner are left for the caller to say.
fn new_key(created: CreatedKey) -> NewKey {
    let (key_prefix, key_suffix) = created.key.prefix_suffix();
    NewKey {
        id: created.id,
        key: created.key,
        key_prefix,
        key_suffix,
        name: None,
        api_id: None,
        scopes: Vec::new(),
        owner: None,
        warning: ONE_TIME_WARNING.to_string(),
    }
}

fn check_scope_text(s: &str) -> Result<()> {
    let hint = "Give a scope key (e.g. `read:invoices`) or a scope id from `keyward apis list`.";
    if s.is_empty() {
        return Err(Error::invalid_input("scope", "is empty", hint));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) || s.chars().count() > 200 {
        return Err(Error::invalid_input(
            "scope",
            format!(
                "{:?} contains whitespace or is too long",
                s.chars().take(40).collect::<String>()
            ),
            hint,
        ));
    }
    Ok(())
}

/// Rotates a key: same id, new secret; the old secret stops working at once.
pub async fn key_rotate(ctx: &AppCtx, id: &str) -> Result<NewKey> {
    validate_id("key id", id)?;
    let client = ctx.client().await?;
    let result = client.rotate_key(id).await;
    audit(
        ctx,
        AuditAction::Rotate,
        Some(id),
        None,
        result.as_ref().err(),
        json!({}),
    )
    .await;
    let created = result?;
    if let Ok(store) = ctx.store().await {
        let key_id = created.id.clone();
        let s = Arc::clone(&store);
        let _ = crate::ctx::blocking(move || s.set_rotated_on(&key_id, Utc::now())).await;
        // The new suffix, cached at once (the leak scan matches by prefix and suffix).
        crate::ops_store::cache_key(ctx, &store, &created.id).await;
    }
    Ok(new_key(created))
}

/// Revokes one or many keys. Every id is checked before any request; then each key is revoked
/// in turn and gets its own outcome. One failure never stops the batch.
pub async fn keys_revoke(ctx: &AppCtx, ids: &[String]) -> Result<RevokeSummary> {
    keys_revoke_with(ctx, ids, |_| {}, CancellationToken::new()).await
}

/// [`keys_revoke`] with progress (one event per key) and cancellation: keys not yet attempted
/// when `cancel` fires get a `cancelled` outcome (the request in flight, if any, finishes).
pub async fn keys_revoke_with(
    ctx: &AppCtx,
    ids: &[String],
    progress: impl Fn(RevokeProgress) + Send + Sync,
    cancel: CancellationToken,
) -> Result<RevokeSummary> {
    if ids.is_empty() {
        return Err(Error::invalid_input(
            "key ids",
            "no key to revoke",
            "Give one or more key ids (`keyward keys list` shows them).",
        ));
    }
    let mut seen = HashSet::new();
    let mut unique = Vec::new();
    for id in ids {
        validate_id("key id", id)?;
        if seen.insert(id.as_str()) {
            unique.push(id.clone());
        }
    }
    let client = ctx.client().await?;
    let total = unique.len() as u32;
    let mut outcomes = Vec::with_capacity(unique.len());
    for (i, id) in unique.iter().enumerate() {
        // A request in flight is never dropped (its outcome would be unknown): cancelling
        // stops before the next key.
        let result = if cancel.is_cancelled() {
            Err(Error::new(
                ErrorCode::Cancelled,
                "not attempted: the batch was cancelled",
                "Run the revoke again for the keys that are left.",
            ))
        } else {
            client.revoke_key(id).await
        };
        if !matches!(&result, Err(e) if e.code == ErrorCode::Cancelled) {
            let err = result.as_ref().err();
            audit(ctx, AuditAction::Revoke, Some(id), None, err, json!({})).await;
        }
        if result.is_ok()
            && let Ok(store) = ctx.store().await
        {
            let key_id = id.clone();
            let _ = crate::ctx::blocking(move || {
                store.set_status(&key_id, crate::model::KeyStatus::Revoked, Utc::now())
            })
            .await;
        }
        let revoked = result.is_ok();
        progress(RevokeProgress {
            done: i as u32 + 1,
            total,
            id: id.clone(),
            revoked,
        });
        outcomes.push(RevokeOutcome {
            id: id.clone(),
            revoked,
            error: result.err(),
        });
    }
    let revoked = outcomes.iter().filter(|o| o.revoked).count() as u32;
    Ok(RevokeSummary {
        requested: total,
        revoked,
        failed: total - revoked,
        outcomes,
    })
}

/// Verifies a key secret with Kinde. This counts as a verification (the result's `note` says
/// so). Surrounding whitespace (a pasted newline) is removed first.
pub async fn key_verify(ctx: &AppCtx, key: &Secret) -> Result<VerifyResult> {
    let cleaned = Secret::new(key.expose().trim().to_string());
    if cleaned.is_empty() {
        return Err(Error::invalid_input(
            "API key",
            "is empty",
            "Paste the key's secret on standard input (it starts with k_live_).",
        ));
    }
    let client = ctx.client().await?;
    let mut r = client.verify_key(&cleaned).await?;
    if r.note.is_empty() {
        r.note = "Verifying counted as one verification of this key in Kinde.".to_string();
    }
    Ok(r)
}

/// Every API with its scopes.
pub async fn apis_list(ctx: &AppCtx) -> Result<Vec<Api>> {
    ctx.client().await?.list_apis().await
}

/// Organizations, optionally filtered by a case-insensitive search over code and name.
pub async fn orgs_list(ctx: &AppCtx, search: Option<&str>) -> Result<Vec<Org>> {
    let orgs = ctx.client().await?.list_orgs().await?;
    Ok(search_filter(orgs, search, |o, s| {
        o.code.to_lowercase().contains(s) || o.name.to_lowercase().contains(s)
    }))
}

/// Users, optionally filtered by a case-insensitive search over id, email and names.
pub async fn users_list(ctx: &AppCtx, search: Option<&str>) -> Result<Vec<User>> {
    let users = ctx.client().await?.list_users().await?;
    Ok(search_filter(users, search, |u, s| {
        [
            Some(u.id.as_str()),
            u.email.as_deref(),
            u.first_name.as_deref(),
            u.last_name.as_deref(),
        ]
        .into_iter()
        .flatten()
        .any(|f| f.to_lowercase().contains(s))
            || u.display_name().to_lowercase().contains(s)
    }))
}

/// The items `matches` the trimmed, lower-cased `search`; all of them without a search (or a
/// blank one).
fn search_filter<T>(
    items: Vec<T>,
    search: Option<&str>,
    matches: impl Fn(&T, &str) -> bool,
) -> Vec<T> {
    let Some(s) = search
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
    else {
        return items;
    };
    items.into_iter().filter(|i| matches(i, &s)).collect()
}

/// The Key doctor: cleans and checks a pasted key, verifies it (one counted verification) and
/// diagnoses scope and organization mismatches.
pub async fn doctor_key(ctx: &AppCtx, input: &DoctorKeyInput) -> Result<DoctorReport> {
    if let Some(s) = &input.require_scope {
        check_scope_text(s)?;
    }
    if let Some(o) = &input.org_code {
        validate_id("org code", o)?;
    }
    let client = ctx.client().await?;
    Ok(doctor::doctor_key(&client, input).await)
}

/// Audits a mutation (see [`audit_record`]) as `ok` without an `error`, else `ambiguous` or
/// `failed` by the error's code; after an ambiguous write, reconciles at once by re-reading
/// Kinde (best effort: the next sync does it otherwise).
async fn audit(
    ctx: &AppCtx,
    action: AuditAction,
    key_id: Option<&str>,
    key_name: Option<&str>,
    error: Option<&Error>,
    details: serde_json::Value,
) {
    let outcome = match error {
        None => AuditOutcome::Ok,
        Some(e) if e.code == ErrorCode::Ambiguous => AuditOutcome::Ambiguous,
        Some(_) => AuditOutcome::Failed,
    };
    audit_record(ctx, action, key_id, key_name, outcome, error, details).await;
    if outcome == AuditOutcome::Ambiguous
        && let Err(e) = reconcile(ctx).await
    {
        tracing::warn!(code = %e.code, "reconcile after an ambiguous write failed: {}", e.message);
    }
}

/// True when `at` is older than `days` days.
pub(crate) fn older_than(at: Option<chrono::DateTime<Utc>>, days: u32) -> bool {
    match at {
        Some(t) => Utc::now() - t > Duration::days(i64::from(days)),
        None => true,
    }
}
