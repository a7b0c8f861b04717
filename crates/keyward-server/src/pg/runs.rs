//! Sync runs and the sync lock (store/runs.rs and store/lock.rs in core).

use chrono::{DateTime, Utc};
use keyward_core::error::Result;
use keyward_core::model::sync::SyncRunRecord;
use keyward_core::store::{INTERRUPTED, RunProgress, SyncLock, from_ms, to_ms};

use super::{PgStore, connect_err, db_err, lock_ns, opt_time};

/// The guard of a held sync lock: a connection of its own that holds a session-level
/// advisory lock. Dropping it ends the connection, and PostgreSQL releases the lock; so does a
/// replica that dies (its connection ends with it).
struct PgSyncGuard {
    client: Option<postgres::Client>,
    profile: String,
}

impl Drop for PgSyncGuard {
    /// Unlocks first (PostgreSQL answers once the lock is free, so the next taker never races
    /// the connection's end), then closes the connection; off the async runtime.
    fn drop(&mut self) {
        let Some(mut client) = self.client.take() else {
            return;
        };
        let profile = std::mem::take(&mut self.profile);
        super::off_runtime(move || {
            let _ = client.execute(
                "SELECT pg_advisory_unlock($1, hashtext($2))",
                &[&lock_ns::SYNC, &profile],
            );
            drop(client);
        });
    }
}

impl PgStore {
    pub(crate) fn run_start(&self, mode: &str, at: DateTime<Utc>) -> Result<i64> {
        self.with_conn(|c| {
            Ok(c.query_one(
                "INSERT INTO sync_runs (profile, mode, status, started_at) \
                 VALUES ($1, $2, 'running', $3) RETURNING id",
                &[&self.profile, &mode, &to_ms(at)],
            )?
            .get(0))
        })
    }

    pub(crate) fn run_listed(&self, id: i64, at: DateTime<Utc>) -> Result<()> {
        self.with_conn(|c| {
            c.execute(
                "UPDATE sync_runs SET listed_at = $2 WHERE id = $1",
                &[&id, &to_ms(at)],
            )?;
            Ok(())
        })
    }

    pub(crate) fn run_update(
        &self,
        id: i64,
        p: &RunProgress,
        finished: Option<(&str, DateTime<Utc>, i64)>,
    ) -> Result<()> {
        let errors = serde_json::to_string(&p.errors).unwrap_or_else(|_| "[]".into());
        let requests = if p.requests.is_null() {
            "{}".to_string()
        } else {
            p.requests.to_string()
        };
        self.with_conn(|c| {
            c.execute(
                "UPDATE sync_runs SET pages = $2, keys_seen = $3, keys_new = $4, \
                 keys_changed = $5, keys_gone = $6, details_fetched = $7, requests = $8, \
                 errors = $9 WHERE id = $1",
                &[
                    &id,
                    &p.pages,
                    &p.keys_seen,
                    &p.keys_new,
                    &p.keys_changed,
                    &p.keys_gone,
                    &p.details_fetched,
                    &requests,
                    &errors,
                ],
            )?;
            if let Some((status, at, duration_ms)) = finished {
                c.execute(
                    "UPDATE sync_runs SET status = $2, finished_at = $3, duration_ms = $4 \
                     WHERE id = $1",
                    &[&id, &status, &to_ms(at), &duration_ms],
                )?;
            }
            Ok(())
        })
    }

    pub(crate) fn runs(&self, limit: u32) -> Result<Vec<SyncRunRecord>> {
        let mut runs = self.runs_as_recorded(limit)?;
        if runs.iter().any(|r| r.status == "running")
            && let Ok(Some(lock)) = self.try_lock_sync()
        {
            self.runs_interrupt_dead(&lock)?;
            drop(lock);
            for r in runs.iter_mut().filter(|r| r.status == "running") {
                r.status = INTERRUPTED.to_string();
            }
        }
        Ok(runs)
    }

    pub(crate) fn runs_as_recorded(&self, limit: u32) -> Result<Vec<SyncRunRecord>> {
        self.with_conn(|c| {
            Ok(c.query(
                "SELECT id, mode, status, started_at, finished_at, pages, keys_seen, keys_new, \
                 keys_changed, keys_gone, details_fetched, requests, duration_ms, errors \
                 FROM sync_runs WHERE profile = $1 ORDER BY id DESC LIMIT $2",
                &[&self.profile, &i64::from(limit)],
            )?
            .iter()
            .map(|r| {
                let requests: String = r.get(11);
                let errors: String = r.get(13);
                SyncRunRecord {
                    id: r.get(0),
                    mode: r.get(1),
                    status: r.get(2),
                    started_at: from_ms(r.get(3)).unwrap_or_default(),
                    finished_at: opt_time(r.get(4)),
                    pages: r.get(5),
                    keys_seen: r.get(6),
                    keys_new: r.get(7),
                    keys_changed: r.get(8),
                    keys_gone: r.get(9),
                    details_fetched: r.get(10),
                    requests: serde_json::from_str(&requests).unwrap_or_default(),
                    duration_ms: r.get(12),
                    errors: serde_json::from_str(&errors).unwrap_or_default(),
                }
            })
            .collect())
        })
    }

    /// A connection of its own (not the pool's: a pooled connection would go back to the pool
    /// still holding the lock) takes `pg_try_advisory_lock(SYNC, hashtext(profile))`.
    pub(crate) fn try_lock_sync(&self) -> Result<Option<SyncLock>> {
        let mut client = self
            .config
            .connect(postgres::NoTls)
            .map_err(|e| connect_err(&self.config, &e))?;
        let got: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext($2))",
                &[&lock_ns::SYNC, &self.profile],
            )
            .map_err(db_err)?
            .get(0);
        if !got {
            super::drop_off_runtime(client);
            return Ok(None);
        }
        Ok(Some(SyncLock::from_guard(Box::new(PgSyncGuard {
            client: Some(client),
            profile: self.profile.clone(),
        }))))
    }

    pub(crate) fn runs_interrupt_dead(&self, _held: &SyncLock) -> Result<usize> {
        self.with_conn(|c| {
            Ok(c.execute(
                "UPDATE sync_runs SET status = $2 WHERE profile = $1 AND status = 'running'",
                &[&self.profile, &INTERRUPTED],
            )? as usize)
        })
    }
}
