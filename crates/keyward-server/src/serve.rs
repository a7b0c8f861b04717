//! `keyward-server serve`: every replica answers `/healthz` and `/metrics`; the one holding
//! the lease syncs every interval with keyward-core's sync (which evaluates the alert rules),
//! then queues what was raised and delivers it.
//!
//! Three tasks share a [`watch`] of the fence (`Some` while this replica leads):
//! - the lease: takes or renews the lease every `renew`, and says `None` at the first renewal
//!   that fails (the lease may lapse: stop at once rather than write as a stale leader);
//! - the scheduler: while leader, syncs now and then every `sync_interval`, cancelling a sync
//!   in flight when the lease is lost; after each sync it wakes the delivery;
//! - the delivery: while leader, queues new alerts after each sync and sends what is due.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use keyward_core::ctx::{AppCtx, blocking};
use keyward_core::error::{Error, ErrorCode, Result};
use keyward_core::kinde::ClientOptions;
use keyward_core::model::key::KeyStatus;
use keyward_core::model::sync::SyncOptions;
use keyward_core::store::Store;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{KindeConfig, ServerConfig};
use crate::deliver::Deliverer;
use crate::http::{Shared, router};
use crate::lease::{self, Fence};
use crate::metrics::{self as m, Metrics};
use crate::pg::{self, PgStore};

/// What a running server exposes to its caller (tests, `main`).
pub struct Running {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    pub done: tokio::task::JoinHandle<Result<()>>,
}

/// Options a test or `main` may set beside the configuration.
#[derive(Clone, Default)]
pub struct ServeOptions {
    /// Kinde client tuning (tests: fast retries).
    pub client: Option<ClientOptions>,
    /// Where the core context keeps its files (default: `$STATE_DIRECTORY`, else the
    /// platform's data directory).
    pub home: Option<std::path::PathBuf>,
    /// This replica's id (default: host, pid and a random part).
    pub replica: Option<String>,
}

/// Opens the database (migrating it), binds the listener and starts the tasks. Returns once
/// the listener is bound; the server runs until `shutdown` is cancelled.
pub async fn start(
    cfg: ServerConfig,
    opts: ServeOptions,
    shutdown: CancellationToken,
) -> Result<Running> {
    let kinde: KindeConfig = cfg.kinde.clone().ok_or_else(|| {
        Error::invalid_input(
            "kinde",
            "is not configured",
            "Set the Kinde domain, client id and secret.",
        )
    })?;
    // HTTPS, or plain HTTP on loopback only: refused before anything is opened.
    let tls = crate::api::tls::prepare(&cfg).await?;
    let profile = kinde.profile.name.clone();
    let url = cfg.database_url.expose().to_string();
    let store = {
        let (url, profile) = (url.clone(), profile.clone());
        blocking(move || PgStore::open(&url, &profile)).await?
    };
    let pool = store.pool().clone();
    // One handle is never dropped: the pool's last handle closes its blocking `postgres`
    // clients, which panics on an async thread (where a task ending would drop it). The
    // process's exit closes the connections.
    std::mem::forget(pool.clone());
    let store: Arc<dyn Store> = Arc::new(store);
    // Where core keeps files (nothing essential: the store is PostgreSQL): systemd's
    // StateDirectory=, else KEYWARD_HOME or the platform's (which needs HOME), else /var/lib.
    let env_set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    let home = opts.home.clone().or_else(|| {
        std::env::var_os("STATE_DIRECTORY")
            .filter(|v| !v.is_empty())
            .map(Into::into)
            .or_else(|| {
                (!env_set("KEYWARD_HOME") && !env_set("HOME"))
                    .then(|| "/var/lib/keyward-server".into())
            })
    });
    let mut ctx = AppCtx::for_server(
        kinde.profile.clone(),
        kinde.client_secret.clone(),
        Arc::clone(&store),
        home,
    )?;
    if let Some(c) = opts.client.clone() {
        ctx = ctx.with_client_options(c);
    }
    let ctx = Arc::new(ctx);
    let replica = opts.replica.clone().unwrap_or_else(lease::replica_id);
    let metrics = Arc::new(Metrics::new());
    let shared = Arc::new(Shared {
        replica: replica.clone(),
        pool: pool.clone(),
        metrics: Arc::clone(&metrics),
        leader: false.into(),
        store: Some(Arc::clone(&store)),
        last_sync_error: std::sync::Mutex::new(None),
        sync_progress: tokio::sync::broadcast::channel(64).0,
    });
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| {
            Error::new(
                ErrorCode::Io,
                format!("cannot listen on {}: {e}", cfg.listen),
                "Choose another address with listen / KEYWARD_SERVER_LISTEN, or stop what uses it.",
            )
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("the listener", &e))?;
    tracing::info!(
        %addr,
        replica = %replica,
        kinde = %kinde.profile.domain,
        database = %cfg.database_url.redacted(),
        tls = tls.is_some(),
        "keyward-server {} listening; syncs every {} s while it leads; {} destination(s)",
        env!("CARGO_PKG_VERSION"),
        cfg.sync_interval.as_secs(),
        cfg.destinations.len()
    );

    let deliverer = Deliverer::new(
        pool.clone(),
        &profile,
        &replica,
        cfg.destinations.clone(),
        cfg.delivery,
        cfg.public_url.clone(),
    );
    let (fence_tx, fence_rx) = watch::channel::<Option<Fence>>(None);
    let wake = Arc::new(Notify::new());

    // The team API (members' tokens, the operations, live events) beside /healthz and /metrics.
    let api = crate::api::Api::start(
        Arc::clone(&ctx),
        Arc::clone(&store),
        pool.clone(),
        profile.clone(),
        shared.sync_progress.clone(),
        shutdown.clone(),
    );
    let app = router(Arc::clone(&shared))
        .merge(crate::api::router(api))
        .into_make_service_with_connect_info::<SocketAddr>();
    let http_stop = shutdown.clone();
    let http = match tls {
        None => tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { http_stop.cancelled().await })
                .await
        }),
        Some(tls) => {
            let std_listener = listener
                .into_std()
                .map_err(|e| Error::io("the listener", &e))?;
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            tokio::spawn(async move {
                http_stop.cancelled().await;
                h.graceful_shutdown(Some(Duration::from_secs(5)));
            });
            tokio::spawn(async move {
                axum_server::from_tcp_rustls(std_listener, tls)
                    .handle(handle)
                    .serve(app)
                    .await
            })
        }
    };
    let lease_task = tokio::spawn(lease_loop(
        pool.clone(),
        replica.clone(),
        cfg.lease,
        Arc::clone(&shared),
        fence_tx,
        shutdown.clone(),
    ));
    let sched = tokio::spawn(scheduler(
        Arc::clone(&ctx),
        Arc::clone(&store),
        cfg.sync_interval,
        Arc::clone(&shared),
        fence_rx.clone(),
        Arc::clone(&wake),
        shutdown.clone(),
    ));
    let deliv = tokio::spawn(delivery_loop(
        deliverer,
        Arc::clone(&store),
        Arc::clone(&metrics),
        fence_rx,
        wake,
        shutdown.clone(),
    ));
    let done = tokio::spawn(async move {
        let _ = sched.await;
        let _ = deliv.await;
        let _ = lease_task.await;
        match http.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::io("the HTTP server", &e)),
            Err(e) => Err(Error::internal(format!("the HTTP task failed: {e}"))),
        }
    });
    Ok(Running { addr, shared, done })
}

/// Takes or renews the lease every `renew`; gives it up on shutdown.
async fn lease_loop(
    pool: pg::Pool,
    replica: String,
    cfg: crate::config::LeaseConfig,
    shared: Arc<Shared>,
    fence_tx: watch::Sender<Option<Fence>>,
    shutdown: CancellationToken,
) {
    loop {
        let (p, r, ttl) = (pool.clone(), replica.clone(), cfg.ttl);
        let got = tokio::time::timeout(
            cfg.renew,
            blocking(move || lease::acquire_or_renew(&mut *pg::get(&p)?, &r, ttl)),
        )
        .await;
        let fence = match got {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                tracing::warn!(code = %e.code, "lease renewal failed: {}", e.message);
                None
            }
            Err(_) => {
                tracing::warn!("lease renewal timed out");
                None
            }
        };
        let was = fence_tx.borrow().clone();
        if was != fence {
            match &fence {
                Some(f) => tracing::info!(epoch = f.epoch, "this replica leads now"),
                None if was.is_some() => tracing::warn!("this replica no longer leads"),
                None => {}
            }
        }
        shared.leader.store(fence.is_some(), Ordering::SeqCst);
        fence_tx.send_replace(fence);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(cfg.renew) => {}
        }
    }
    let held = fence_tx.send_replace(None);
    shared.leader.store(false, Ordering::SeqCst);
    if let Some(f) = held {
        let p = pool.clone();
        let _ = blocking(move || lease::release(&mut *pg::get(&p)?, &f)).await;
        tracing::info!("lease released");
    }
}

/// Resolves when the fence stops being `f` (lost or changed) or on shutdown.
async fn lost(mut rx: watch::Receiver<Option<Fence>>, f: Fence) {
    loop {
        if rx.borrow_and_update().as_ref() != Some(&f) {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Waits until this replica leads (or shutdown: `None`).
async fn leading(
    rx: &mut watch::Receiver<Option<Fence>>,
    shutdown: &CancellationToken,
) -> Option<Fence> {
    loop {
        if let Some(f) = rx.borrow_and_update().clone() {
            return Some(f);
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            r = rx.changed() => if r.is_err() { return None; },
        }
    }
}

async fn scheduler(
    ctx: Arc<AppCtx>,
    store: Arc<dyn Store>,
    interval: Duration,
    shared: Arc<Shared>,
    mut fence_rx: watch::Receiver<Option<Fence>>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let metrics = Arc::clone(&shared.metrics);
    let mut last_start: Option<(Instant, i64)> = None;
    loop {
        let Some(fence) = leading(&mut fence_rx, &shutdown).await else {
            return;
        };
        // A new term syncs at once; the same term waits out the interval.
        if let Some((at, epoch)) = last_start
            && epoch == fence.epoch
        {
            let wait = interval.saturating_sub(at.elapsed());
            if !wait.is_zero() {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = lost(fence_rx.clone(), fence.clone()) => continue,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
        last_start = Some((Instant::now(), fence.epoch));
        let cancel = shutdown.child_token();
        let guard = {
            let c = cancel.clone();
            let rx = fence_rx.clone();
            let f = fence.clone();
            tokio::spawn(async move {
                lost(rx, f).await;
                c.cancel();
            })
        };
        let started = Instant::now();
        let progress = shared.sync_progress.clone();
        let res = keyward_core::sync::run(
            &ctx,
            SyncOptions::default(),
            move |p| {
                let _ = progress.send(p);
            },
            cancel.clone(),
        )
        .await;
        guard.abort();
        *shared
            .last_sync_error
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = res.as_ref().err().cloned();
        let secs = started.elapsed().as_secs_f64();
        metrics.set(m::SYNC_DURATION, m::SYNC_DURATION_HELP, &[], secs);
        match &res {
            Ok(s) => {
                tracing::info!(
                    keys = s.keys,
                    new = s.new,
                    changed = s.changed,
                    gone = s.gone,
                    status = %s.status,
                    "sync finished in {:.2} s",
                    secs
                );
                metrics.add(
                    m::SYNC_RUNS,
                    m::SYNC_RUNS_HELP,
                    &[("outcome", &s.status)],
                    1.0,
                );
                metrics.set(
                    m::SYNC_LAST_FINISHED,
                    m::SYNC_LAST_FINISHED_HELP,
                    &[],
                    chrono::Utc::now().timestamp() as f64,
                );
            }
            Err(e) => {
                tracing::warn!(code = %e.code, "sync failed: {} ({})", e.message, e.hint);
                metrics.add(
                    m::SYNC_RUNS,
                    m::SYNC_RUNS_HELP,
                    &[("outcome", e.code.as_str())],
                    1.0,
                );
                if e.code == ErrorCode::SyncInProgress {
                    // The previous leader's sync still holds the lock: try again soon.
                    last_start = Some((
                        Instant::now() - interval + Duration::from_secs(2),
                        fence.epoch,
                    ));
                }
            }
        }
        record_kinde(&ctx, &metrics).await;
        record_keys(&store, &metrics).await;
        wake.notify_one();
    }
}

async fn record_kinde(ctx: &AppCtx, metrics: &Metrics) {
    let Ok(client) = ctx.client().await else {
        return;
    };
    let c = client.request_counts();
    let samples = [
        ("token", c.token),
        ("list", c.list),
        ("detail", c.detail),
        ("write", c.write),
        ("verify", c.verify),
        ("other", c.other),
        ("retries", c.retries),
    ];
    let rows: Vec<(Vec<(&str, &str)>, f64)> = samples
        .iter()
        .map(|(k, v)| (vec![("kind", *k)], *v as f64))
        .collect();
    metrics.replace_counter(m::KINDE_REQUESTS, m::KINDE_REQUESTS_HELP, &rows);
    let codes = response_codes(&client.status_counts());
    let rows: Vec<(Vec<(&str, &str)>, f64)> = codes
        .iter()
        .map(|(code, n)| (vec![("code", code.as_str())], *n))
        .collect();
    metrics.replace_counter(m::KINDE_RESPONSES, m::KINDE_RESPONSES_HELP, &rows);
    metrics.replace_counter(
        m::KINDE_THROTTLED,
        m::KINDE_THROTTLED_HELP,
        &[(vec![], client.throttled_count() as f64)],
    );
}

/// `keyward_kinde_responses_total`'s `code` labels and values: one per status code seen, and
/// `transport` (always present, 0 while every try got an answer).
fn response_codes(r: &keyward_core::kinde::ResponseCounts) -> Vec<(String, f64)> {
    let mut rows: Vec<(String, f64)> = r
        .by_status
        .iter()
        .map(|(code, n)| (code.to_string(), *n as f64))
        .collect();
    rows.push(("transport".to_string(), r.transport_failures as f64));
    rows
}

async fn record_keys(store: &Arc<dyn Store>, metrics: &Metrics) {
    let s = Arc::clone(store);
    let Ok(keys) = blocking(move || s.all_keys()).await else {
        return;
    };
    let mut by: std::collections::BTreeMap<&'static str, f64> = Default::default();
    for st in [KeyStatus::Active, KeyStatus::Inactive, KeyStatus::Revoked] {
        by.insert(st.as_str(), 0.0);
    }
    let mut gone = 0.0;
    for k in &keys {
        if k.view.gone {
            gone += 1.0;
        } else {
            *by.entry(k.view.key.status.as_str()).or_default() += 1.0;
        }
    }
    let mut rows: Vec<(Vec<(&str, &str)>, f64)> =
        by.iter().map(|(k, v)| (vec![("status", *k)], *v)).collect();
    rows.push((vec![("status", "gone")], gone));
    metrics.replace(m::KEYS, m::KEYS_HELP, &rows);
}

async fn delivery_loop(
    deliverer: Deliverer,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    mut fence_rx: watch::Receiver<Option<Fence>>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut queued_in: Option<i64> = None;
    let mut pending_enqueue = true;
    loop {
        let Some(fence) = leading(&mut fence_rx, &shutdown).await else {
            return;
        };
        if queued_in != Some(fence.epoch) {
            // A new term: queue what the last leader may have left.
            pending_enqueue = true;
            queued_in = Some(fence.epoch);
        }
        if pending_enqueue {
            match deliverer.enqueue_new(&store, Some(&fence)).await {
                Ok(q) => {
                    pending_enqueue = false;
                    for k in &q.kinds {
                        metrics.add(m::ALERTS_RAISED, m::ALERTS_RAISED_HELP, &[("kind", k)], 1.0);
                    }
                    if q.queued > 0 {
                        tracing::info!("{} deliveries queued", q.queued);
                    }
                }
                Err(e) => tracing::warn!(code = %e.code, "queueing alerts failed: {}", e.message),
            }
        }
        let mm = Arc::clone(&metrics);
        let r = deliverer
            .deliver_due(Some(&fence), move |dest, outcome| {
                mm.add(
                    m::DELIVERIES,
                    m::DELIVERIES_HELP,
                    &[("destination", dest), ("outcome", outcome.as_str())],
                    1.0,
                );
            })
            .await;
        if let Err(e) = r {
            tracing::warn!(code = %e.code, "delivering failed: {}", e.message);
        }
        // Sleep until a sync wakes us, or the next retry is due (at most a second).
        let nap = match deliverer.next_due().await {
            Ok(Some(at)) => (at - chrono::Utc::now())
                .to_std()
                .unwrap_or_default()
                .min(Duration::from_secs(1)),
            _ => Duration::from_secs(1),
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = wake.notified() => pending_enqueue = true,
            _ = tokio::time::sleep(nap.max(Duration::from_millis(50))) => {}
        }
    }
}

/// Runs the server until SIGTERM or Ctrl-C (`main`).
pub async fn run(cfg: ServerConfig, opts: ServeOptions) -> Result<()> {
    let shutdown = CancellationToken::new();
    let running = start(cfg, opts, shutdown.clone()).await?;
    let stop = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping");
        stop.cancel();
    });
    running
        .done
        .await
        .map_err(|e| Error::internal(format!("the server task failed: {e}")))?
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
