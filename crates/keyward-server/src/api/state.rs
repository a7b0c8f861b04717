//! What the API's handlers share ([`Api`]) and what its routes answer: [`Me`], [`OpInfo`], and
//! [`ApiError`] for every refusal.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyward_core::ctx::AppCtx;
use keyward_core::error::{Error, ErrorCode};
use keyward_core::model::sync::SyncProgress;
use keyward_core::operations::Role;
use keyward_core::store::Store;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::hub::Hub;
use super::limit::Limiter;
use crate::pg::Pool;

/// What the API's handlers share.
pub struct Api {
    /// The server's context (its Kinde profile over the PostgreSQL store).
    pub ctx: Arc<AppCtx>,
    pub store: Arc<dyn Store>,
    pub pool: Pool,
    /// The profile's name in the store.
    pub profile: String,
    pub limiter: Limiter,
    pub events: Hub,
    /// The progress of this replica's scheduled syncs (it leads while they run).
    pub sync_progress: broadcast::Sender<SyncProgress>,
}

impl Api {
    /// The API over the server's context and store; its change poller runs until `shutdown`.
    pub fn start(
        ctx: Arc<AppCtx>,
        store: Arc<dyn Store>,
        pool: Pool,
        profile: String,
        sync_progress: broadcast::Sender<SyncProgress>,
        shutdown: CancellationToken,
    ) -> Arc<Api> {
        let events = Hub::start(Arc::clone(&store), pool.clone(), profile.clone(), shutdown);
        Arc::new(Api {
            ctx,
            store,
            pool,
            profile,
            limiter: Limiter::default(),
            events,
            sync_progress,
        })
    }
}

/// `GET /api/v1/me`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub name: String,
    pub role: Role,
    pub server_version: String,
}

/// One entry of `GET /api/v1/ops`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpInfo {
    pub name: String,
    pub role: Role,
}

/// An error answer: `{code, message, hint}` (+ `required_role`), its status, and for a 429
/// its `Retry-After`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub hint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_role: Option<Role>,
    #[serde(skip)]
    pub status: u16,
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError {
            code: "unauthorized".into(),
            message: message.into(),
            hint: "Send Authorization: Bearer kwp_… with the token `keyward-server member add` \
                   printed; ask an admin for a new one if yours was revoked."
                .into(),
            required_role: None,
            status: 401,
            retry_after: None,
        }
    }

    pub fn forbidden(op: &str, role: Role, required: Role) -> ApiError {
        ApiError {
            code: "forbidden".into(),
            message: format!("{op} needs the role {required}; yours is {role}"),
            hint: format!("Ask an admin of this Keyward Server for the {required} role."),
            required_role: Some(required),
            status: 403,
            retry_after: None,
        }
    }

    pub fn throttled(retry_after: u64) -> ApiError {
        ApiError {
            code: "rate_limited".into(),
            message: "too many failed sign-ins from this address".into(),
            hint: format!("Wait {retry_after} s, then try again with a valid token."),
            required_role: None,
            status: 429,
            retry_after: Some(retry_after),
        }
    }
}

/// The HTTP status of a core error.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        InvalidInput | BadRequest | ProfileNotFound => StatusCode::BAD_REQUEST,
        NotFound => StatusCode::NOT_FOUND,
        Forbidden => StatusCode::FORBIDDEN,
        ProfileExists | SyncInProgress | Cancelled => StatusCode::CONFLICT,
        RateLimited => StatusCode::TOO_MANY_REQUESTS,
        InvalidClient | UnauthorizedClient | TokenRequestFailed | Unauthenticated
        | MissingScope | ServerError | UnexpectedResponse | Ambiguous | Dns | Tls
        | ConnectionRefused | Timeout | Network | Offline => StatusCode::BAD_GATEWAY,
        Database | DatabaseTooNew | DiskFull => StatusCode::SERVICE_UNAVAILABLE,
        SecretMissing | KeyringUnavailable | Io | SecretNotDelivered | Internal => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        ApiError {
            code: e.code.as_str().to_string(),
            message: e.message,
            hint: e.hint,
            required_role: None,
            status: status_of(e.code).as_u16(),
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.retry_after;
        let mut r = (status, axum::Json(self)).into_response();
        if let Some(s) = retry
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}
