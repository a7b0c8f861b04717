//! The router: Kinde's routes (counted, slowed and faulted as configured) and `/_sandbox/*`.

pub mod directory;
pub mod keys;
pub mod oauth;
pub mod sandbox;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;

use crate::conn::DropConnection;
use crate::http::{ApiError, oauth_error, route_not_found};
use crate::state::Shared;

pub fn router(sh: Arc<Shared>) -> Router {
    let kinde = Router::new()
        .route("/oauth2/token", post(oauth::token))
        .route("/.well-known/jwks", get(oauth::jwks))
        .route("/.well-known/jwks.json", get(oauth::jwks))
        .route("/api/v1/api_keys", get(keys::list).post(keys::create))
        .route("/api/v1/api_keys/verify", post(keys::verify))
        .route(
            "/api/v1/api_keys/{key_id}",
            get(keys::get).put(keys::rotate).delete(keys::revoke),
        )
        .route("/api/v1/apis", get(directory::list_apis))
        .route("/api/v1/apis/{api_id}", get(directory::get_api))
        .route("/api/v1/apis/{api_id}/scopes", get(directory::api_scopes))
        .route("/api/v1/organizations", get(directory::list_orgs))
        .route("/api/v1/users", get(directory::list_users))
        .route_layer(middleware::from_fn_with_state(sh.clone(), per_route));
    kinde
        .merge(sandbox::router())
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(json_rejections))
        .with_state(sh)
}

/// Longest rejection text carried into a JSON error message.
const MAX_REJECTION_TEXT: usize = 2048;

/// Turns axum's plain-text rejections (a body over the size limit, a path that is not UTF-8)
/// into Kinde's JSON shapes: a 400 `{"errors":[..]}`, or OAuth's `invalid_request` on the token
/// endpoint. Kinde's spec lists 400 for invalid requests and its clients parse JSON only.
async fn json_rejections(req: Request, next: Next) -> Response {
    let token = req.uri().path() == "/oauth2/token";
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || status.is_success() || resp.extensions().get::<DropConnection>().is_some() {
        return resp;
    }
    if !status.is_client_error() {
        return resp;
    }
    let bytes = axum::body::to_bytes(resp.into_body(), MAX_REJECTION_TEXT)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    let text = if text.is_empty() {
        format!("The request was refused ({status})")
    } else {
        text
    };
    if token {
        oauth_error(StatusCode::BAD_REQUEST, "invalid_request", text)
    } else {
        ApiError::bad_request("INVALID_REQUEST", text).into_response()
    }
}

/// Counts the request, then applies the configured latency and faults.
async fn per_route(State(sh): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    sh.count(req.method().as_str(), &template);
    tracing::debug!(method = %req.method(), route = %template, "request");
    let s = &sh.settings;
    let (delay, fault) = {
        let mut rng = sh.rng.lock();
        let mut delay = if s.latency_ms > 0 {
            let jitter = rng.random_range(0.5..1.5);
            Duration::from_secs_f64(s.latency_ms as f64 * jitter / 1000.0)
        } else {
            Duration::ZERO
        };
        let detail_ms = s
            .detail_latency_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        if detail_ms > 0
            && req.method() == axum::http::Method::GET
            && template == "/api/v1/api_keys/{key_id}"
        {
            delay += Duration::from_millis(detail_ms);
        }
        let rate = if s.fault_rate.is_finite() {
            s.fault_rate.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let fault = (rate > 0.0 && rng.random_bool(rate)).then(|| rng.random_range(0..3u8));
        (delay, fault)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Some(0) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "Injected fault (--fault-rate): internal server error",
        )
        .into_response(),
        Some(1) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "Injected fault (--fault-rate): service unavailable",
        )
        .into_response(),
        Some(_) => {
            let mut resp = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            resp.extensions_mut().insert(DropConnection);
            resp
        }
        None => next.run(req).await,
    }
}

async fn fallback(State(sh): State<Arc<Shared>>, req: Request) -> Response {
    if !req.uri().path().starts_with("/_sandbox") {
        let mut c = sh.counters.lock();
        c.stats.total += 1;
        c.stats.other += 1;
    }
    route_not_found()
}

/// A known path with a method Kinde does not define: the spec has no operation (and no 405) for
/// it, so it is an unknown route, answered like any other.
async fn method_not_allowed() -> Response {
    route_not_found()
}
