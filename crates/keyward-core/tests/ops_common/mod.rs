//! Shared by the ops tests: a real sandbox on 127.0.0.1:0 and an `AppCtx` on it.
#![allow(dead_code)]

use std::time::Duration;

use keyward_core::ctx::AppCtx;
use keyward_core::kinde::ClientOptions;
use keyward_core::secret::Secret;
use kinde_sandbox::{Config, Sandbox};

pub async fn sandbox(config: Config) -> Sandbox {
    kinde_sandbox::spawn("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("sandbox starts")
}

pub fn fast() -> ClientOptions {
    ClientOptions {
        retry_base_delay: Duration::from_millis(10),
        max_jitter: Duration::from_millis(10),
        ..ClientOptions::default()
    }
}

/// A sandbox context with the sandbox's full-scope M2M app, data under `home`.
pub fn ctx(sb: &Sandbox, home: &std::path::Path) -> AppCtx {
    ctx_as(sb, home, sb.client_id(), sb.client_secret())
}

pub fn ctx_as(sb: &Sandbox, home: &std::path::Path, id: &str, secret: &str) -> AppCtx {
    AppCtx::for_sandbox(
        &sb.base_url(),
        id,
        Secret::new(secret),
        Some(home.to_path_buf()),
    )
    .unwrap()
    .with_client_options(fast())
}
