//! Shared by the ops tests: a real sandbox on 127.0.0.1:0 and an `AppCtx` on it (the sandbox
//! and the fast retries are the client tests' own).
#![allow(dead_code)]

#[path = "../client_common/mod.rs"]
mod client_common;

use keyward_core::ctx::AppCtx;
use keyward_core::secret::Secret;
use kinde_sandbox::Sandbox;

pub use client_common::{fast, sandbox};

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
