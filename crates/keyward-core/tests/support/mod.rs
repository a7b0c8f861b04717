//! What keyward-core's integration tests and benches share: a real sandbox on 127.0.0.1:0, a
//! `kinde::Client` and an `AppCtx` for it, a store on a real file, the doctor steps' status,
//! and (in `fake_kinde`) a tiny raw HTTP server for the answers the sandbox does not give on
//! demand.
//!
//! Used by `tests/core` (`mod support;`), `tests/sync_kill.rs` and the benches (through
//! `#[path = "../tests/support/mod.rs"]`).
#![allow(dead_code)]

pub mod fake_kinde;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keyward_core::ctx::AppCtx;
use keyward_core::kinde::{Client, ClientConfig, ClientOptions};
use keyward_core::model::doctor::{DoctorReport, StepStatus};
use keyward_core::model::key::CreateKeyInput;
use keyward_core::model::sync::{SyncOptions, SyncSummary};
use keyward_core::secret::Secret;
use keyward_core::secret::keyring::MemoryStore;
use keyward_core::store::{SqliteStore, Store};
use kinde_sandbox::{Config, EMPTY_API_ID, EMPTY_ORG_CODE, Sandbox};
use tokio_util::sync::CancellationToken;

/// A sandbox on a free loopback port.
pub async fn sandbox(config: Config) -> Sandbox {
    kinde_sandbox::spawn("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("sandbox starts")
}

/// Fast retries for tests (the defaults wait up to seconds).
pub fn fast() -> ClientOptions {
    ClientOptions {
        retry_base_delay: Duration::from_millis(10),
        max_jitter: Duration::from_millis(10),
        ..ClientOptions::default()
    }
}

/// Fast retries, and only one of them.
pub fn one_retry() -> ClientOptions {
    ClientOptions {
        max_retries: 1,
        ..fast()
    }
}

/// The client's configuration for `base` with these credentials (the default timeout).
pub fn config(base: &str, id: &str, secret: &str) -> ClientConfig {
    ClientConfig::new(url::Url::parse(base).unwrap(), id, Secret::new(secret))
}

/// A client for `base`, or the error `Client` refuses this configuration with.
pub fn try_client(base: &str, id: &str, secret: &str) -> keyward_core::Result<Client> {
    Client::new(config(base, id, secret))
}

pub fn client_for(base: &str, id: &str, secret: &str, opts: ClientOptions) -> Client {
    Client::with_options(config(base, id, secret), opts).unwrap()
}

/// A client for `base` that gives up on an answer after `timeout`.
pub fn client_with_timeout(
    base: &str,
    id: &str,
    secret: &str,
    timeout: Duration,
    opts: ClientOptions,
) -> Client {
    let mut cfg = config(base, id, secret);
    cfg.timeout = timeout;
    Client::with_options(cfg, opts).unwrap()
}

/// A loopback port that nobody listens on (connections to it are refused).
pub fn refused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A client of the sandbox's full-scope M2M app, with fast retries.
pub fn client(sb: &Sandbox) -> Client {
    client_for(&sb.base_url(), sb.client_id(), sb.client_secret(), fast())
}

/// A client of the sandbox's full-scope M2M app with the default options, as the app and the
/// CLI make it (the sync tests and benches measure and wait as they do).
pub fn app_client(sb: &Sandbox) -> Client {
    app_client_for(&sb.base_url())
}

/// `app_client` for a sandbox known only by its URL (started with the default credentials).
pub fn app_client_for(base: &str) -> Client {
    let cfg = Config::default();
    try_client(base, &cfg.client_id, &cfg.client_secret).unwrap()
}

/// A sandbox context as the app's demo mode makes it (the default client options), data under
/// `home`.
pub fn sandbox_ctx(sb: &Sandbox, home: &Path) -> AppCtx {
    AppCtx::for_sandbox(
        &sb.base_url(),
        sb.client_id(),
        Secret::new(sb.client_secret()),
        Some(home.to_path_buf()),
    )
    .unwrap()
}

/// A sandbox context with the sandbox's full-scope M2M app and fast retries, data under `home`.
pub fn ctx(sb: &Sandbox, home: &Path) -> AppCtx {
    ctx_as(sb, home, sb.client_id(), sb.client_secret())
}

/// A sandbox context as another M2M app (e.g. `kinde_sandbox::READONLY_CLIENT`).
pub fn ctx_as(sb: &Sandbox, home: &Path, id: &str, secret: &str) -> AppCtx {
    AppCtx::for_sandbox(
        &sb.base_url(),
        id,
        Secret::new(secret),
        Some(home.to_path_buf()),
    )
    .unwrap()
    .with_client_options(fast())
}

/// A context on a scratch KEYWARD home with no profile yet: secrets in `secrets`, none from the
/// environment.
pub fn home_ctx(home: &Path, secrets: Arc<MemoryStore>) -> AppCtx {
    AppCtx::new(Some(home.to_path_buf()), secrets)
        .unwrap()
        .with_env_secret(None)
}

/// A SQLite store on the file `path`, for profile `profile`.
pub fn file_store(path: &Path, profile: &str) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(path, profile).expect("store opens")) as Arc<dyn Store>
}

/// One sync of the context's profile with the default options.
pub async fn sync(ctx: &AppCtx) -> SyncSummary {
    keyward_core::sync::run(
        ctx,
        SyncOptions::default(),
        |_| {},
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

/// `sync`, which must end `ok`.
pub async fn sync_ok(ctx: &AppCtx) -> SyncSummary {
    let s = sync(ctx).await;
    assert_eq!(s.status, "ok", "{:?}", s.errors);
    s
}

/// A key for the sandbox's empty organization on its empty API.
pub fn org_key(name: &str, scopes: &[&str]) -> CreateKeyInput {
    CreateKeyInput {
        name: name.into(),
        api_id: EMPTY_API_ID.into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        org_code: Some(EMPTY_ORG_CODE.into()),
        user_id: None,
    }
}

/// The status of the doctor's step `name` (the test fails if the report has no such step).
pub fn status(r: &DoctorReport, name: &str) -> StepStatus {
    r.steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name} in {r:#?}"))
        .status
}
