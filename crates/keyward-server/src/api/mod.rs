//! The team API: keyward-core's operations as HTTP routes, for members holding a personal
//! access token (`Authorization: Bearer kwp_…`). Every route answers JSON; an error is
//! `{code, message, hint}` (plus `required_role` for `forbidden`) with the status
//! [`status_of`] gives.
//!
//! - `GET /api/v1/me` → `{name, role, server_version}` ([`Me`]).
//! - `GET /api/v1/ops` → `[{name, role}]`: every operation this server runs and the least
//!   role it needs ([`OpInfo`]), from `keyward_core::operations`.
//! - `POST /api/v1/ops/{name}` with the operation's arguments as a JSON object → its JSON
//!   answer (see [`ops`]). `sync_start` (operator) runs a sync; `keys_revoke` and
//!   `sync_start` stream their progress as Server-Sent Events when asked with
//!   `Accept: text/event-stream`.
//! - `GET /api/v1/events` → Server-Sent Events: `keys` deltas, `alerts` raised, `sync`
//!   progress and finished (see [`events`]).
//!
//! For a typed client: every error body is an [`ApiError`]. Its `code` is the name of a
//! `keyward_core::error::ErrorCode` (the operation's own error, `rate_limited` for the
//! sign-in throttle, `not_found` for an unknown operation) or one of the API's own two:
//! `unauthorized` (401: no token, an unknown or a revoked one) and `forbidden` (403, with
//! `required_role`). A 429 carries `Retry-After` in seconds. The operations' arguments and
//! answers are the declared Rust types (`keyward_core::operations`), serialized with serde, as
//! the desktop shell's IPC carries them.
//!
//! Modules: [`auth`] (who is asking), [`limit`] (the sign-in throttle), [`members`] (the
//! members table), [`ops`] and [`events`] (the routes), [`hub`] (the replica's change
//! poller), [`sse`], [`state`], [`tls`].

pub mod auth;
pub mod events;
pub mod hub;
pub mod limit;
pub mod members;
pub mod ops;
pub mod sse;
pub mod state;
pub mod tls;

use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use state::{Api, ApiError, Me, OpInfo, status_of};

/// The API's routes (merge them into the server's router).
pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/ops", get(ops::list))
        .route("/api/v1/ops/{name}", post(ops::run))
        .route("/api/v1/events", get(events::stream))
        .with_state(api)
}

async fn me(
    axum::extract::State(api): axum::extract::State<Arc<Api>>,
    req: axum::extract::Request,
) -> Response {
    match auth::member_of(&api, auth::caller(&req)).await {
        Ok(m) => axum::Json(Me {
            name: m.name,
            role: m.role,
            server_version: env!("CARGO_PKG_VERSION").to_string(),
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}
