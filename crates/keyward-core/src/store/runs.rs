//! Sync runs: one row per run, updated as it goes.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::db::SqliteStore;
use super::rows::opt_time;
use super::rows::{from_ms, to_ms};
use crate::error::Result;
use crate::model::sync::SyncRunRecord;

/// Counters of a run, written at every page and at the end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunProgress {
    pub pages: i64,
    pub keys_seen: i64,
    pub keys_new: i64,
    pub keys_changed: i64,
    pub keys_gone: i64,
    pub details_fetched: i64,
    pub requests: serde_json::Value,
    pub errors: Vec<String>,
}

impl SqliteStore {
    /// Starts a run (`status = running`); returns its id.
    pub fn run_start(&self, mode: &str, at: DateTime<Utc>) -> Result<i64> {
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO sync_runs (profile, mode, status, started_at) \
                 VALUES (?1, ?2, 'running', ?3)",
                params![self.profile, mode, to_ms(at)],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Records that run `id` listed every key at `at` (see [`SqliteStore::last_sync_at`]).
    pub fn run_listed(&self, id: i64, at: DateTime<Utc>) -> Result<()> {
        self.with_conn(|c| {
            c.execute(
                "UPDATE sync_runs SET listed_at = ?2 WHERE id = ?1",
                params![id, super::rows::to_ms(at)],
            )
        })?;
        Ok(())
    }

    /// Updates a run's counters (and, when `finished` is given, its final status).
    pub fn run_update(
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
                "UPDATE sync_runs SET pages = ?2, keys_seen = ?3, keys_new = ?4, \
                 keys_changed = ?5, keys_gone = ?6, details_fetched = ?7, requests = ?8, \
                 errors = ?9 WHERE id = ?1",
                params![
                    id,
                    p.pages,
                    p.keys_seen,
                    p.keys_new,
                    p.keys_changed,
                    p.keys_gone,
                    p.details_fetched,
                    requests,
                    errors
                ],
            )?;
            if let Some((status, at, duration_ms)) = finished {
                c.execute(
                    "UPDATE sync_runs SET status = ?2, finished_at = ?3, duration_ms = ?4 \
                     WHERE id = ?1",
                    params![id, status, to_ms(at), duration_ms],
                )?;
            }
            Ok(())
        })
    }

    /// The most recent runs, newest first. A `running` run is reported (and recorded)
    /// `interrupted` when no sync holds the profile's sync lock: its process died (killed,
    /// crashed, powered off) before it could finish the run.
    pub fn runs(&self, limit: u32) -> Result<Vec<SyncRunRecord>> {
        let mut runs = self.runs_as_recorded(limit)?;
        if runs.iter().any(|r| r.status == "running") {
            // Briefly held: a sync that starts meanwhile retries (see `sync::run`).
            if let Ok(Some(lock)) = self.try_lock_sync() {
                self.runs_interrupt_dead(&lock)?;
                drop(lock);
                for r in runs.iter_mut().filter(|r| r.status == "running") {
                    r.status = super::lock::INTERRUPTED.to_string();
                }
            }
        }
        Ok(runs)
    }

    /// The most recent runs as the table holds them (a dead run may still say `running`).
    pub fn runs_as_recorded(&self, limit: u32) -> Result<Vec<SyncRunRecord>> {
        self.with_conn(|c| {
            let mut st = c.prepare(
                "SELECT id, mode, status, started_at, finished_at, pages, keys_seen, keys_new, \
                 keys_changed, keys_gone, details_fetched, requests, duration_ms, errors \
                 FROM sync_runs WHERE profile = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = st.query_map(params![self.profile, limit], |r| {
                let requests: String = r.get(11)?;
                let errors: String = r.get(13)?;
                Ok(SyncRunRecord {
                    id: r.get(0)?,
                    mode: r.get(1)?,
                    status: r.get(2)?,
                    started_at: from_ms(r.get(3)?).unwrap_or_default(),
                    finished_at: opt_time(r.get(4)?),
                    pages: r.get(5)?,
                    keys_seen: r.get(6)?,
                    keys_new: r.get(7)?,
                    keys_changed: r.get(8)?,
                    keys_gone: r.get(9)?,
                    details_fetched: r.get(10)?,
                    requests: serde_json::from_str(&requests).unwrap_or_default(),
                    duration_ms: r.get(12)?,
                    errors: serde_json::from_str(&errors).unwrap_or_default(),
                })
            })?;
            rows.collect()
        })
    }
}
