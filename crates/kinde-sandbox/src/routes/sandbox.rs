//! Test routes under `/_sandbox/`, where they cannot collide with Kinde's. No auth.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::http::{ApiError, ApiResult, ok};
use crate::state::Shared;
use crate::traffic;

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/stats/reset", post(reset))
        .route("/_sandbox/traffic", post(traffic_route))
}

/// `{"requests": {"GET /api/v1/api_keys": 3, ...}, "total": .., "token": .., ...}`.
async fn stats(State(sh): State<Arc<Shared>>) -> ApiResult {
    let c = sh.counters.lock();
    let mut body = serde_json::to_value(&c.stats).unwrap_or_else(|_| json!({}));
    if let Some(obj) = body.as_object_mut() {
        obj.insert("requests".into(), json!(c.requests));
    }
    ok(body)
}

async fn reset(State(sh): State<Arc<Shared>>) -> ApiResult {
    *sh.counters.lock() = Default::default();
    ok(json!({ "code": "OK", "message": "Success" }))
}

#[derive(Debug, Deserialize)]
struct TrafficBody {
    verifications: usize,
}

async fn traffic_route(State(sh): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let b: TrafficBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "INVALID_JSON",
            format!("expected {{\"verifications\": k}}: {e}"),
        )
    })?;
    let ids = traffic::simulate(&sh, b.verifications);
    ok(json!({ "key_ids": ids }))
}
