//! Keys: list (cached and live), show, create, rotate, re-issue, revoke and verify.
//!
//! Every input is checked before any request; every write to Kinde is audited, whatever its
//! outcome. The rules that decide `stale`, `rotation_due` and what a search matches are in
//! [`rules`]; open re-issues and when their old key is safe to revoke are in [`handover`].

pub mod handover;
mod names;
pub mod rules;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::audit;
use crate::ctx::{AppCtx, blocking};
use crate::error::{Error, ErrorCode, Result};
use crate::kinde::{
    CreateKeyRequest, CreatedKey, ListKeysQuery, validate_id, validate_name, validate_scope,
};
use crate::model::audit::{AuditAction, AuditOutcome};
use crate::model::history::ReissueLink;
use crate::model::key::{
    CachedKeys, CreateKeyInput, KeyChanges, KeyFilter, KeyStatus, KeyView, NewKey, Owner, Reissued,
    RevokeOutcome, RevokeProgress, RevokeSummary, VerifyResult,
};
use crate::model::sync::SyncOptions;
use crate::secret::Secret;
use crate::store::{PageEntry, Store};
use rules::{Search, Windows};

/// The warning that goes with every new secret.
pub const ONE_TIME_WARNING: &str =
    "Copy this key now: it is shown once and Kinde will not show it again.";

/// Lists keys from the local store after an incremental sync (`offline`: the cache alone).
/// When Kinde is unreachable the cache answers; [`list_cached`] also says how old it is.
pub async fn list(ctx: &AppCtx, filter: &KeyFilter, offline: bool) -> Result<Vec<KeyView>> {
    check_filter(filter)?;
    Ok(list_cached(ctx, filter, offline).await?.keys)
}

/// Lists keys straight from Kinde with Kinde's own filters (org, user, status, type), then
/// Keyward's (API, and the search of [`rules::Search`]), with owner and API names resolved.
/// No store involved; the listing carries no owner unless an owner filter says it.
pub async fn list_live(ctx: &AppCtx, filter: &KeyFilter) -> Result<Vec<KeyView>> {
    check_filter(filter)?;
    let client = ctx.client().await?;
    let q = ListKeysQuery {
        key_type: filter.key_type,
        status: filter.status,
        user_id: filter.user_id.clone(),
        org_code: filter.org_code.clone(),
        ..ListKeysQuery::default()
    };
    let keys = client.list_keys_all(&q).await?;
    let windows = Windows::from(&ctx.settings().await?);
    let names = names::Names::fetch(&client).await;
    let search = Search::parse(filter.search.as_deref());
    let now = Utc::now();
    let mut out = Vec::new();
    for mut k in keys {
        if let Some(api) = &filter.api_id
            && !k.api_ids.iter().any(|a| a == api)
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
        let mut v = names.view(k);
        if !search.matches(&v) {
            continue;
        }
        rules::apply(&mut v, windows, now);
        out.push(v);
    }
    Ok(out)
}

/// Checks the ids in a key filter (org code, user id, API id) before anything is asked.
pub fn check_filter(f: &KeyFilter) -> Result<()> {
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
pub async fn show(ctx: &AppCtx, id: &str) -> Result<KeyView> {
    validate_id("key id", id)?;
    let client = ctx.client().await?;
    let key = client.get_key(id).await?;
    let windows = Windows::from(&ctx.settings().await?);
    let names = names::Names::fetch(&client).await;
    let fresh = names.view(key);
    // What only the cache knows (when Keyward rotated it, the 7-day sparkline) stays: the
    // answer is written to the cache and read back, so a view from Kinde never blanks them.
    let mut v = match ctx.store().await {
        Ok(store) => cached_view(&store, &fresh).await.unwrap_or(fresh),
        Err(_) => fresh,
    };
    rules::apply(&mut v, windows, Utc::now());
    Ok(v)
}

/// Writes a key just read from Kinde to the cache and returns the cache's view of it (with
/// `rotated_on` and `spark_7d`), with the owner and API names Kinde resolved (also cached).
async fn cached_view(store: &Arc<dyn Store>, fresh: &KeyView) -> Option<KeyView> {
    let s = Arc::clone(store);
    let fresh = fresh.clone();
    blocking(move || {
        let now = Utc::now();
        let id = fresh.key.id.clone();
        s.apply_page(
            None,
            now,
            &[PageEntry {
                key: fresh.key.clone(),
                detail: true,
            }],
        )?;
        if fresh.owner_name.is_some() || fresh.api_name.is_some() {
            s.set_names(&[(id.clone(), fresh.owner_name.clone(), fresh.api_name.clone())])?;
        }
        s.get_key(&id, now)
    })
    .await
    .ok()
    .flatten()
}

/// Creates a user or organization key. Checks the name, owner, API id and scopes first, then
/// resolves the scopes (by key or id) against the API's own, then creates.
pub async fn create(ctx: &AppCtx, input: CreateKeyInput) -> Result<NewKey> {
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
        validate_scope(s)?;
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
    // The intent first: if it cannot be recorded, nothing is sent.
    let intent =
        audit::intent(ctx, AuditAction::Create, None, Some(&name), details.clone()).await?;
    let result = client
        .create_key(&req)
        .await
        .map_err(answered_without_secret);
    let id = result.as_ref().ok().map(|c| c.id.as_str());
    let mut details = details;
    if let Ok(c) = &result {
        details["suffix"] = json!(c.key.prefix_suffix().1);
    }
    let closed = intent
        .close(ctx, id, Some(&name), result.as_ref().err(), Some(details))
        .await;
    let created = result?;
    // Into the local cache at once (best effort; the next sync would bring it anyway): the
    // leak scan and the alert rules know the key before any sync.
    if let Ok(store) = ctx.store().await {
        crate::keys::cache_key(ctx, &store, &created.id).await;
    }
    Ok(NewKey {
        name: Some(name),
        api_id: Some(input.api_id),
        scopes: scope_keys,
        owner: Some(owner),
        audit_pending: !closed,
        ..new_key(created)
    })
}

/// A create or rotate that Kinde answered with success but without the new key (no `key`, no
/// `api_key`, or not JSON at all) may well have happened: it is `ambiguous` (audited so, and
/// reconciled), never a plain failure.
fn answered_without_secret(e: Error) -> Error {
    if e.code != ErrorCode::UnexpectedResponse {
        return e;
    }
    Error::new(
        ErrorCode::Ambiguous,
        format!(
            "{}: Kinde answered, so the change may have happened, but no secret came back",
            e.message
        ),
        "Run `keyward sync`, then look for the key in `keyward keys list`: if it is there, \
         rotate it to get a secret you hold (`keyward keys rotate ID`); if not, try again.",
    )
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
        audit_pending: false,
    }
}

/// Rotates a key: same id, new secret; the old secret stops working at once.
pub async fn rotate(ctx: &AppCtx, id: &str) -> Result<NewKey> {
    validate_id("key id", id)?;
    let client = ctx.client().await?;
    let name = cached_name(ctx, id).await;
    // The intent first: if it cannot be recorded, nothing is sent.
    let intent = audit::intent(
        ctx,
        AuditAction::Rotate,
        Some(id),
        name.as_deref(),
        json!({}),
    )
    .await?;
    let result = client.rotate_key(id).await.map_err(answered_without_secret);
    let details = result
        .as_ref()
        .ok()
        .map(|c| json!({ "suffix": c.key.prefix_suffix().1 }));
    let closed = intent
        .close(
            ctx,
            Some(id),
            name.as_deref(),
            result.as_ref().err(),
            details,
        )
        .await;
    let created = result?;
    if let Ok(store) = ctx.store().await {
        let key_id = created.id.clone();
        let s = Arc::clone(&store);
        let _ = crate::ctx::blocking(move || s.set_rotated_on(&key_id, Utc::now())).await;
        // The new suffix, cached at once (the leak scan matches by prefix and suffix).
        crate::keys::cache_key(ctx, &store, &created.id).await;
    }
    Ok(NewKey {
        audit_pending: !closed,
        ..new_key(created)
    })
}

/// Revokes one or many keys. Every id is checked before any request; then each key is revoked
/// in turn and gets its own outcome. One failure never stops the batch.
pub async fn revoke(ctx: &AppCtx, ids: &[String]) -> Result<RevokeSummary> {
    revoke_with(ctx, ids, |_| {}, CancellationToken::new()).await
}

/// [`revoke`] with progress (one event per key) and cancellation: keys not yet attempted
/// when `cancel` fires get a `cancelled` outcome (the request in flight, if any, finishes).
pub async fn revoke_with(
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
            let name = cached_name(ctx, id).await;
            // The intent first: if it cannot be recorded, this key's revoke is not sent.
            match audit::intent(
                ctx,
                AuditAction::Revoke,
                Some(id),
                name.as_deref(),
                json!({}),
            )
            .await
            {
                Err(e) => Err(e),
                Ok(intent) => {
                    let result = client.revoke_key(id).await;
                    intent
                        .close(ctx, Some(id), name.as_deref(), result.as_ref().err(), None)
                        .await;
                    result
                }
            }
        };
        if result.is_ok()
            && let Ok(store) = ctx.store().await
        {
            let key_id = id.clone();
            let _ = crate::ctx::blocking(move || {
                store.set_status(&key_id, crate::model::key::KeyStatus::Revoked, Utc::now())
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
pub async fn verify(ctx: &AppCtx, key: &Secret) -> Result<VerifyResult> {
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

/// The keys of the profile's store that changed after `since_rev` (`0`: every key), from the
/// cache alone (no request to Kinde), with the store's current change cursor. A UI keeps the
/// cursor and asks again after a sync (or a `SyncProgress` whose `rev` moved), and applies
/// only the changed rows.
pub async fn changed_since(ctx: &AppCtx, since_rev: i64) -> Result<KeyChanges> {
    let windows = Windows::from(&ctx.settings().await?);
    let store = ctx.store().await?;
    let now = Utc::now();
    let (rev, mut keys) = blocking(move || store.keys_changed_since(since_rev, now)).await?;
    for v in &mut keys {
        rules::apply(v, windows, now);
    }
    Ok(KeyChanges { rev, keys })
}

/// At most this many ids in one [`cached_by_ids`] call.
pub const MAX_BY_IDS: usize = 1000;

/// The cached views of the keys `ids` (at most [`MAX_BY_IDS`]), from the store alone (no request
/// to Kinde), with their flags: what a screen needs to name the keys it shows (audit rows,
/// handovers, mutes, a key's page) without the whole list. In the order asked, each id once;
/// an id the store does not hold is left out.
pub async fn cached_by_ids(ctx: &AppCtx, ids: Vec<String>) -> Result<Vec<KeyView>> {
    if ids.len() > MAX_BY_IDS {
        return Err(Error::invalid_input(
            "ids",
            format!("{} ids asked at once, at most {MAX_BY_IDS}", ids.len()),
            "Ask for the keys on screen, in batches of at most 1000 ids.",
        ));
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let windows = Windows::from(&ctx.settings().await?);
    let store = ctx.store().await?;
    let now = Utc::now();
    let mut seen = HashSet::new();
    let ids: Vec<String> = ids.into_iter().filter(|i| seen.insert(i.clone())).collect();
    let mut keys = blocking(move || {
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(v) = store.get_key(id, now)? {
                out.push(v);
            }
        }
        Ok(out)
    })
    .await?;
    for v in &mut keys {
        rules::apply(v, windows, now);
    }
    Ok(keys)
}

/// `keys list` from the store: an incremental sync first (unless `offline`), then the cache.
/// When Kinde is unreachable the cache answers, with its age and the error as a warning.
pub async fn list_cached(ctx: &AppCtx, filter: &KeyFilter, offline: bool) -> Result<CachedKeys> {
    let mut warning = None;
    if offline {
        warning = Some(Error::new(
            ErrorCode::Offline,
            "offline mode: Kinde was not asked",
            "Run without --offline to refresh it from Kinde.",
        ));
    } else if let Err(e) = sync_for_list(ctx).await {
        if !cache_answers(e.code) {
            return Err(e);
        }
        warning = Some(e);
    }
    let windows = Windows::from(&ctx.settings().await?);
    let store = ctx.store().await?;
    let filter = filter.clone();
    let now = Utc::now();
    let (keys, synced_at) = blocking(move || {
        let search = Search::parse(filter.search.as_deref());
        let mut keys = store.list_keys(&filter, now)?;
        keys.retain(|v| search.matches(v));
        for v in &mut keys {
            rules::apply(v, windows, now);
        }
        Ok((keys, store.last_sync_at()?))
    })
    .await?;
    if warning.is_some() && synced_at.is_none() {
        return Err(warning.map_or_else(
            || Error::internal("no warning"),
            |w| {
                // The cause's own hint first (a TLS failure wants KEYWARD_CA_CERT, a DNS
                // failure the domain's spelling): a sync alone would fail the same way.
                let hint = if offline {
                    "Run `keyward sync` once while Kinde is reachable.".to_string()
                } else {
                    format!(
                        "{} There is no local copy of the keys yet: once Kinde answers, one \
                         `keyward sync` makes `--offline` work.",
                        w.hint
                    )
                };
                Error::new(
                    if offline { ErrorCode::Offline } else { w.code },
                    format!("{}; and there is no local copy of the keys yet", w.message),
                    hint,
                )
            },
        ));
    }
    Ok(CachedKeys {
        keys,
        synced_at,
        from_cache_only: warning.is_some(),
        warning,
    })
}

/// The incremental sync before `keys list`. While another sync runs, the cache answers (with
/// a `sync_in_progress` warning) if it has been synced before; a first sync is waited for.
async fn sync_for_list(ctx: &AppCtx) -> Result<()> {
    let quick = || {
        crate::sync::run_quick(
            ctx,
            SyncOptions::default(),
            |_| {},
            CancellationToken::new(),
        )
    };
    match quick().await {
        Err(e) if e.code == ErrorCode::SyncInProgress => {
            let store = ctx.store().await?;
            let synced = blocking(move || store.last_sync_at()).await?;
            if synced.is_some() {
                return Err(e);
            }
            crate::sync::run_wait(
                ctx,
                SyncOptions::default(),
                |_| {},
                CancellationToken::new(),
            )
            .await
            .map(|_| ())
        }
        r => r.map(|_| ()),
    }
}

/// Errors after which `keys list` answers from the cache, with the error as a warning:
/// Kinde unreachable, or another sync running.
fn cache_answers(c: ErrorCode) -> bool {
    matches!(
        c,
        ErrorCode::SyncInProgress
            | ErrorCode::Dns
            | ErrorCode::Tls
            | ErrorCode::ConnectionRefused
            | ErrorCode::Timeout
            | ErrorCode::Network
            | ErrorCode::ServerError
            | ErrorCode::RateLimited
            | ErrorCode::Offline
    )
}

/// Stores one key as just read from Kinde (after a create or a reissue), best effort.
pub(crate) async fn cache_key(ctx: &AppCtx, store: &Arc<dyn Store>, id: &str) {
    let Ok(client) = ctx.client().await else {
        return;
    };
    if let Ok(k) = client.get_key(id).await {
        let s = Arc::clone(store);
        let _ = blocking(move || {
            s.apply_page(
                None,
                Utc::now(),
                &[PageEntry {
                    key: k,
                    detail: true,
                }],
            )
        })
        .await;
    }
}

/// The key's name as the cache knows it (for the audit log), if it is known.
async fn cached_name(ctx: &AppCtx, id: &str) -> Option<String> {
    let store = ctx.store().await.ok()?;
    let id = id.to_string();
    blocking(move || store.get_key(&id, Utc::now()))
        .await
        .ok()
        .flatten()
        .map(|v| v.key.name)
}

/// `true` when `status` means the key can still be verified.
pub(crate) fn usable(status: KeyStatus) -> bool {
    status == KeyStatus::Active
}

/// What a re-issued key is called: the old key's name and the day of the re-issue,
/// `Billing (re-issued 2026-12-07)`, so that the two keys can be told apart in Kinde and in
/// Keyward. A name that already says it was re-issued gets the new date instead of a second
/// one; a name too long for Kinde is shortened before the mark.
pub fn reissued_name(old: &str, at: chrono::DateTime<Utc>) -> String {
    const MARK: &str = " (re-issued ";
    let base = match old.rfind(MARK) {
        Some(i) if old.ends_with(')') && old.len() - i == MARK.len() + 11 => &old[..i],
        _ => old,
    };
    let mark = format!("{MARK}{})", at.format("%Y-%m-%d"));
    let room = 255usize.saturating_sub(mark.chars().count());
    let base: String = base.trim_end().chars().take(room).collect();
    format!("{}{mark}", base.trim_end())
}

/// The longest time an old key may keep working after a roll: Keyward revokes it at a sync,
/// so a deadline further out is a reminder better kept in a calendar.
pub const OLD_KEY_MAX_DAYS: i64 = 30;

/// How long the old key keeps working after a roll, as typed: `now` (an in-place rotate:
/// `None`), Stripe's `1h`, `24h`, `3d`, `7d`, or any whole number of minutes, hours, days or
/// weeks (`90m`, `2d`, `1w`) up to [`OLD_KEY_MAX_DAYS`] days.
pub fn parse_old_key_expires(s: &str) -> Result<Option<chrono::Duration>> {
    let t = s.trim().to_ascii_lowercase();
    let bad = |why: &str| {
        Error::invalid_input(
            "old key expires",
            format!("{s:?} {why}"),
            format!(
                "Give now, 1h, 24h, 3d or 7d, or a duration such as 90m or 2d (at most \
                 {OLD_KEY_MAX_DAYS}d)."
            ),
        )
    };
    if t == "now" || t == "0" {
        return Ok(None);
    }
    let Some(unit) = t.chars().last() else {
        return Err(bad("is empty"));
    };
    let number = &t[..t.len() - unit.len_utf8()];
    let n: i64 = match number.trim().parse() {
        Ok(n) if n > 0 && !number.starts_with('+') => n,
        _ => return Err(bad("is not a duration")),
    };
    let d = match unit {
        'm' => chrono::Duration::try_minutes(n),
        'h' => chrono::Duration::try_hours(n),
        'd' => chrono::Duration::try_days(n),
        'w' => chrono::Duration::try_weeks(n),
        _ => return Err(bad("has no unit (m, h, d or w)")),
    }
    .ok_or_else(|| bad("is too long"))?;
    if d > chrono::Duration::days(OLD_KEY_MAX_DAYS) {
        return Err(bad("is too long"));
    }
    Ok(Some(d))
}

/// What a re-issue may change: the scopes (default: the old key's), the new key's name
/// (default: [`reissued_name`]), and how long the old key keeps working (default: until it is
/// revoked; with a deadline, the first sync after it revokes the old key).
#[derive(Debug, Clone, Default)]
pub struct ReissueOptions {
    pub scopes: Option<Vec<String>>,
    pub name: Option<String>,
    pub old_key_expires: Option<chrono::Duration>,
}

/// Re-issues a key with the old key's scopes (or `scopes`) and the re-issued name, the old
/// key working until it is revoked: [`reissue_with`] with only the scopes.
pub async fn reissue(ctx: &AppCtx, id: &str, scopes: Option<Vec<String>>) -> Result<Reissued> {
    reissue_with(
        ctx,
        id,
        ReissueOptions {
            scopes,
            ..ReissueOptions::default()
        },
    )
    .await
}

/// Re-issues a key: a new key named after the old one (see [`reissued_name`]) or as `name`,
/// with the same API and owner, and the same scopes or `scopes` (Kinde keys are immutable, so
/// this is also how scopes change). The old key keeps working until it is revoked, or until
/// the first sync after `old_key_expires` from now ([`handover::expire_due`]); `handover::list`
/// says when a revoke is safe. Audited as `create` (by [`create`]) and `reissue` (naming the
/// new key and the deadline), whatever the outcome.
pub async fn reissue_with(ctx: &AppCtx, id: &str, opts: ReissueOptions) -> Result<Reissued> {
    let ReissueOptions {
        scopes,
        name,
        old_key_expires,
    } = opts;
    validate_id("key id", id)?;
    let name = name.map(|n| n.trim().to_string());
    if let Some(n) = &name {
        validate_name(n)?;
    }
    if let Some(d) = old_key_expires
        && (d <= chrono::Duration::zero() || d > chrono::Duration::days(OLD_KEY_MAX_DAYS))
    {
        return Err(Error::invalid_input(
            "old key expires",
            format!(
                "{} minutes is outside 1 minute..={OLD_KEY_MAX_DAYS} days",
                d.num_minutes()
            ),
            "Give now, 1h, 24h, 3d or 7d, or a duration such as 90m or 2d.",
        ));
    }
    let client = ctx.client().await?;
    let old = client.get_key(id).await?;
    if !usable(old.status) {
        return Err(Error::invalid_input(
            "key",
            format!("{id} is {}", old.status.as_str()),
            "Only an active key can be re-issued; create a new key with `keyward keys create`.",
        ));
    }
    let Some(api_id) = old.api_ids.first().cloned() else {
        return Err(Error::new(
            ErrorCode::UnexpectedResponse,
            format!("Kinde did not say which API key {id} belongs to"),
            "Create the replacement with `keyward keys create` and revoke this key yourself.",
        ));
    };
    if old.user_id.is_none() && old.org_code.is_none() {
        return Err(Error::invalid_input(
            "key",
            format!("{id} belongs to neither a user nor an organization"),
            "Keyward re-issues user and organization keys only.",
        ));
    }
    let scopes = scopes.unwrap_or_else(|| old.scopes.clone());
    let input = crate::model::key::CreateKeyInput {
        name: name.unwrap_or_else(|| reissued_name(&old.name, Utc::now())),
        api_id,
        scopes: scopes.clone(),
        org_code: if old.user_id.is_some() {
            None
        } else {
            old.org_code.clone()
        },
        user_id: old.user_id.clone(),
    };
    // The request to Kinde is the create, whose own intent is written before it is sent
    // (nothing is sent if it cannot be); the re-issue row links old and new keys after it.
    let store = ctx.store().await?;
    let result = crate::keys::create(ctx, input).await;
    let now = Utc::now();
    let (outcome, err, new_id) = match &result {
        Ok(k) => (AuditOutcome::Ok, None, Some(k.id.clone())),
        Err(e) if e.code == ErrorCode::Ambiguous => (AuditOutcome::Ambiguous, Some(e), None),
        Err(e) => (AuditOutcome::Failed, Some(e), None),
    };
    let new_name = result.as_ref().ok().and_then(|k| k.name.clone());
    // To the millisecond, as the store keeps it.
    let old_expires_at = old_key_expires.map(|d| chrono::SubsecRound::trunc_subsecs(now + d, 3));
    let details = json!({
        "old_id": id,
        "new_id": new_id,
        "new_name": new_name,
        "scopes": scopes,
        "old_expires_at": old_expires_at,
    });
    audit::record(
        ctx,
        AuditAction::Reissue,
        Some(id),
        Some(&old.name),
        outcome,
        err,
        details,
    )
    .await;
    let new_key = result?;
    let link = ReissueLink {
        old_id: id.to_string(),
        new_id: new_key.id.clone(),
        opened_at: now,
        closed_at: None,
        old_count_at_open: old.verification_count,
        old_expires_at,
    };
    // The new key exists at Kinde and its secret is in hand: a failure to keep the link
    // locally is logged, never returned (that would lose the one-time secret).
    {
        let (s, l) = (Arc::clone(&store), link.clone());
        let old = old.clone();
        let kept = blocking(move || {
            s.apply_page(
                None,
                now,
                &[PageEntry {
                    key: old,
                    detail: true,
                }],
            )?;
            s.reissue_open(&l.old_id, &l.new_id, l.opened_at, l.old_count_at_open)?;
            if l.old_expires_at.is_some() {
                s.reissue_set_deadline(&l.old_id, &l.new_id, l.old_expires_at)?;
            }
            Ok(())
        })
        .await;
        if let Err(e) = kept {
            tracing::warn!(
                code = %e.code,
                "could not keep the re-issue link of {id} locally: {}",
                e.message
            );
        }
    }
    cache_key(ctx, &store, &new_key.id).await;
    Ok(Reissued {
        old_id: id.to_string(),
        new_key,
        link,
    })
}

/// Creates a normal Kinde key (see [`crate::keys::create`]) and marks it locally as a
/// canary: any verification of it is a critical alert. The secret is shown once.
pub async fn create_canary(ctx: &AppCtx, input: CreateKeyInput) -> Result<NewKey> {
    // `create` caches the new key in the store.
    let mut key = crate::keys::create(ctx, input).await?;
    // The key exists and its secret is in hand: a failed mark is said beside the secret,
    // never returned (that would lose the one-time secret).
    if let Err(e) = crate::alerts::canary_mark(ctx, &key.id, true).await {
        tracing::warn!(code = %e.code, "could not mark {} as a canary: {}", key.id, e.message);
        key.warning = format!(
            "{} It could NOT be marked as a canary ({}): run `keyward sync`, then `keyward \
             canary mark {}`.",
            key.warning, e.message, key.id
        );
    }
    Ok(key)
}
