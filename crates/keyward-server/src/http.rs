//! The HTTP side every replica serves: `GET /healthz` (JSON) and `GET /metrics` (Prometheus).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use keyward_core::ctx::blocking;
use keyward_core::error::Error;
use keyward_core::store::Store;
use serde::Serialize;

use crate::lease;
use crate::metrics::{self, Metrics};
use crate::pg::{Pool, db_err, get as conn};

/// What the handlers read: shared with the scheduler.
pub struct Shared {
    pub replica: String,
    pub pool: Pool,
    pub metrics: Arc<Metrics>,
    /// True while this replica holds the lease.
    pub leader: AtomicBool,
    /// The store, to read the last sync (any replica's) from the database.
    pub store: Option<Arc<dyn Store>>,
    /// How this replica's last sync ended when it failed (cleared by a sync that works).
    pub last_sync_error: std::sync::Mutex<Option<Error>>,
    /// The progress of this replica's scheduled syncs, for the API's live events.
    pub sync_progress: tokio::sync::broadcast::Sender<keyward_core::model::sync::SyncProgress>,
}

/// `GET /healthz`'s answer.
#[derive(Debug, Serialize)]
pub struct Health {
    pub leader: bool,
    /// `"ok"`, or why the database cannot be used.
    pub database: String,
    /// When the last sync (of any replica) finished, from the database.
    pub last_sync_finished_at: Option<DateTime<Utc>>,
    pub version: &'static str,
    pub replica: String,
    /// Who holds the lease, as the database says (null when no one ever did).
    pub lease_holder: Option<String>,
    /// This replica's last sync failed: why, as `{code, message, hint}` (a wrong client
    /// secret, Kinde unreachable...). Null after a sync that worked.
    pub last_sync_error: Option<Error>,
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(shared)
}

async fn probe(shared: &Arc<Shared>) -> Result<Option<lease::Holder>, String> {
    let pool = shared.pool.clone();
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        blocking(move || {
            let mut c = conn(&pool)?;
            c.simple_query("SELECT 1").map_err(db_err)?;
            lease::holder(&mut c)
        }),
    )
    .await;
    match r {
        Ok(Ok(h)) => Ok(h),
        Ok(Err(e)) => Err(e.message),
        Err(_) => Err("PostgreSQL did not answer within 5 s".into()),
    }
}

pub async fn health(shared: &Arc<Shared>) -> (StatusCode, Health) {
    let (database, holder) = match probe(shared).await {
        Ok(h) => ("ok".to_string(), h),
        Err(e) => (e, None),
    };
    let last = match (&shared.store, database == "ok") {
        (Some(s), true) => {
            let s = Arc::clone(s);
            blocking(move || s.last_sync_at()).await.ok().flatten()
        }
        _ => None,
    };
    let status = if database == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Health {
            leader: shared.leader.load(Ordering::SeqCst),
            database,
            last_sync_finished_at: last,
            version: env!("CARGO_PKG_VERSION"),
            replica: shared.replica.clone(),
            lease_holder: holder.filter(|h| h.valid).map(|h| h.holder),
            last_sync_error: shared
                .last_sync_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        },
    )
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    let (status, h) = health(&shared).await;
    (status, axum::Json(h)).into_response()
}

async fn metrics_text(State(shared): State<Arc<Shared>>) -> Response {
    // The lease holder as the database says now (every replica answers the same).
    if let Ok(h) = probe(&shared).await {
        let samples: Vec<(Vec<(&str, &str)>, f64)> = Vec::new();
        match &h {
            Some(h) => {
                let epoch = h.epoch.to_string();
                shared.metrics.replace(
                    metrics::LEASE_HOLDER,
                    metrics::LEASE_HOLDER_HELP,
                    &[(
                        vec![("holder", h.holder.as_str()), ("epoch", epoch.as_str())],
                        if h.valid { 1.0 } else { 0.0 },
                    )],
                );
            }
            None => {
                shared
                    .metrics
                    .replace(metrics::LEASE_HOLDER, metrics::LEASE_HOLDER_HELP, &samples)
            }
        }
    }
    shared.metrics.set(
        metrics::LEADER,
        metrics::LEADER_HELP,
        &[],
        if shared.leader.load(Ordering::SeqCst) {
            1.0
        } else {
            0.0
        },
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        shared.metrics.render(),
    )
        .into_response()
}
