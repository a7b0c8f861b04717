//! Sync: pulls keys from Kinde into the store.
//!
//! - Lists every key with `page_size` 500 and fetches details (`GET /api_keys/{id}`) only for
//!   keys that are new or whose `last_verified_on`, status, prefix or suffix changed (or all of
//!   them in a full sync). An idle incremental sync costs exactly `ceil(N/500)` list requests.
//! - Details run with bounded concurrency; the next page is listed while they run.
//! - One transaction per page: a kill at any moment leaves a consistent database, and the next
//!   sync completes the work (unchanged keys are skipped, owed details are fetched).
//! - Keys missing from a complete listing are marked gone, never deleted.
//! - Owner and API names are fetched only when some key lacks them.
//! - Progress goes to a callback; a [`CancellationToken`] stops it between two requests.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::error::{Error, ErrorCode, Result};
use crate::kinde::{Client, KeysPage, ListKeysQuery, RequestCounts};
use crate::model::ApiKey;
use crate::store::{KeyState, PageEntry, RunProgress, Store};

/// How to sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SyncOptions {
    /// Fetch every key's details, not only the changed ones.
    pub full: bool,
    /// Detail requests in flight at once (default 8).
    pub concurrency: u32,
    /// Keys per list request (default and maximum 500).
    pub page_size: u32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            full: false,
            concurrency: 8,
            page_size: 500,
        }
    }
}

/// Where a sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SyncPhase {
    Listing,
    Names,
    Done,
}

/// Progress of a running sync (pages listed, details done of the total known so far).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SyncProgress {
    pub phase: SyncPhase,
    pub pages: u32,
    #[ts(type = "number")]
    pub keys_seen: u64,
    #[ts(type = "number")]
    pub details_done: u64,
    #[ts(type = "number")]
    pub details_total: u64,
    /// Still to come (`has_more` of the last page).
    pub more_pages: bool,
}

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SyncSummary {
    #[ts(type = "number")]
    pub run_id: i64,
    pub mode: String,
    /// ok | partial (some details could not be fetched; the next sync retries them)
    pub status: String,
    /// Keys in the cache that are not gone.
    #[ts(type = "number")]
    pub keys: u64,
    #[ts(type = "number")]
    pub keys_seen: u64,
    #[ts(type = "number")]
    pub new: u64,
    #[ts(type = "number")]
    pub changed: u64,
    #[ts(type = "number")]
    pub gone: u64,
    #[ts(type = "number")]
    pub details_fetched: u64,
    pub pages: u32,
    /// Requests this client sent during the sync, by kind.
    pub requests: RequestCounts,
    #[ts(type = "number")]
    pub duration_ms: u64,
    pub errors: Vec<String>,
    /// Ambiguous writes answered by this sync (see `keyward audit`).
    pub reconciled: u32,
    pub finished_at: DateTime<Utc>,
}

/// Runs one sync of `client`'s keys into `store`.
pub async fn run_sync(
    client: &Client,
    store: &Arc<Store>,
    opts: SyncOptions,
    progress: &(dyn Fn(SyncProgress) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<SyncSummary> {
    let started = Instant::now();
    let counts_before = client.request_counts();
    let mode = if opts.full { "full" } else { "incremental" };
    let run_id = blocking(store, move |s| s.run_start(mode, Utc::now())).await?;
    let mut run = Run {
        id: run_id,
        reconciled: 0,
        p: RunProgress::default(),
        prog: SyncProgress {
            phase: SyncPhase::Listing,
            pages: 0,
            keys_seen: 0,
            details_done: 0,
            details_total: 0,
            more_pages: true,
        },
    };
    let result = sync_pages(client, store, opts, progress, cancel, &mut run).await;
    let requests = diff(client.request_counts(), counts_before);
    run.p.requests = serde_json::to_value(requests).unwrap_or_default();
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
    let keys = blocking(store, |s| s.key_states())
        .await?
        .values()
        .filter(|k| !k.gone)
        .count() as u64;
    run.prog.phase = SyncPhase::Done;
    progress(run.prog.clone());
    Ok(SyncSummary {
        run_id,
        mode: mode.to_string(),
        status: status.to_string(),
        keys,
        keys_seen: run.p.keys_seen as u64,
        new: run.p.keys_new as u64,
        changed: run.p.keys_changed as u64,
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
    p: RunProgress,
    prog: SyncProgress,
}

async fn sync_pages(
    client: &Client,
    store: &Arc<Store>,
    opts: SyncOptions,
    progress: &(dyn Fn(SyncProgress) + Send + Sync),
    cancel: &CancellationToken,
    run: &mut Run,
) -> Result<()> {
    let states: HashMap<String, KeyState> = blocking(store, |s| s.key_states()).await?;
    let concurrency = opts.concurrency.clamp(1, 64) as usize;
    let mut query = ListKeysQuery {
        page_size: Some(opts.page_size.clamp(1, 500)),
        ..Default::default()
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut page = cancellable(cancel, list_page(client, &query)).await?;
    progress(run.prog.clone());
    loop {
        run.prog.pages += 1;
        run.prog.more_pages = page.has_more;
        let keys: Vec<ApiKey> = page
            .keys
            .into_iter()
            .filter(|k| seen.insert(k.id.clone()))
            .collect();
        let wanted: Vec<usize> = keys
            .iter()
            .enumerate()
            .filter(|(_, k)| opts.full || states.get(&k.id).is_none_or(|s| s.needs_detail_for(k)))
            .map(|(i, _)| i)
            .collect();
        run.prog.keys_seen += keys.len() as u64;
        run.prog.details_total += wanted.len() as u64;
        progress(run.prog.clone());

        let next_query = match (page.has_more, keys.last()) {
            (true, Some(last)) => Some(ListKeysQuery {
                starting_after: Some(last.id.clone()),
                ..query.clone()
            }),
            _ => None,
        };
        let details = fetch_details(client, &keys, &wanted, concurrency, progress, run);
        let next = async {
            match &next_query {
                Some(q) => Some(list_page(client, q).await),
                None => None,
            }
        };
        let (details, next) =
            cancellable(cancel, async { Ok(tokio::join!(details, next)) }).await?;

        run.prog.details_done += details.len() as u64;
        let mut entries: Vec<PageEntry> = Vec::with_capacity(keys.len());
        let mut detailed: HashMap<usize, Result<ApiKey>> = details.into_iter().collect();
        for (i, k) in keys.into_iter().enumerate() {
            match detailed.remove(&i) {
                None => entries.push(PageEntry {
                    key: k,
                    detail: false,
                }),
                Some(Ok(d)) => {
                    run.p.details_fetched += 1;
                    entries.push(PageEntry {
                        key: merge(k, d),
                        detail: true,
                    });
                }
                // Deleted between the listing and the detail: it will be marked gone.
                Some(Err(e)) if e.code == ErrorCode::NotFound => {
                    seen.remove(&k.id);
                }
                Some(Err(e)) => {
                    run.p
                        .errors
                        .push(format!("details of {}: {} ({})", k.id, e.message, e.code));
                    entries.push(PageEntry {
                        key: k,
                        detail: false,
                    });
                }
            }
        }
        let id = run.id;
        let out = blocking(store, move |s| s.apply_page(Some(id), Utc::now(), &entries)).await?;
        run.p.pages = i64::from(run.prog.pages);
        run.p.keys_seen = run.prog.keys_seen as i64;
        run.p.keys_new += out.new as i64;
        run.p.keys_changed += out.changed as i64;
        let p = run.p.clone();
        blocking(store, move |s| s.run_update(id, &p, None)).await?;

        match next {
            Some(next) => {
                page = next?;
                query = next_query.unwrap_or_default();
                if page.keys.is_empty() && page.has_more {
                    return Err(Error::new(
                        ErrorCode::UnexpectedResponse,
                        "Kinde's pagination of API keys did not advance",
                        "Try again; if it persists, report it with `keyward sync --json` output.",
                    ));
                }
            }
            None => break,
        }
    }
    // The listing is complete: what was not seen is gone.
    let id = run.id;
    run.p.keys_gone = blocking(store, move |s| s.mark_gone(id)).await? as i64;
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

/// Fills owner and API names of keys that lack them. Sends nothing when none do, so that an
/// idle sync stays at its list requests. A missing scope is permanent: the ids stand in for
/// the names then, so that the next sync does not ask again.
async fn resolve_names(client: &Client, store: &Arc<Store>) -> Result<()> {
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
        let r = with_retries(|| client.list_orgs()).await;
        fetch(
            r.map(|v| v.into_iter().map(|o| (o.code, o.name)).collect()),
            &mut first_err,
        )
    } else {
        None
    };
    let users = if need_users {
        let r = with_retries(|| client.list_users()).await;
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
        let r = with_retries(|| client.list_apis()).await;
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
    with_retries(|| client.list_keys_page(q)).await
}

/// Detail fetches of `keys[wanted]`, `concurrency` at a time; results by index.
async fn fetch_details(
    client: &Client,
    keys: &[ApiKey],
    wanted: &[usize],
    concurrency: usize,
    progress: &(dyn Fn(SyncProgress) + Send + Sync),
    run: &Run,
) -> Vec<(usize, Result<ApiKey>)> {
    let mut prog = run.prog.clone();
    let mut out = Vec::with_capacity(wanted.len());
    let mut stream = futures::stream::iter(wanted.iter().copied())
        .map(|i| {
            let id = keys[i].id.clone();
            async move { (i, with_retries(|| client.get_key(&id)).await) }
        })
        .buffer_unordered(concurrency);
    while let Some(r) = stream.next().await {
        out.push(r);
        prog.details_done += 1;
        progress(prog.clone());
    }
    out
}

/// Sync-level retries on top of the client's own (rate limits and transient failures).
async fn with_retries<T, F, Fut>(mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 0u32;
    loop {
        match f().await {
            Err(e) if attempt < 3 && transient(e.code) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
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

/// The detail answer, with the listing's fields where the detail lacks them.
fn merge(listed: ApiKey, mut d: ApiKey) -> ApiKey {
    if d.api_ids.is_empty() {
        d.api_ids = listed.api_ids;
    }
    if d.scopes.is_empty() {
        d.scopes = listed.scopes;
    }
    d.created_on = d.created_on.or(listed.created_on);
    d.created_by = d.created_by.or(listed.created_by);
    d.last_verified_ip = d.last_verified_ip.or(listed.last_verified_ip);
    d
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
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
) -> Result<T> {
    let s = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(&s))
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
