//! kinde-sandbox: a Kinde-compatible Management API server, for tests, demos and manual work.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sb = kinde_sandbox::spawn("127.0.0.1:0".parse()?, kinde_sandbox::Config::default()).await?;
//! println!("{} {} {}", sb.base_url(), sb.client_id(), sb.client_secret());
//! sb.shutdown().await;
//! # Ok(()) }
//! ```

mod auth;
mod http;
mod keys;
mod model;
mod routes;
mod seed;
mod server;
mod state;
mod store;
mod traffic;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use seed::{EMPTY_API_ID, EMPTY_ORG_CODE, EMPTY_USER_ID};
pub use state::{ALL_SCOPES, read_scopes};

use state::{Settings, Shared};

/// The peer address of a connection, put into each request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Which data the sandbox starts with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seed {
    /// No keys; one API (`read:data`, `write:data`), one org and one user to create keys for.
    #[default]
    Empty,
    /// A believable business: 3 APIs, 12 orgs, 40 users, about 150 keys.
    Demo,
}

impl std::str::FromStr for Seed {
    type Err = String;

    /// `empty` or `demo`.
    fn from_str(s: &str) -> Result<Seed, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "empty" => Ok(Seed::Empty),
            "demo" => Ok(Seed::Demo),
            other => Err(format!("unknown seed {other:?}: use empty or demo")),
        }
    }
}

/// How to run a sandbox.
#[derive(Debug, Clone)]
pub struct Config {
    pub seed: Seed,
    /// `--keys N`: this many extra keys spread over generated orgs and users.
    pub extra_keys: usize,
    /// Requests per minute per client (per M2M app; per address for verify).
    pub rate_limit_per_min: Option<u32>,
    /// Added to each Kinde route, with ±50% jitter.
    pub latency_ms: u64,
    /// Added (exactly, no jitter) to `GET /api/v1/api_keys/{key_id}` only, on top of
    /// `latency_ms`: slow details, to watch a list-first sync (default 0).
    pub detail_latency_ms: u64,
    /// Fraction of requests that get a 500, a 503 or a dropped connection.
    pub fault_rate: f64,
    pub token_ttl_secs: u64,
    /// Simulated verifications per second (0 = none).
    pub traffic_per_sec: f64,
    /// The M2M app holding every scope.
    pub client_id: String,
    pub client_secret: String,
    /// Makes data generation and fault dice repeatable. Secrets always come from the OS CSPRNG.
    pub rng_seed: Option<u64>,
    /// Serve https with a self-signed certificate (see [`Sandbox::cert_pem`]).
    pub tls: bool,
    /// Load the data from this file when it exists; save it there every 30 s and on shutdown.
    pub state_file: Option<PathBuf>,
    /// With the demo seed and live traffic: time between the watchtower script's events
    /// (default 30 s; see `traffic::watchtower_script`).
    pub script_step: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: Seed::Empty,
            extra_keys: 0,
            rate_limit_per_min: None,
            latency_ms: 0,
            detail_latency_ms: 0,
            fault_rate: 0.0,
            token_ttl_secs: 3600,
            traffic_per_sec: 0.0,
            client_id: "sandbox-m2m".to_string(),
            client_secret: "sandbox-secret".to_string(),
            rng_seed: None,
            tls: false,
            state_file: None,
            script_step: std::time::Duration::from_secs(30),
        }
    }
}

/// Requests counted by kind. `GET /_sandbox/stats` serves this plus a `requests` map by route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub total: u64,
    pub token: u64,
    pub list_keys: u64,
    pub get_key: u64,
    pub create_key: u64,
    pub rotate_key: u64,
    pub revoke_key: u64,
    pub verify_key: u64,
    pub other: u64,
    pub rate_limited: u64,
}

/// The M2M app with every scope, always present besides the configured one.
pub const ADMIN_CLIENT: (&str, &str) = ("sandbox_admin", "sandbox_admin_secret");
/// The M2M app with only the `read:` scopes.
pub const READONLY_CLIENT: (&str, &str) = ("sandbox_readonly", "sandbox_readonly_secret");

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_parses() {
        assert_eq!("demo".parse::<Seed>(), Ok(Seed::Demo));
        assert_eq!(" Empty ".parse::<Seed>(), Ok(Seed::Empty));
        assert!(
            "full"
                .parse::<Seed>()
                .unwrap_err()
                .contains("empty or demo")
        );
    }
}
