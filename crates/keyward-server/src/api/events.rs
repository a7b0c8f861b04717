//! `GET /api/v1/events`: Server-Sent Events for a connected app (any role).
//!
//! - `keys` (id: the store's change cursor): `KeyChanges` `{rev, keys}`, the key views changed
//!   since the client's cursor: `Last-Event-ID` on a reconnect, else `?since=REV`; without
//!   either, the first event carries the current cursor and no keys.
//! - `alerts`: `{alerts, open_high, open_total}` with the alerts raised since the stream began
//!   (or since the last `alerts` event).
//! - `sync`: `{"state": "running", "progress": SyncProgress}` while the scheduled sync of the
//!   replica answering runs (the leader's; at most 4 a second), and
//!   `{"state": "finished", "finished_at"}` when a sync of any replica finished.
//! - a keep-alive comment every 15 s.
//!
//! The member's token is checked again every 5 s: the stream of a member revoked meanwhile
//! ends then.
//!
//! Every replica answers: one poller per replica reads the store's cursor, the newest alert id
//! and the last sync time once a second (three indexed reads), and wakes the streams when one
//! moves. Polling, not PostgreSQL LISTEN/NOTIFY: the writer may be any replica (the leader's
//! scheduled sync, a member's request to another replica), the pool's clients are blocking
//! ones that cannot wait for notifications, and a notification lost while a replica reconnects
//! would need this very poll to recover; a 1 s poll keeps the delta within the 5 s promise.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use keyward_core::model::alert::AlertFilter;
use keyward_core::model::key::KeyChanges;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::auth;
use super::sse::{event, sse};
use super::state::{Api, ApiError};

/// How often a stream checks its member's token again.
pub const RECHECK: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
pub struct Since {
    since: Option<i64>,
}

/// `GET /api/v1/events` (see the module docs).
pub async fn stream(State(api): State<Arc<Api>>, Query(q): Query<Since>, req: Request) -> Response {
    let caller = auth::caller(&req);
    let token = caller.token().to_string();
    let member = match auth::member_of(&api, caller).await {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let last_id = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let since = last_id.or(q.since);
    let mut rx = api.events.rx.clone();
    // The first snapshot (the poller's first read may still be running).
    let first = loop {
        if let Some(s) = *rx.borrow_and_update() {
            break s;
        }
        match tokio::time::timeout(Duration::from_secs(10), rx.changed()).await {
            Ok(Ok(())) => {}
            _ => {
                return ApiError::from(keyward_core::Error::new(
                    keyward_core::ErrorCode::Database,
                    "the store cannot be read right now",
                    "Check /healthz; the stream works again once PostgreSQL answers.",
                ))
                .into_response();
            }
        }
    };
    let (tx, out) = mpsc::unbounded_channel();
    let ctx = Arc::clone(&api.ctx);
    // Ends the progress forwarder with the stream.
    let ended = CancellationToken::new();
    // The scheduled sync's progress, at most 4 events a second.
    let mut progress = api.sync_progress.subscribe();
    let ptx = tx.clone();
    let progress_ended = ended.clone();
    tokio::spawn(async move {
        let mut last: Option<std::time::Instant> = None;
        loop {
            tokio::select! {
                _ = progress_ended.cancelled() => return,
                _ = ptx.closed() => return,
                r = progress.recv() => match r {
                    Ok(p) => {
                        if last.is_some_and(|t| t.elapsed() < Duration::from_millis(250)) {
                            continue;
                        }
                        last = Some(std::time::Instant::now());
                        let e = event("sync", &json!({ "state": "running", "progress": p }));
                        if ptx.send(e).is_err() {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    let api = Arc::clone(&api);
    tokio::spawn(async move {
        let _ended = ended.drop_guard();
        let mut checked = std::time::Instant::now();
        let mut rev = match since {
            Some(s) => s.max(0),
            None => {
                let _ = tx.send(
                    event(
                        "keys",
                        &KeyChanges {
                            rev: first.rev,
                            keys: vec![],
                        },
                    )
                    .id(first.rev.to_string()),
                );
                first.rev
            }
        };
        let mut seen = first;
        let mut snap = first;
        loop {
            if snap.rev > rev {
                match keyward_core::keys::changed_since(&ctx, rev).await {
                    Ok(ch) => {
                        rev = ch.rev;
                        if tx.send(event("keys", &ch).id(ch.rev.to_string())).is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::debug!(code = %e.code, "events: {}", e.message),
                }
            }
            if snap.alert_max > seen.alert_max {
                let f = AlertFilter {
                    include_acknowledged: true,
                    include_muted: true,
                    ..Default::default()
                };
                if let Ok(mut list) = keyward_core::alerts::list(&ctx, f).await {
                    list.alerts.retain(|a| a.id > seen.alert_max);
                    if tx.send(event("alerts", &list)).is_err() {
                        return;
                    }
                }
            }
            if snap.sync_at != seen.sync_at
                && snap.sync_at.is_some()
                && tx
                    .send(event(
                        "sync",
                        &json!({ "state": "finished", "finished_at": snap.sync_at }),
                    ))
                    .is_err()
            {
                return;
            }
            seen = snap;
            tokio::select! {
                _ = tx.closed() => return,
                r = rx.changed() => if r.is_err() { return; },
                _ = tokio::time::sleep(RECHECK) => {}
            }
            if checked.elapsed() >= RECHECK {
                checked = std::time::Instant::now();
                if !auth::still_member(&api, &token).await {
                    tracing::info!(member = %member.name, "events: the token was revoked; stream closed");
                    return;
                }
            }
            if let Some(s) = *rx.borrow_and_update() {
                snap = s;
            }
        }
    });
    sse(out)
}
