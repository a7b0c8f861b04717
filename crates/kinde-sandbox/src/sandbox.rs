//! A running sandbox: starting one on an address, asking it about itself, driving its data the
//! way a Kinde user or a key's callers would, and stopping it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clients::{ADMIN_CLIENT, ALL_SCOPES, READONLY_CLIENT, read_scopes};
use crate::config::{Config, Seed};
use crate::state::{Settings, Shared};
use crate::stats::Stats;
use crate::{routes, seed, server, store, traffic};

/// A running sandbox. Dropping it stops the server; [`Sandbox::shutdown`] also waits and saves.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    client_id: String,
    client_secret: String,
    cert_pem: Option<String>,
    state_file: Option<PathBuf>,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    traffic: Option<JoinHandle<()>>,
    script: Option<JoinHandle<()>>,
    autosave: Option<JoinHandle<()>>,
}

/// Starts a sandbox on `addr` (use `127.0.0.1:0` for a free port).
pub async fn spawn(addr: SocketAddr, config: Config) -> anyhow::Result<Sandbox> {
    let listener = TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (is another sandbox running? try --listen 127.0.0.1:0)")
    })?;
    let addr = listener.local_addr()?;
    let (cert_pem, acceptor) = if config.tls {
        let (pem, acc) = server::self_signed()?;
        (Some(pem), Some(acc))
    } else {
        (None, None)
    };
    let scheme = if config.tls { "https" } else { "http" };
    let base_url = format!("{scheme}://{addr}");
    let db = store::initial_db(&config)?;
    let settings = Settings {
        rate_limit_per_min: config.rate_limit_per_min,
        latency_ms: config.latency_ms,
        detail_latency_ms: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(
            config.detail_latency_ms,
        )),
        fault_rate: config.fault_rate,
        token_ttl_secs: config.token_ttl_secs,
    };
    let shared = Arc::new(Shared::new(db, base_url, settings, config.rng_seed));
    shared.add_client(ADMIN_CLIENT.0, ADMIN_CLIENT.1, ALL_SCOPES);
    shared.add_client(READONLY_CLIENT.0, READONLY_CLIENT.1, &read_scopes());
    shared.add_client(&config.client_id, &config.client_secret, ALL_SCOPES);
    let (stop, stop_rx) = watch::channel(false);
    let app = routes::router(shared.clone());
    let server = tokio::spawn(server::serve(listener, app, acceptor, stop_rx));
    let traffic = (config.traffic_per_sec > 0.0)
        .then(|| tokio::spawn(traffic::run(shared.clone(), config.traffic_per_sec)));
    // The demo with live traffic also plays the watchtower script (one of each alert).
    let script = (config.traffic_per_sec > 0.0 && config.seed == Seed::Demo).then(|| {
        tokio::spawn(traffic::watchtower_script(
            shared.clone(),
            config.script_step,
            config.script_after_listings.max(1),
        ))
    });
    let autosave = config
        .state_file
        .clone()
        .map(|path| tokio::spawn(store::autosave(shared.clone(), path)));
    Ok(Sandbox {
        shared,
        addr,
        client_id: config.client_id,
        client_secret: config.client_secret,
        cert_pem,
        state_file: config.state_file,
        stop,
        server: Some(server),
        traffic,
        script,
        autosave,
    })
}

impl Sandbox {
    /// `http://127.0.0.1:PORT` (`https://` with TLS). No trailing slash.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The token audience of the Management API: `<base_url>/api`.
    pub fn audience(&self) -> String {
        self.shared.audience()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    pub fn stats(&self) -> Stats {
        self.shared.counters.lock().stats.clone()
    }

    /// Requests by `"<METHOD> <route template>"`, as `GET /_sandbox/stats` shows them.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.shared.counters.lock().requests.clone()
    }

    /// Changes the extra latency of `GET /api/v1/api_keys/{key_id}` while serving (requests
    /// already waiting keep theirs).
    pub fn set_detail_latency_ms(&self, ms: u64) {
        self.shared
            .settings
            .detail_latency_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn reset_stats(&self) {
        *self.shared.counters.lock() = Default::default();
    }

    /// Registers another M2M app that holds only `scopes`.
    pub fn add_client(&self, id: &str, secret: &str, scopes: &[&str]) {
        self.shared.add_client(id, secret, scopes);
    }

    /// Verifies `keys` distinct random active keys once each; returns their ids.
    pub fn simulate_verifications(&self, keys: usize) -> Vec<String> {
        traffic::simulate(&self.shared, keys)
    }

    /// Counts `times` verifications of key `id` from `ip` at `at` (tests and demos: a caller
    /// somewhere, at a chosen time). `false` when the key is unknown or not active.
    pub fn verify_as(
        &self,
        id: &str,
        ip: &str,
        at: chrono::DateTime<chrono::Utc>,
        times: u64,
    ) -> bool {
        traffic::verify_as(&self.shared, id, ip, at, times)
    }

    /// "In the portal": rotates a key as a Kinde user would, outside any Management API client.
    pub fn portal_rotate(&self, id: &str) -> bool {
        traffic::portal_rotate(&self.shared, id)
    }

    /// "In the portal": creates a key (first org and API, first scope) with `created_by`.
    pub fn portal_create(&self, name: &str, created_by: &str) -> Option<String> {
        traffic::portal_create(&self.shared, name, created_by)
    }

    /// Creates `n` keys directly (over generated orgs and users), for benches.
    pub fn add_keys(&self, n: usize) {
        let mut db = self.shared.db.lock();
        seed::extra(&mut db, n, &mut *self.shared.rng.lock());
    }

    /// The PEM of the self-signed certificate when serving TLS.
    pub fn cert_pem(&self) -> Option<String> {
        self.cert_pem.clone()
    }

    /// Writes the data to the state file, if one is configured.
    pub fn save_state(&self) -> anyhow::Result<()> {
        match &self.state_file {
            Some(path) => store::save(&self.shared.db.lock(), path),
            None => Ok(()),
        }
    }

    /// Stops serving, waits for the server to end, and saves the state file if configured.
    pub async fn shutdown(mut self) {
        self.stop_tasks();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some(path) = self.state_file.clone() {
            let db = self.shared.db.lock().clone();
            let saved = tokio::task::spawn_blocking(move || store::save(&db, &path)).await;
            if let Ok(Err(e)) = saved {
                tracing::warn!("could not save the sandbox state: {e:#}");
            }
        }
    }

    fn stop_tasks(&mut self) {
        let _ = self.stop.send(true);
        for t in [
            self.traffic.take(),
            self.script.take(),
            self.autosave.take(),
        ]
        .into_iter()
        .flatten()
        {
            t.abort();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}
