//! Sync: pulls the profile's keys from Kinde into the local store, one sync per profile at a
//! time across processes, then evaluates the alert rules over what it added. How one run lists,
//! fetches details and writes is in [`engine`]; [`reconcile`] answers ambiguous writes.

mod aimd;
pub mod engine;
pub mod reconcile;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use aimd::Concurrency;

use crate::config::Settings;
use crate::ctx::{AppCtx, blocking};
use crate::error::{Error, Result};
use crate::kinde::RetryBudget;
use crate::model::sync::{
    CONCURRENCY_LIMIT, DEFAULT_MAX_CONCURRENCY, SyncOptions, SyncProgress, SyncRunRecord,
    SyncSummary,
};
use crate::store::{Store, SyncLock, sync_in_progress};

/// Pulls the profile's keys from Kinde into the local store (see [`crate::sync`]), then
/// answers any ambiguous write from what it found.
///
/// One sync per profile at a time, across processes (see [`SyncLock`]): when another sync of
/// the profile is running (the app, another `keyward`), this answers `sync_in_progress` at
/// once and changes nothing. [`run_wait`] waits for it instead.
pub async fn run(
    ctx: &AppCtx,
    opts: SyncOptions,
    progress: impl Fn(SyncProgress) + Send + Sync,
    cancel: CancellationToken,
) -> Result<SyncSummary> {
    run_profile(ctx, opts, &progress, &cancel, false, None).await
}

/// The most tries of one request in [`run_quick`].
pub const QUICK_ATTEMPTS: u32 = 2;

/// The deadline of the whole of [`run_quick`]: Kinde's listing of an idle account takes a
/// second or two; past this, the cache answers.
pub const QUICK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// [`run`] with a short budget for the whole sync ([`QUICK_ATTEMPTS`] tries per request, all
/// within [`QUICK_DEADLINE`]): the live part of a command that can answer from the cache
/// (`keys list`), so that a slow or unreachable Kinde falls back to the cache in seconds, not
/// minutes. The error names the attempts and the deadline.
pub async fn run_quick(
    ctx: &AppCtx,
    opts: SyncOptions,
    progress: impl Fn(SyncProgress) + Send + Sync,
    cancel: CancellationToken,
) -> Result<SyncSummary> {
    let budget = RetryBudget::new(QUICK_ATTEMPTS, QUICK_DEADLINE);
    run_profile(ctx, opts, &progress, &cancel, false, Some(budget)).await
}

/// [`run`], but when another sync of the profile is running, waits for it to end (until
/// `cancel`) and then syncs.
pub async fn run_wait(
    ctx: &AppCtx,
    opts: SyncOptions,
    progress: impl Fn(SyncProgress) + Send + Sync,
    cancel: CancellationToken,
) -> Result<SyncSummary> {
    run_profile(ctx, opts, &progress, &cancel, true, None).await
}

/// [`run`] or [`run_wait`]: the profile's settings into `opts`, the sync, the handover
/// deadlines ([`crate::keys::handover::expire_due`]), then the alert rules. `budget`: one
/// deadline for every request of the sync (none: each request gets the client's own).
async fn run_profile(
    ctx: &AppCtx,
    opts: SyncOptions,
    progress: &(dyn Fn(SyncProgress) + Send + Sync),
    cancel: &CancellationToken,
    wait: bool,
    budget: Option<RetryBudget>,
) -> Result<SyncSummary> {
    let opts = options(&ctx.settings().await?, opts)?;
    let client = ctx.client().await?;
    let client = match budget {
        Some(b) => client.with_budget(b),
        None => client,
    };
    let store = ctx.store().await?;
    let summary = run_store(&client, &store, opts, progress, cancel, wait).await?;
    // Old keys of re-issues whose deadline has passed are revoked now (before the alert rules
    // read the keys).
    if let Err(e) = crate::keys::handover::expire_due(ctx, &store, chrono::Utc::now()).await {
        tracing::warn!(code = %e.code, "handover deadlines: {}", e.message);
    }
    crate::alerts::after_sync(ctx, &store).await;
    crate::history::after_sync(ctx, &store).await;
    Ok(summary)
}

/// How often a waiting sync looks at the lock again, and how long a sync that does not wait
/// keeps trying (a reader of the runs holds the lock for a moment: see [`Store::runs`]).
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(100);

const LOCK_TRIES: u32 = 5;

/// One sync of `client`'s keys into `store` under the profile's sync lock: taken first (or
/// `sync_in_progress`, or waited for when `wait`), then every run still `running` is recorded
/// `interrupted` (its process died: nobody held the lock), then [`engine::run`]. The lock is
/// released when this returns or is dropped, and by the OS when the process dies.
pub async fn run_store(
    client: &crate::kinde::Client,
    store: &Arc<dyn Store>,
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
    let result = engine::run(client, store, opts, progress, cancel).await;
    drop(lock);
    result
}

async fn lock_for_sync(
    store: &Arc<dyn Store>,
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
pub async fn runs(ctx: &AppCtx, limit: u32) -> Result<Vec<SyncRunRecord>> {
    let store = ctx.store().await?;
    blocking(move || store.runs(limit.clamp(1, 1000))).await
}

/// `opts` with the profile's settings where the caller left the defaults: the cap when it is
/// the default cap, the pinned concurrency when none is pinned.
pub fn options(settings: &Settings, opts: SyncOptions) -> Result<SyncOptions> {
    settings.check_sync()?;
    let limit = CONCURRENCY_LIMIT;
    if let Some(c) = opts.concurrency.filter(|c| *c == 0 || *c > limit) {
        return Err(Error::invalid_input(
            "concurrency",
            format!("{c} is outside 1..={limit}"),
            format!("Give a whole number from 1 to {limit}, or none to adapt."),
        ));
    }
    let max_concurrency = if opts.max_concurrency == DEFAULT_MAX_CONCURRENCY {
        settings.sync_max_concurrency
    } else {
        opts.max_concurrency.clamp(1, limit)
    };
    Ok(SyncOptions {
        concurrency: opts.concurrency.or(settings.sync_concurrency),
        max_concurrency,
        ..opts
    })
}
