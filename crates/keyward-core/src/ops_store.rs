//! Issue-4 operations over the local store: sync, history, insights, audit, re-issue with a
//! migration window, and export. Re-exported from [`crate::ops`].

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::ctx::{AppCtx, blocking};
use crate::error::{Error, ErrorCode, Result};
use crate::export::{ExportFormat, ExportSummary, ExportWhat, export_to};
use crate::insights::{Insights, InsightsOptions};
use crate::kinde::validate_id;
use crate::model::{KeyFilter, KeyStatus, KeyView};
use crate::store::{
    AuditAction, AuditEntry, AuditFilter, AuditOutcome, Bucket, KeyHistory, NewAudit, PageEntry,
    PrefillOutcome, ReissueLink, Store, SyncLock, SyncRunRecord, Windows, sync_in_progress,
};
use crate::sync::{SyncOptions, SyncProgress, SyncSummary, run_sync};

/// Pulls the profile's keys from Kinde into the local store (see [`crate::sync`]), then
/// answers any ambiguous write from what it found.
///
/// One sync per profile at a time, across processes (see [`SyncLock`]): when another sync of
/// the profile is running (the app, another `keyward`), this answers `sync_in_progress` at
/// once and changes nothing. [`sync_wait`] waits for it instead.
pub async fn sync(
    ctx: &AppCtx,
    opts: SyncOptions,
    progress: impl Fn(SyncProgress) + Send + Sync,
    cancel: CancellationToken,
) -> Result<SyncSummary> {
    let opts = ctx.settings().await?.sync_options(opts)?;
    let client = ctx.client().await?;
    let store = ctx.store().await?;
    let summary = sync_store(&client, &store, opts, &progress, &cancel, false).await?;
    crate::ops_watch::after_sync(ctx, &store).await;
    Ok(summary)
}

/// [`sync`], but when another sync of the profile is running, waits for it to end (until
/// `cancel`) and then syncs.
pub async fn sync_wait(
    ctx: &AppCtx,
    opts: SyncOptions,
    progress: impl Fn(SyncProgress) + Send + Sync,
    cancel: CancellationToken,
) -> Result<SyncSummary> {
    let opts = ctx.settings().await?.sync_options(opts)?;
    let client = ctx.client().await?;
    let store = ctx.store().await?;
    let summary = sync_store(&client, &store, opts, &progress, &cancel, true).await?;
    crate::ops_watch::after_sync(ctx, &store).await;
    Ok(summary)
}

/// How often a waiting sync looks at the lock again, and how long a sync that does not wait
/// keeps trying (a reader of the runs holds the lock for a moment: see [`Store::runs`]).
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(100);
const LOCK_TRIES: u32 = 5;

/// One sync of `client`'s keys into `store` under the profile's sync lock: taken first (or
/// `sync_in_progress`, or waited for when `wait`), then every run still `running` is recorded
/// `interrupted` (its process died: nobody held the lock), then [`run_sync`]. The lock is
/// released when this returns or is dropped, and by the OS when the process dies.
pub async fn sync_store(
    client: &crate::kinde::Client,
    store: &Arc<Store>,
    opts: SyncOptions,
    progress: &(dyn Fn(SyncProgress) + Send + Sync),
    cancel: &CancellationToken,
    wait: bool,
) -> Result<SyncSummary> {
    let lock = lock_for_sync(store, wait, cancel).await?;
    let lock = {
        let s = Arc::clone(store);
        blocking(move || {
            let n = s.runs_interrupt_dead(&lock)?;
            if n > 0 {
                tracing::info!("{n} sync run(s) of a process that died are now interrupted");
            }
            Ok(lock)
        })
        .await?
    };
    let result = run_sync(client, store, opts, progress, cancel).await;
    drop(lock);
    result
}

async fn lock_for_sync(
    store: &Arc<Store>,
    wait: bool,
    cancel: &CancellationToken,
) -> Result<SyncLock> {
    let mut tries = 0u32;
    loop {
        if cancel.is_cancelled() {
            return Err(Error::cancelled());
        }
        let s = Arc::clone(store);
        if let Some(lock) = blocking(move || s.try_lock_sync()).await? {
            return Ok(lock);
        }
        tries += 1;
        if !wait && tries >= LOCK_TRIES {
            return Err(sync_in_progress(store.profile()));
        }
        tokio::select! {
            _ = cancel.cancelled() => return Err(Error::cancelled()),
            _ = tokio::time::sleep(LOCK_POLL) => {}
        }
    }
}

/// The most recent sync runs (newest first). A run whose process died says `interrupted`
/// (see [`Store::runs`]).
pub async fn sync_runs(ctx: &AppCtx, limit: u32) -> Result<Vec<SyncRunRecord>> {
    let store = ctx.store().await?;
    blocking(move || store.runs(limit.clamp(1, 1000))).await
}

/// A key's counters over time and its verifications per hour or day, from the local store.
/// `since` defaults to 48 hours (hourly) or 30 days (daily).
pub async fn key_history(
    ctx: &AppCtx,
    id: &str,
    bucket: Bucket,
    since: Option<DateTime<Utc>>,
) -> Result<KeyHistory> {
    validate_id("key id", id)?;
    let now = Utc::now();
    let since = since.unwrap_or_else(|| match bucket {
        Bucket::Hour => now - Duration::hours(47),
        Bucket::Day => now - Duration::days(29),
    });
    if since > now {
        return Err(Error::invalid_input(
            "since",
            "is in the future",
            "Give a past date, e.g. --since 2026-01-31 or --since 7d.",
        ));
    }
    let limit = match bucket {
        Bucket::Hour => Duration::days(93),
        Bucket::Day => Duration::days(3660),
    };
    if now - since > limit {
        return Err(Error::invalid_input(
            "since",
            "is too far back for this bucket",
            "Use --bucket day for more than 93 days, and at most 10 years.",
        ));
    }
    let store = ctx.store().await?;
    let id = id.to_string();
    blocking(move || store.key_history(&id, bucket, since, now)).await
}

/// What [`demo_prefill_history`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefillSummary {
    pub days: u32,
    /// Keys given a synthesized past.
    pub keys: u32,
    /// Synthesized history rows written (`history.source = 'demo'`).
    pub rows: u64,
    /// Why nothing was written: `has_history` (already prefilled, or the store has a past of
    /// its own) or `not_synced` (no key observed with verifications yet: sync first).
    pub skipped: Option<String>,
}

/// The most days [`demo_prefill_history`] goes back.
pub const DEMO_PREFILL_MAX_DAYS: u32 = 365;

/// DEMO MODE ONLY. Gives the demo sandbox's store a believable past: for every cached key first
/// observed with `verification_count > 0`, made-up hourly history going back `days` days and
/// ending exactly at the key's first observed count and `last_verified_on` (see
/// [`crate::demo`]), written with its daily roll-up (so `key_history`, the 7-day sparklines and
/// insights all show it) in one transaction, marked `history.source = 'demo'`.
///
/// Call it after the demo's first sync. It writes only when the store holds no history older
/// than a day and no earlier demo rows, so a second call does nothing. Refused
/// (`InvalidInput`) for anything but the context of [`AppCtx::for_sandbox`] on its own store:
/// a real profile's history is never touched, whatever its name or environment.
pub async fn demo_prefill_history(ctx: &AppCtx, days: u32) -> Result<PrefillSummary> {
    if !(1..=DEMO_PREFILL_MAX_DAYS).contains(&days) {
        return Err(Error::invalid_input(
            "days",
            format!("{days} is out of range"),
            format!("Give 1 to {DEMO_PREFILL_MAX_DAYS} days (the app uses 30)."),
        ));
    }
    ensure_demo_store(ctx).await?;
    let store = ctx.store().await?;
    let now = Utc::now();
    let outcome = blocking(move || {
        store.prefill_demo_history(now - Duration::days(1), |anchors| {
            crate::demo::synthesize(anchors, now.timestamp_millis(), days)
        })
    })
    .await?;
    let (keys, rows, skipped) = match outcome {
        PrefillOutcome::Written { keys, rows } => (keys, rows, None),
        PrefillOutcome::HasHistory => (0, 0, Some("has_history")),
        PrefillOutcome::NothingToAnchor => (0, 0, Some("not_synced")),
    };
    Ok(PrefillSummary {
        days,
        keys: u32::try_from(keys).unwrap_or(u32::MAX),
        rows: rows as u64,
        skipped: skipped.map(str::to_string),
    })
}

/// `Ok` only for the sandbox context's own profile, whose store is the sandbox database
/// (`data/sandbox/`), apart from every profile's.
async fn ensure_demo_store(ctx: &AppCtx) -> Result<()> {
    let refused = |why: &str| {
        Error::invalid_input(
            "profile",
            format!("demo history is only for the demo sandbox ({why})"),
            "Nothing was written. Synthesized history is for the demo only; a real profile's \
             history comes from `keyward sync`.",
        )
    };
    if !ctx.is_sandbox() {
        return Err(refused("this is a regular profile"));
    }
    if ctx
        .selected_name()
        .is_some_and(|s| s != crate::ctx::SANDBOX_PROFILE)
    {
        return Err(refused("another profile is selected"));
    }
    let profile = ctx.profile().await?;
    if profile.name != crate::ctx::SANDBOX_PROFILE
        || profile.environment != crate::config::Environment::Demo
    {
        return Err(refused("the selected profile is not the demo's"));
    }
    let sandbox_db = ctx
        .paths()
        .data_dir
        .join("sandbox")
        .join(crate::store::DB_FILE);
    if ctx.db_path().await? != sandbox_db {
        return Err(refused("the store is not the sandbox's database"));
    }
    Ok(())
}

/// Totals per org and API, busiest keys, stale keys and keys due for rotation.
pub async fn insights(ctx: &AppCtx, opts: InsightsOptions) -> Result<Insights> {
    let store = ctx.store().await?;
    blocking(move || crate::insights::compute(&store, opts, Utc::now())).await
}

/// [`InsightsOptions`] from the profile's settings (stale and rotation windows).
pub async fn insights_options(ctx: &AppCtx) -> Result<InsightsOptions> {
    let s = ctx.settings().await?;
    Ok(InsightsOptions {
        stale_days: s.stale_days,
        rotation_days: s.rotation_days,
        ..Default::default()
    })
}

/// The audit log, newest first.
pub async fn audit_list(ctx: &AppCtx, filter: AuditFilter) -> Result<Vec<AuditEntry>> {
    if let Some(k) = &filter.key_id {
        validate_id("key id", k)?;
    }
    let store = ctx.store().await?;
    blocking(move || store.audit_list(&filter)).await
}

/// Appends an audit row; the audit log never makes an operation fail (a failure to write it
/// is logged). Called by every mutating operation, whatever its outcome.
pub async fn audit_record(
    ctx: &AppCtx,
    action: AuditAction,
    key_id: Option<&str>,
    key_name: Option<&str>,
    outcome: AuditOutcome,
    error: Option<&Error>,
    details: serde_json::Value,
) {
    let store = match ctx.store().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(code = %e.code, "audit log unavailable: {}", e.message);
            return;
        }
    };
    let (key_id, key_name) = (key_id.map(str::to_string), key_name.map(str::to_string));
    let error = error.cloned();
    let r = blocking(move || {
        let row = NewAudit {
            action,
            key_id: key_id.as_deref(),
            key_name: key_name.as_deref(),
            outcome,
            error: error.as_ref(),
            details,
        };
        store.audit_append(Utc::now(), &row).map(|_| ())
    })
    .await;
    if let Err(e) = r {
        tracing::warn!(code = %e.code, "could not write the audit log: {}", e.message);
    }
}

/// After an ambiguous create, rotate or revoke: re-reads Kinde (an incremental sync) and
/// records what was found, one `reconcile` audit row per ambiguous row.
pub async fn reconcile(ctx: &AppCtx) -> Result<Vec<AuditEntry>> {
    let store = ctx.store().await?;
    let pending = {
        let s = Arc::clone(&store);
        blocking(move || s.ambiguous_pending()).await?
    };
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    // A running sync reconciles too, from its own complete listing; then ours is cheap.
    sync_wait(
        ctx,
        SyncOptions::default(),
        |_| {},
        CancellationToken::new(),
    )
    .await?;
    let filter = AuditFilter {
        action: Some(AuditAction::Reconcile),
        limit: Some(pending.len() as u32),
        ..Default::default()
    };
    blocking(move || store.audit_list(&filter)).await
}

/// The keys that changed since a change cursor (see [`keys_changed_since`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct KeyChanges {
    /// The store's current change cursor: pass it as `since_rev` next time.
    #[ts(type = "number")]
    pub rev: i64,
    /// Every key whose row changed after `since_rev` (gone ones included, `gone: true`).
    pub keys: Vec<KeyView>,
}

/// The keys of the profile's store that changed after `since_rev` (`0`: every key), from the
/// cache alone (no request to Kinde), with the store's current change cursor. A UI keeps the
/// cursor and asks again after a sync (or a `SyncProgress` whose `rev` moved), and applies
/// only the changed rows.
pub async fn keys_changed_since(ctx: &AppCtx, since_rev: i64) -> Result<KeyChanges> {
    let settings = ctx.settings().await?;
    let windows = Windows {
        stale_days: settings.stale_days,
        rotation_days: settings.rotation_days,
    };
    let store = ctx.store().await?;
    let (rev, keys) =
        blocking(move || store.keys_changed_since(since_rev, windows, Utc::now())).await?;
    Ok(KeyChanges { rev, keys })
}

/// The answer of `keys list` from the local store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CachedKeys {
    pub keys: Vec<KeyView>,
    /// When the cache was last synced with Kinde.
    pub synced_at: Option<DateTime<Utc>>,
    /// True when these keys come from the cache alone (offline, or Kinde unreachable).
    pub from_cache_only: bool,
    /// Why Kinde was not asked or did not answer (`offline`, or the sync's error).
    pub warning: Option<Error>,
}

/// `keys list` from the store: an incremental sync first (unless `offline`), then the cache.
/// When Kinde is unreachable the cache answers, with its age and the error as a warning.
pub async fn keys_list_cached(
    ctx: &AppCtx,
    filter: &KeyFilter,
    offline: bool,
) -> Result<CachedKeys> {
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
    let settings = ctx.settings().await?;
    let windows = Windows {
        stale_days: settings.stale_days,
        rotation_days: settings.rotation_days,
    };
    let store = ctx.store().await?;
    let filter = filter.clone();
    let (keys, synced_at) = blocking(move || {
        Ok((
            store.list_keys(&filter, windows, Utc::now())?,
            store.last_sync_at()?,
        ))
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
        sync(
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
            sync_wait(
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

/// Writes keys, history or the audit log of the profile to `path` as CSV or JSON.
pub async fn export(
    ctx: &AppCtx,
    what: ExportWhat,
    format: ExportFormat,
    path: &Path,
) -> Result<ExportSummary> {
    if path.as_os_str().is_empty() {
        return Err(Error::invalid_input(
            "out",
            "is empty",
            "Give a file to write, e.g. --out keys.csv.",
        ));
    }
    let store = ctx.store().await?;
    let path = path.to_path_buf();
    blocking(move || export_to(&store, what, format, &path, Utc::now())).await
}

/// Stores one key as just read from Kinde (after a create or a reissue), best effort.
pub(crate) async fn cache_key(ctx: &AppCtx, store: &Arc<Store>, id: &str) {
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

/// `true` when `status` means the key can still be verified.
pub(crate) fn usable(status: KeyStatus) -> bool {
    status == KeyStatus::Active
}

/// A re-issue: the new key (its secret shown once) and the old → new link.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Reissued {
    pub old_id: String,
    pub new_key: crate::ops::NewKey,
    pub link: ReissueLink,
}

/// Re-issues a key: a new key with the same name, API and owner, and the same scopes or
/// `scopes` (Kinde keys are immutable, so this is also how scopes change). The old key keeps
/// working until it is revoked; `migrations_list` says when that is safe. Audited as
/// `create` (by key_create) and `reissue`, whatever the outcome.
pub async fn key_reissue(ctx: &AppCtx, id: &str, scopes: Option<Vec<String>>) -> Result<Reissued> {
    validate_id("key id", id)?;
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
    let input = crate::ops::CreateKeyInput {
        name: old.name.clone(),
        api_id,
        scopes: scopes.clone(),
        org_code: if old.user_id.is_some() {
            None
        } else {
            old.org_code.clone()
        },
        user_id: old.user_id.clone(),
    };
    let result = crate::ops::key_create(ctx, input).await;
    let now = Utc::now();
    let store = ctx.store().await?;
    let (outcome, err, new_id) = match &result {
        Ok(k) => (AuditOutcome::Ok, None, Some(k.id.clone())),
        Err(e) if e.code == ErrorCode::Ambiguous => (AuditOutcome::Ambiguous, Some(e), None),
        Err(e) => (AuditOutcome::Failed, Some(e), None),
    };
    let details = json!({ "old_id": id, "new_id": new_id, "scopes": scopes });
    audit_record(
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
    };
    {
        let (s, l) = (Arc::clone(&store), link.clone());
        let old = old.clone();
        blocking(move || {
            s.apply_page(
                None,
                now,
                &[PageEntry {
                    key: old,
                    detail: true,
                }],
            )?;
            s.reissue_open(&l.old_id, &l.new_id, l.opened_at, l.old_count_at_open)
        })
        .await?;
    }
    cache_key(ctx, &store, &new_key.id).await;
    Ok(Reissued {
        old_id: id.to_string(),
        new_key,
        link,
    })
}

/// An open re-issue and whether its old key may be revoked yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Migration {
    pub old_id: String,
    pub old_name: Option<String>,
    pub old_status: Option<String>,
    pub new_id: String,
    pub new_status: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub old_last_verified_on: Option<DateTime<Utc>>,
    /// The old key's verifications since the new key was issued.
    #[ts(type = "number")]
    pub old_verifications_since: i64,
    /// The new key's verifications since it was issued (is the new key in use?).
    #[ts(type = "number")]
    pub new_verifications_since: i64,
    pub quiet_days: u32,
    /// The old key has been quiet since this time (issue or last verification, the later).
    pub quiet_since: DateTime<Utc>,
    pub safe_to_revoke: bool,
    pub advice: String,
    /// Kinde could not be asked: figures come from the local cache.
    pub from_cache: bool,
}

/// Open re-issues with the profile's quiet period (`migration_quiet_days`, default 7).
pub async fn migrations_list(ctx: &AppCtx) -> Result<Vec<Migration>> {
    let quiet = ctx.settings().await?.migration_quiet_days;
    migrations_list_with(ctx, quiet).await
}

/// Open re-issues: re-reads both keys of each from Kinde (the cache answers when Kinde cannot),
/// closes those whose old key was revoked elsewhere, and says which old keys are safe to revoke.
pub async fn migrations_list_with(ctx: &AppCtx, quiet_days: u32) -> Result<Vec<Migration>> {
    let store = ctx.store().await?;
    let links = {
        let s = Arc::clone(&store);
        blocking(move || s.reissues(true)).await?
    };
    let mut from_cache = false;
    if !links.is_empty() {
        match ctx.client().await {
            Ok(client) => {
                for l in &links {
                    for id in [&l.old_id, &l.new_id] {
                        match client.get_key(id).await {
                            Ok(k) => {
                                let s = Arc::clone(&store);
                                blocking(move || {
                                    let now = Utc::now();
                                    let revoked = k.status == KeyStatus::Revoked;
                                    let kid = k.id.clone();
                                    s.apply_page(
                                        None,
                                        now,
                                        &[PageEntry {
                                            key: k,
                                            detail: true,
                                        }],
                                    )?;
                                    if revoked {
                                        s.set_status(&kid, KeyStatus::Revoked, now)?;
                                    }
                                    Ok(())
                                })
                                .await?;
                            }
                            Err(e) if e.code == ErrorCode::NotFound => {}
                            Err(_) => from_cache = true,
                        }
                    }
                }
            }
            Err(_) => from_cache = true,
        }
    }
    let now = Utc::now();
    blocking(move || {
        let mut out = Vec::new();
        for l in store.reissues(true)? {
            let old = store.get_key(&l.old_id, Windows::default(), now)?;
            let new = store.get_key(&l.new_id, Windows::default(), now)?;
            let since_count = |v: &Option<KeyView>, base: Option<i64>| -> Result<i64> {
                let id = v.as_ref().map(|v| v.key.id.clone()).unwrap_or_default();
                let counted = v.as_ref().and_then(|v| v.key.verification_count);
                Ok(match (counted, base) {
                    (Some(c), Some(b)) if c >= b => c - b,
                    _ => store.verifications_after(&id, l.opened_at)?,
                })
            };
            let old_since = since_count(&old, l.old_count_at_open)?;
            let new_since = since_count(&new, Some(0))?;
            let old_lvo = old.as_ref().and_then(|v| v.key.last_verified_on);
            let quiet_since = old_lvo.map_or(l.opened_at, |t| t.max(l.opened_at));
            let quiet_for = now - quiet_since;
            let safe = quiet_for >= Duration::days(i64::from(quiet_days));
            let advice = if safe {
                format!(
                    "Safe to revoke: the old key has not been used for {} days. \
                     Run `keyward keys revoke {}`.",
                    quiet_for.num_days(),
                    l.old_id
                )
            } else if old_since > 0 || old_lvo.is_some_and(|t| t > l.opened_at) {
                format!(
                    "Still in use: {old_since} verifications since the new key was issued. \
                     Move the remaining clients to {}.",
                    l.new_id
                )
            } else {
                let left = Duration::days(i64::from(quiet_days)) - quiet_for;
                format!(
                    "Quiet so far; safe to revoke in {} hours if it stays unused.",
                    left.num_hours().max(1)
                )
            };
            out.push(Migration {
                old_name: old.as_ref().map(|v| v.key.name.clone()),
                old_status: old.as_ref().map(|v| v.key.status.as_str().to_string()),
                new_status: new.as_ref().map(|v| v.key.status.as_str().to_string()),
                old_last_verified_on: old_lvo,
                old_verifications_since: old_since,
                new_verifications_since: new_since,
                quiet_days,
                quiet_since,
                safe_to_revoke: safe,
                advice,
                from_cache,
                old_id: l.old_id,
                new_id: l.new_id,
                opened_at: l.opened_at,
            });
        }
        Ok(out)
    })
    .await
}
