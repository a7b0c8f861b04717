//! One poller per replica: reads the store's change cursor, the newest alert id and the last
//! sync time once a second and publishes them to the event streams (see `events`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use keyward_core::ctx::blocking;
use keyward_core::store::Store;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::pg::{self, Pool, db_err};

/// How often the poller reads the store.
pub const POLL: Duration = Duration::from_secs(1);

/// What the poller last saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub rev: i64,
    pub alert_max: i64,
    pub sync_at: Option<DateTime<Utc>>,
}

/// The replica's poller and the watch its streams follow.
pub struct Hub {
    pub(crate) rx: watch::Receiver<Option<Snapshot>>,
}

impl Hub {
    pub fn start(
        store: Arc<dyn Store>,
        pool: Pool,
        profile: String,
        shutdown: CancellationToken,
    ) -> Hub {
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            loop {
                let (s, p, prof) = (Arc::clone(&store), pool.clone(), profile.clone());
                match blocking(move || read(&*s, &p, &prof)).await {
                    Ok(snap) => {
                        tx.send_if_modified(|old| {
                            let changed = *old != Some(snap);
                            *old = Some(snap);
                            changed
                        });
                    }
                    Err(e) => tracing::debug!(code = %e.code, "events poll: {}", e.message),
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(POLL) => {}
                }
            }
        });
        Hub { rx }
    }
}

fn read(store: &dyn Store, pool: &Pool, profile: &str) -> keyward_core::Result<Snapshot> {
    let (rev, _) = store.keys_changed_since(i64::MAX, Utc::now())?;
    let sync_at = store.last_sync_at()?;
    let alert_max: i64 = pg::get(pool)?
        .query_one(
            "SELECT COALESCE(MAX(id), 0)::BIGINT FROM alerts WHERE profile = $1",
            &[&profile],
        )
        .map_err(db_err)?
        .get(0);
    Ok(Snapshot {
        rev,
        alert_max,
        sync_at,
    })
}
