//! Sync: pulls keys from Kinde into the store, list first.
//!
//! 1. Listing: every page (`page_size` 500, `ceil(N/500)` requests), one transaction each, with
//!    everything the listing carries (name, type, status, prefix, suffix, scopes, api ids,
//!    created on/by, last verified on/ip). A new key, or one whose `last_verified_on`, status,
//!    prefix or suffix changed (every key in a full sync), is marked as owing its details
//!    (`needs_detail`, shown as `details_owed`; its count stays null until fetched, never a
//!    made-up 0). Once the listing is complete, what it did not show is marked gone.
//! 2. Details: the owed ones (`GET /api_keys/{id}`: verification count, owner), with adaptive
//!    concurrency (`sync/aimd.rs`), written in batches as they arrive. A kill or a cancel at any
//!    moment keeps every listed key; the owed details are in the store, so the next sync
//!    fetches only those. An idle incremental sync costs exactly `ceil(N/500)` list requests.
//! 3. Names: owner and API names, fetched only when some key lacks them.
//!
//! Keys missing from a complete listing are marked gone, never deleted. Progress goes to a
//! callback (with the store's change cursor `rev`); a [`CancellationToken`] stops it.

use crate::model::sync::{CONCURRENCY_LIMIT, SyncOptions, SyncPhase, SyncProgress, SyncSummary};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::aimd::Concurrency;

use crate::error::{Error, ErrorCode, Result};
use crate::kinde::{Client, KeysPage, ListKeysQuery, RequestCounts};
use crate::model::key::ApiKey;
use crate::store::{RunProgress, Store};

impl SyncOptions {
    /// The detail concurrency controller these options ask for.
    pub fn controller(&self) -> Concurrency {
        let cap = self.max_concurrency.clamp(1, CONCURRENCY_LIMIT);
        match self.concurrency {
            Some(n) => Concurrency::pinned(n.clamp(1, CONCURRENCY_LIMIT)),
            None => Concurrency::adaptive(cap),
        }
    }
}

/// Runs one sync of `client`'s keys into `store`.
pub async fn run(
    client: &Client,
    store: &Arc<dyn Store>,
    opts: SyncOptions,
    progress: &(dyn Fn(SyncProgress) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<SyncSummary> {
    let started = Instant::now();
    let counts_before = client.request_counts();
    let mode = if opts.full { "full" } else { "incremental" };
    let run_id = blocking(store, move |s| s.run_start(mode, Utc::now())).await?;
    let ctl = opts.controller();
    let mut run = Run {
        id: run_id,
        reconciled: 0,
        changed: HashSet::new(),
        p: RunProgress::default(),
        prog: SyncProgress {
            phase: SyncPhase::Listing,
            pages: 0,
            keys_seen: 0,
            details_done: 0,
            details_total: 0,
            more_pages: true,
            rev: 0,
            concurrency: ctl.limit() as u32,
        },
    };
    let result = sync_all(client, store, opts, ctl, progress, cancel, &mut run).await;
    let requests = diff(client.request_counts(), counts_before);
    run.p.requests = serde_json::to_value(requests).unwrap_or_default();
    run.p.keys_changed = run.changed.len() as i64;
    let duration_ms = started.elapsed().as_millis() as i64;
    let status = match &result {
        Ok(()) if run.p.errors.is_empty() => "ok",
        Ok(()) => "partial",
        Err(e) if e.code == ErrorCode::Cancelled => "cancelled",
        Err(e) => {
            run.p.errors.push(format!("{} ({})", e.message, e.code));
            "failed"
        }
    };
    let finished_at = Utc::now();
    let p = run.p.clone();
    blocking(store, move |s| {
        s.run_update(run_id, &p, Some((status, finished_at, duration_ms)))
    })
    .await?;
    result?;
    let (keys, rev) = blocking(store, |s| {
        let keys = s.key_states()?.values().filter(|k| !k.gone).count() as u64;
        Ok((keys, s.current_rev()?))
    })
    .await?;
    run.prog.phase = SyncPhase::Done;
    run.prog.rev = rev;
    progress(run.prog.clone());
    Ok(SyncSummary {
        run_id,
        mode: mode.to_string(),
        status: status.to_string(),
        keys,
        keys_seen: run.p.keys_seen as u64,
        new: run.p.keys_new as u64,
        changed: run.changed.len() as u64,
        gone: run.p.keys_gone as u64,
        details_fetched: run.p.details_fetched as u64,
        pages: run.prog.pages,
        requests,
        duration_ms: duration_ms as u64,
        errors: run.p.errors,
        reconciled: run.reconciled,
        finished_at,
    })
}

struct Run {
    id: i64,
    reconciled: u32,
    /// Keys whose listing or counters changed in this run.
    changed: HashSet<String>,
    p: RunProgress,
    prog: SyncProgress,
}

async fn sync_all(
    client: &Client,
    store: &Arc<dyn Store>,
    opts: SyncOptions,
    ctl: Concurrency,
    progress: &(dyn Fn(SyncProgress) + Send + Sync),
    cancel: &CancellationToken,
    run: &mut Run,
) -> Result<()> {
    list_all(client, store, opts, progress, cancel, run).await?;
    // The listing is complete: what it did not show is gone, and every key is in the store.
    let id = run.id;
    run.p.keys_gone = blocking(store, move |s| {
        let gone = s.mark_gone(id)?;
        s.run_listed(id, Utc::now())?;
        Ok(gone)
    })
    .await? as i64;
    fetch_details(client, store, ctl, progress, cancel, run).await?;
    run.prog.phase = SyncPhase::Names;
    progress(run.prog.clone());
    if let Err(e) = cancellable(cancel, resolve_names(client, store)).await {
        if e.code == ErrorCode::Cancelled {
            return Err(e);
        }
        run.p
            .errors
            .push(format!("owner and API names: {} ({})", e.message, e.code));
    }
    // The cache now mirrors Kinde: answer any ambiguous write from it.
    let reconciled = blocking(store, |s| s.reconcile_from_cache(Utc::now())).await?;
    run.reconciled = reconciled.len() as u32;
    Ok(())
}

/// The most pages a sync's listing follows (as the client's own listings).
const MAX_LIST_PAGES: u32 = 100_000;

/// The error of a key listing that does not advance.
fn listing_stuck() -> Error {
    Error::new(
        ErrorCode::UnexpectedResponse,
        "Kinde's pagination of API keys did not advance (an empty page with more to come, \
         a repeated key id, or more pages than the cap): the listing is incomplete and no key \
         was marked gone",
        "Try again; if it persists, report it with `keyward sync --json` output.",
    )
}

/// Lists every page, writing each in one transaction while the next is requested.
async fn list_all(
    client: &Client,
    store: &Arc<dyn Store>,
    opts: SyncOptions,
    progress: &(dyn Fn(SyncProgress) + Send + Sync),
    cancel: &CancellationToken,
    run: &mut Run,
) -> Result<()> {
    let query = ListKeysQuery {
        page_size: Some(opts.page_size.clamp(1, 500)),
        ..Default::default()
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut page = cancellable(cancel, list_page(client, &query)).await?;
    progress(run.prog.clone());
    loop {
        run.prog.pages += 1;
        run.prog.more_pages = page.has_more;
        // A listing that does not advance (an empty page that says there is more, a repeated
        // id, more pages than any account has) is an error: it never counts as complete, so
        // nothing is marked gone after it.
        if run.prog.pages > MAX_LIST_PAGES || (page.keys.is_empty() && page.has_more) {
            return Err(listing_stuck());
        }
        let mut keys: Vec<ApiKey> = Vec::with_capacity(page.keys.len());
        for k in page.keys {
            if !seen.insert(k.id.clone()) {
                return Err(listing_stuck());
            }
            keys.push(k);
        }
        run.prog.keys_seen += keys.len() as u64;
        let next_query = match (page.has_more, keys.last()) {
            (true, Some(last)) => Some(ListKeysQuery {
                starting_after: Some(last.id.clone()),
                ..query.clone()
            }),
            _ => None,
        };
        run.p.pages = i64::from(run.prog.pages);
        run.p.keys_seen = run.prog.keys_seen as i64;
        let (id, full) = (run.id, opts.full);
        let p = run.p.clone();
        let write = blocking(store, move |s| {
            let out = s.apply_listing(Some(id), Utc::now(), &keys, full)?;
            let mut p = p;
            p.keys_new += out.new as i64;
            s.run_update(id, &p, None)?;
            Ok(out)
        });
        let next = async {
            match &next_query {
                Some(q) => Some(list_page(client, q).await),
                None => None,
            }
        };
        // The write is not cancelled half-way: a listed page is kept.
        let (out, next) = tokio::join!(write, cancellable(cancel, async { Ok(next.await) }));
        let out = out?;
        run.p.keys_new += out.new as i64;
        run.changed.extend(out.changed);
        run.prog.rev = out.rev;
        progress(run.prog.clone());
        match next? {
            Some(next) => page = next?,
            None => return Ok(()),
        }
    }
}

/// Detail requests that fail in a row (each after its own retry budget) before the sync stops
/// asking: the keys stay owed, and the next sync fetches them.
const DETAIL_FAILURES_TO_STOP: u32 = 3;

/// Details written per transaction (at most; a batch also goes out after [`BATCH_AGE`]).
const BATCH: usize = 250;
const BATCH_AGE: Duration = Duration::from_millis(300);

/// Fetches the details that the store says are owed, with adaptive concurrency, writing them
/// in batches on a writer task (so that the requests never wait for SQLite). On cancel, what
/// has arrived is written before returning.
async fn fetch_details(
    client: &Client,
    store: &Arc<dyn Store>,
    mut ctl: Concurrency,
    progress: &(dyn Fn(SyncProgress) + Send + Sync),
    cancel: &CancellationToken,
    run: &mut Run,
) -> Result<()> {
    let owed = blocking(store, |s| s.owed_details()).await?;
    run.prog.phase = SyncPhase::Details;
    run.prog.details_total = owed.len() as u64;
    run.prog.concurrency = ctl.limit() as u32;
    progress(run.prog.clone());
    if owed.is_empty() {
        return Ok(());
    }
    let writer = Writer::start(Arc::clone(store), run.id);
    let mut pending = owed.into_iter();
    let mut inflight: JoinSet<(String, Duration, Result<ApiKey>)> = JoinSet::new();
    let mut batch: Vec<ApiKey> = Vec::with_capacity(BATCH);
    let mut gone: Vec<String> = Vec::new();
    let mut batch_since = Instant::now();
    let mut throttled_seen = client.throttled_count();
    let mut failed_in_row = 0u32;
    let mut stopped: Option<Error> = None;
    let cancelled = loop {
        while stopped.is_none() && inflight.len() < ctl.limit() {
            let Some(id) = pending.next() else { break };
            let c = client.clone();
            inflight.spawn(async move {
                let t = Instant::now();
                let r = with_retries(&c, |c| {
                    let id = id.clone();
                    async move { c.get_key(&id).await }
                })
                .await;
                (id, t.elapsed(), r)
            });
        }
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => None,
            r = inflight.join_next() => r,
        };
        let Some(joined) = next else {
            break cancel.is_cancelled();
        };
        let (id, rtt, r) = match joined {
            Ok(v) => v,
            // Aborted once the sync stopped asking.
            Err(e) if e.is_cancelled() => continue,
            Err(e) => return Err(Error::internal(format!("detail task failed: {e}"))),
        };
        let throttled = client.throttled_count();
        match &r {
            Err(e) if e.code == ErrorCode::RateLimited => ctl.on_throttled(),
            _ if throttled > throttled_seen => ctl.on_throttled(),
            Ok(_) => ctl.on_success(rtt),
            Err(_) => {}
        }
        throttled_seen = throttled;
        run.prog.details_done += 1;
        run.prog.concurrency = ctl.limit() as u32;
        match r {
            Ok(d) => {
                failed_in_row = 0;
                run.p.details_fetched += 1;
                batch.push(d);
            }
            // Deleted between the listing and the detail.
            Err(e) if e.code == ErrorCode::NotFound => {
                failed_in_row = 0;
                gone.push(id);
            }
            Err(e) => {
                if transient(e.code) {
                    failed_in_row += 1;
                }
                // Kinde stopped answering: the rest stay owed for the next sync, rather than
                // each waiting out its own budget.
                if failed_in_row >= DETAIL_FAILURES_TO_STOP && stopped.is_none() {
                    inflight.abort_all();
                    stopped = Some(e.clone());
                }
                run.p
                    .errors
                    .push(format!("details of {id}: {} ({})", e.message, e.code));
            }
        }
        if batch.len() >= BATCH || (!batch.is_empty() && batch_since.elapsed() >= BATCH_AGE) {
            writer.send(
                std::mem::take(&mut batch),
                std::mem::take(&mut gone),
                &run.p,
            );
            batch_since = Instant::now();
        }
        run.prog.rev = writer.rev();
        progress(run.prog.clone());
    };
    inflight.abort_all();
    if let Some(e) = &stopped {
        let owed = run.prog.details_total.saturating_sub(run.prog.details_done);
        run.p.errors.push(format!(
            "stopped fetching details after {DETAIL_FAILURES_TO_STOP} failures in a row ({}); \
             {owed} details are still owed and the next sync fetches them",
            e.code
        ));
    }
    writer.send(batch, gone, &run.p);
    let out = writer.finish().await?;
    run.changed.extend(out.changed);
    run.p.keys_gone += out.gone as i64;
    run.prog.rev = out.rev;
    tracing::debug!(
        peak = ctl.peak(),
        pinned = ctl.is_pinned(),
        "detail concurrency"
    );
    if cancelled {
        return Err(Error::cancelled());
    }
    Ok(())
}

/// What the writer task did.
#[derive(Default)]
struct Written {
    changed: Vec<String>,
    gone: usize,
    rev: i64,
}

/// The detail writer: batches go to SQLite in order, one transaction each, off the executor.
struct Writer {
    tx: tokio::sync::mpsc::UnboundedSender<(Vec<ApiKey>, Vec<String>, RunProgress)>,
    rev: Arc<std::sync::atomic::AtomicI64>,
    task: tokio::task::JoinHandle<Result<Written>>,
}

impl Writer {
    fn start(store: Arc<dyn Store>, run_id: i64) -> Writer {
        let (tx, mut rx) =
            tokio::sync::mpsc::unbounded_channel::<(Vec<ApiKey>, Vec<String>, RunProgress)>();
        let rev = Arc::new(std::sync::atomic::AtomicI64::new(0));
        let rev2 = Arc::clone(&rev);
        let task = tokio::spawn(async move {
            let mut out = Written::default();
            while let Some((details, gone, p)) = rx.recv().await {
                let (o, n) = blocking(&store, move |s| {
                    let o = s.apply_details(Utc::now(), &details)?;
                    let n = if gone.is_empty() {
                        0
                    } else {
                        s.mark_gone_ids(&gone)?
                    };
                    s.run_update(run_id, &p, None)?;
                    Ok((o, n))
                })
                .await?;
                out.changed.extend(o.changed);
                out.gone += n;
                out.rev = o.rev.max(out.rev);
                rev2.store(out.rev, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(out)
        });
        Writer { tx, rev, task }
    }

    fn send(&self, details: Vec<ApiKey>, gone: Vec<String>, p: &RunProgress) {
        if details.is_empty() && gone.is_empty() {
            return;
        }
        // A closed channel means the writer failed; `finish` returns its error.
        let _ = self.tx.send((details, gone, p.clone()));
    }

    /// The store's change cursor after the latest batch written.
    fn rev(&self) -> i64 {
        self.rev.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn finish(self) -> Result<Written> {
        drop(self.tx);
        self.task
            .await
            .map_err(|e| Error::internal(format!("store writer failed: {e}")))?
    }
}

/// Fills owner and API names of keys that lack them. Sends nothing when none do, so that an
/// idle sync stays at its list requests. A missing scope is permanent: the ids stand in for
/// the names then, so that the next sync does not ask again.
async fn resolve_names(client: &Client, store: &Arc<dyn Store>) -> Result<()> {
    let missing = blocking(store, |s| s.keys_missing_names()).await?;
    if missing.is_empty() {
        return Ok(());
    }
    let need_orgs = missing
        .iter()
        .any(|m| m.user_id.is_none() && m.org_code.is_some());
    let need_users = missing.iter().any(|m| m.user_id.is_some());
    let need_apis = missing.iter().any(|m| !m.api_ids.is_empty());
    let mut first_err: Option<Error> = None;
    let fetch = |r: Result<HashMap<String, String>>, err: &mut Option<Error>| match r {
        Ok(m) => Some(m),
        Err(e) if e.code == ErrorCode::MissingScope => {
            err.get_or_insert(e);
            Some(HashMap::new())
        }
        Err(e) => {
            err.get_or_insert(e);
            None
        }
    };
    let orgs = if need_orgs {
        let r = with_retries(client, |c| async move { c.list_orgs().await }).await;
        fetch(
            r.map(|v| v.into_iter().map(|o| (o.code, o.name)).collect()),
            &mut first_err,
        )
    } else {
        None
    };
    let users = if need_users {
        let r = with_retries(client, |c| async move { c.list_users().await }).await;
        let r = r.map(|v| {
            v.into_iter()
                .map(|u| (u.id.clone(), u.display_name()))
                .collect()
        });
        fetch(r, &mut first_err)
    } else {
        None
    };
    let apis = if need_apis {
        let r = with_retries(client, |c| async move { c.list_apis().await }).await;
        fetch(
            r.map(|v| v.into_iter().map(|a| (a.id, a.name)).collect()),
            &mut first_err,
        )
    } else {
        None
    };
    let names: Vec<(String, Option<String>, Option<String>)> = missing
        .into_iter()
        .map(|m| {
            let owner = match (&m.user_id, &m.org_code) {
                (Some(u), _) => users
                    .as_ref()
                    .map(|us| us.get(u).cloned().unwrap_or(u.clone())),
                (None, Some(o)) => orgs
                    .as_ref()
                    .map(|os| os.get(o).cloned().unwrap_or(o.clone())),
                (None, None) => None,
            };
            let api = m.api_ids.first().and_then(|a| {
                apis.as_ref()
                    .map(|ap| ap.get(a).cloned().unwrap_or(a.clone()))
            });
            (m.id, owner, api)
        })
        .collect();
    blocking(store, move |s| s.set_names(&names)).await?;
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

async fn list_page(client: &Client, q: &ListKeysQuery) -> Result<KeysPage> {
    with_retries(client, |c| {
        let q = q.clone();
        async move { c.list_keys_page(&q).await }
    })
    .await
}

/// Sync-level retries (rate limits and transient failures) within ONE budget with the client's
/// own retries: the call gets [`Client::call_budget`] (at most `1 + max_retries` requests in
/// all, within the client's `retry_deadline` and any deadline of the whole operation), and the
/// client's loop and this one draw attempts from it, so they never multiply.
async fn with_retries<T, F, Fut>(client: &Client, mut f: F) -> Result<T>
where
    F: FnMut(Client) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let budget = client.call_budget();
    let c = client.with_budget(budget.clone());
    let mut retries = 0u32;
    loop {
        match f(c.clone()).await {
            Err(e) if transient(e.code) => {
                let wait = Duration::from_millis(200 * u64::from(retries + 1));
                if !budget.allows(wait) {
                    // The client names the budget when it gave up on it; say it otherwise.
                    return Err(if retries > 0 && !e.message.contains("gave up after") {
                        budget.gave_up(e)
                    } else {
                        e
                    });
                }
                retries += 1;
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

fn transient(c: ErrorCode) -> bool {
    matches!(
        c,
        ErrorCode::RateLimited
            | ErrorCode::ServerError
            | ErrorCode::Timeout
            | ErrorCode::Network
            | ErrorCode::ConnectionRefused
    )
}

async fn cancellable<T>(
    cancel: &CancellationToken,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    if cancel.is_cancelled() {
        return Err(Error::cancelled());
    }
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Error::cancelled()),
        r = f => r,
    }
}

/// Runs a store call on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    f: impl FnOnce(&dyn Store) -> Result<T> + Send + 'static,
) -> Result<T> {
    let s = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(&*s))
        .await
        .map_err(|e| Error::internal(format!("store task failed: {e}")))?
}

fn diff(after: RequestCounts, before: RequestCounts) -> RequestCounts {
    RequestCounts {
        token: after.token.saturating_sub(before.token),
        list: after.list.saturating_sub(before.list),
        detail: after.detail.saturating_sub(before.detail),
        write: after.write.saturating_sub(before.write),
        verify: after.verify.saturating_sub(before.verify),
        other: after.other.saturating_sub(before.other),
        retries: after.retries.saturating_sub(before.retries),
    }
}
