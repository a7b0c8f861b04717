//! `POST /api/v1/ops/{name}`: one of keyward-core's operations (`keyward_core::operations`),
//! run on the server's context with the member as the actor of every audit row it writes.
//!
//! - Body: the operation's arguments as a JSON object, field names as declared (`{}` or an
//!   empty body for none). Answer: 200 and the operation's JSON.
//! - 401 `unauthorized` without a valid token, 429 `rate_limited` (with `Retry-After`) after
//!   5 failed sign-ins a minute from one address, 403 `forbidden` with `required_role` when the
//!   member's role is below the operation's (the refusal is audited as `denied`), 404
//!   `not_found` for an operation this server does not run (the app's local profile and
//!   settings commands are not operations of the server), then the operation's own errors:
//!   400 `invalid_input`, 404 `not_found`, 409, 429, 502 for Kinde, 503 for the database.
//! - `sync_start` (operator; body `{"options": SyncOptions}` or `{}`): a sync now, answering
//!   its `SyncSummary`.
//! - With `Accept: text/event-stream`, `sync_start` and `keys_revoke` answer a stream instead:
//!   `progress` events (`SyncProgress` / `RevokeProgress`), then one `done` event with the
//!   answer, or one `error` event with `{code, message, hint}`.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::header;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use keyward_core::audit::{self, as_actor};
use keyward_core::error::Error;
use keyward_core::model::audit::{AuditAction, AuditOutcome};
use keyward_core::model::sync::SyncOptions;
use keyward_core::operations::{self, Role};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::auth;
use super::members::Member;
use super::sse::{event, sse};
use super::state::{Api, ApiError, OpInfo};

/// The server's own operation beside the core's: a sync now.
pub const SYNC_START: &str = "sync_start";

/// The least role `name` needs on this server (`None`: not an operation here).
pub fn required_role(name: &str) -> Option<Role> {
    if name == SYNC_START {
        Some(Role::Operator)
    } else {
        operations::role_of(name)
    }
}

/// `GET /api/v1/ops`: every operation and its role.
pub async fn list(State(api): State<Arc<Api>>, req: Request) -> Response {
    if let Err(e) = auth::member_of(&api, auth::caller(&req)).await {
        return e.into_response();
    }
    let ops: Vec<OpInfo> = operations::NAMES
        .iter()
        .copied()
        .chain([SYNC_START])
        .filter_map(|n| {
            required_role(n).map(|role| OpInfo {
                name: n.to_string(),
                role,
            })
        })
        .collect();
    axum::Json(ops).into_response()
}

/// `POST /api/v1/ops/{name}` (see the module docs).
pub async fn run(State(api): State<Arc<Api>>, Path(name): Path<String>, req: Request) -> Response {
    let member = match auth::member_of(&api, auth::caller(&req)).await {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let streaming = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    let Some(required) = required_role(&name) else {
        return ApiError {
            code: "not_found".into(),
            message: format!("there is no operation {name:?} on a Keyward Server"),
            hint: "GET /api/v1/ops lists the operations; profiles and settings are managed in \
                   the app, not on the server."
                .into(),
            required_role: None,
            status: 404,
            retry_after: None,
        }
        .into_response();
    };
    let body = match axum::body::to_bytes(req.into_body(), 4 << 20).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError::from(Error::invalid_input(
                "body",
                format!("cannot be read: {e}"),
                "Send the arguments as a JSON object of at most 4 MiB.",
            ))
            .into_response();
        }
    };
    let args: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v @ (Value::Object(_) | Value::Null)) => v,
            Ok(_) | Err(_) => {
                return ApiError::from(Error::invalid_input(
                    "body",
                    "is not a JSON object",
                    "Send the operation's arguments as a JSON object, e.g. {\"id\": \"api_key_…\"}.",
                ))
                .into_response();
            }
        }
    };
    if member.role < required {
        deny(&api, &member, &name, required, &args).await;
        return ApiError::forbidden(&name, member.role, required).into_response();
    }
    tracing::info!(member = %member.name, op = %name, "operation");
    let actor = member.name.clone();
    if name == SYNC_START {
        return sync_start(&api, actor, args, streaming).await;
    }
    if name == "keys_revoke" && streaming {
        return revoke_stream(&api, actor, args);
    }
    match as_actor(actor, operations::call(&api.ctx, &name, args)).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => {
            tracing::info!(member = %member.name, op = %name, code = %e.code, "operation failed");
            ApiError::from(e).into_response()
        }
    }
}

/// Audits a refused write: who, what, and the role it needed.
async fn deny(api: &Api, member: &Member, op: &str, required: Role, args: &Value) {
    tracing::warn!(member = %member.name, role = %member.role, op, %required, "refused");
    let key_id = args
        .get("id")
        .or_else(|| args.get("key_id"))
        .and_then(Value::as_str)
        .filter(|s| s.len() <= 100);
    as_actor(
        member.name.clone(),
        audit::record(
            &api.ctx,
            AuditAction::Denied,
            key_id,
            None,
            AuditOutcome::Failed,
            None,
            json!({ "operation": op, "role": member.role, "required_role": required }),
        ),
    )
    .await;
}

/// The last event of a streamed operation: `done` with its answer, or `error`.
fn outcome<T: serde::Serialize>(r: &keyward_core::Result<T>) -> Event {
    match r {
        Ok(v) => event("done", v),
        Err(e) => event("error", e),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SyncArgs {
    #[serde(default)]
    options: Option<SyncOptions>,
}

async fn sync_start(api: &Arc<Api>, actor: String, args: Value, streaming: bool) -> Response {
    let args: SyncArgs = if args.is_null() {
        SyncArgs::default()
    } else {
        match serde_json::from_value(args) {
            Ok(a) => a,
            Err(e) => {
                return ApiError::from(Error::invalid_input(
                    "arguments",
                    format!("of sync_start: {e}"),
                    "Send {} or {\"options\": {\"full\": false, …}}.",
                ))
                .into_response();
            }
        }
    };
    let opts = args.options.unwrap_or_default();
    let ctx = Arc::clone(&api.ctx);
    if !streaming {
        let r = as_actor(
            actor,
            keyward_core::sync::run(&ctx, opts, |_| {}, CancellationToken::new()),
        )
        .await;
        return match r {
            Ok(s) => axum::Json(s).into_response(),
            Err(e) => ApiError::from(e).into_response(),
        };
    }
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(as_actor(actor, async move {
        let p = tx.clone();
        let r = keyward_core::sync::run(
            &ctx,
            opts,
            move |s| {
                let _ = p.send(event("progress", &s));
            },
            CancellationToken::new(),
        )
        .await;
        let _ = tx.send(outcome(&r));
    }));
    sse(rx)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeArgs {
    ids: Vec<String>,
}

/// `keys_revoke` as a stream: one `progress` event per key, then `done` with the summary. The
/// revoke goes on to the end if the client goes away.
fn revoke_stream(api: &Arc<Api>, actor: String, args: Value) -> Response {
    let RevokeArgs { ids } = match serde_json::from_value(args) {
        Ok(a) => a,
        Err(e) => {
            return ApiError::from(Error::invalid_input(
                "arguments",
                format!("of keys_revoke: {e}"),
                "Send {\"ids\": [\"api_key_…\", …]}.",
            ))
            .into_response();
        }
    };
    let ctx = Arc::clone(&api.ctx);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(as_actor(actor, async move {
        let p = tx.clone();
        let r = keyward_core::keys::revoke_with(
            &ctx,
            &ids,
            move |s| {
                let _ = p.send(event("progress", &s));
            },
            CancellationToken::new(),
        )
        .await;
        let _ = tx.send(outcome(&r));
    }));
    sse(rx)
}
