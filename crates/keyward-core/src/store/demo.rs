//! Demo mode only: writing a synthesized past into the demo sandbox's store.
//!
//! Kinde keeps no history; Keyward's comes only from its own syncs, so a fresh demo store has
//! one point per key ("today"). [`Store::prefill_demo_history`] lets the demo show a believable
//! past: the rows it writes are made up (by [`crate::demo`]) and are marked
//! `history.source = 'demo'` (schema 2). The caller (`demo::prefill_history`) makes sure
//! this only ever runs on the sandbox's own database; nothing here is used for a real profile.

use chrono::{DateTime, Utc};
use rusqlite::{Transaction, params};

use super::db::SqliteStore;
use super::history::RawHistoryRow;
use super::history::{SOURCE_DEMO, insert_history_from};
use super::rows::parse_status;
use super::rows::to_ms;
use crate::error::{Error, Result};
use crate::model::key::KeyStatus;

/// Where a key's observed history begins: its first history row (its first detail read by a
/// sync). A synthesized past must end exactly here.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryAnchor {
    pub kid: i64,
    pub key_id: String,
    /// Milliseconds since the epoch.
    pub created_on: Option<i64>,
    /// `at` of the first observed row.
    pub first_at: i64,
    /// The count first observed (> 0).
    pub count: i64,
    pub last_verified_on: Option<i64>,
    pub last_verified_ip: Option<String>,
    pub status: KeyStatus,
}

/// What [`SqliteStore::prefill_demo_history`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefillOutcome {
    /// Rows were written for this many keys.
    Written { keys: usize, rows: usize },
    /// The store already has a past (rows older than the cutoff, or earlier demo rows):
    /// nothing was written.
    HasHistory,
    /// No key has been observed with a verification yet (no sync, or no traffic): nothing
    /// was written.
    NothingToAnchor,
}

impl SqliteStore {
    /// In one IMMEDIATE transaction: when no history row of this profile is older than
    /// `cutoff` and none is a demo row, reads every key's [`HistoryAnchor`] (keys first seen
    /// with `verification_count > 0`), asks `plan` for the rows to write, checks that each
    /// lies strictly before its key's first observed row, and inserts them (with their daily
    /// roll-up) as `source = 'demo'`.
    ///
    /// Only for the demo sandbox's store; see the module docs.
    pub fn prefill_demo_history(
        &self,
        cutoff: DateTime<Utc>,
        plan: impl FnOnce(&[HistoryAnchor]) -> Vec<RawHistoryRow>,
    ) -> Result<PrefillOutcome> {
        let mut conn = self.conn.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(super::db::db_err)?;
        if has_past(&tx, &self.profile, to_ms(cutoff)).map_err(super::db::db_err)? {
            return Ok(PrefillOutcome::HasHistory);
        }
        let anchors = anchors(&tx, &self.profile).map_err(super::db::db_err)?;
        if anchors.is_empty() {
            return Ok(PrefillOutcome::NothingToAnchor);
        }
        let rows = plan(&anchors);
        let first_at: std::collections::HashMap<i64, i64> =
            anchors.iter().map(|a| (a.kid, a.first_at)).collect();
        let mut keys = std::collections::HashSet::new();
        for r in &rows {
            // A row at or after the first observed one would merge into real history.
            if first_at.get(&r.kid).is_none_or(|&f| r.at >= f) {
                return Err(Error::internal(format!(
                    "a synthesized demo row (key row {}, at {}) is not before its key's history",
                    r.kid, r.at
                )));
            }
            insert_history_from(
                &tx,
                r.kid,
                r.at,
                r.verification_count,
                r.last_verified_on,
                r.last_verified_ip.as_deref(),
                r.status,
                r.delta,
                SOURCE_DEMO,
            )
            .map_err(super::db::db_err)?;
            keys.insert(r.kid);
        }
        tx.commit().map_err(super::db::db_err)?;
        Ok(PrefillOutcome::Written {
            keys: keys.len(),
            rows: rows.len(),
        })
    }

    /// Number of synthesized demo history rows of this profile (tests).
    pub fn demo_history_len(&self) -> Result<i64> {
        self.with_conn(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM history h JOIN keys k ON k.kid = h.kid \
                 WHERE k.profile = ?1 AND h.source = ?2",
                params![self.profile, SOURCE_DEMO],
                |r| r.get(0),
            )
        })
    }
}

/// True when this profile has history older than `cutoff_ms`, or any demo row.
fn has_past(tx: &Transaction<'_>, profile: &str, cutoff_ms: i64) -> rusqlite::Result<bool> {
    tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM history h JOIN keys k ON k.kid = h.kid \
         WHERE k.profile = ?1 AND (h.at < ?2 OR h.source = ?3))",
        params![profile, cutoff_ms, SOURCE_DEMO],
        |r| r.get(0),
    )
}

/// The first history row of every key of `profile` whose first observed count is > 0.
fn anchors(tx: &Transaction<'_>, profile: &str) -> rusqlite::Result<Vec<HistoryAnchor>> {
    let mut st = tx.prepare(
        "SELECT k.kid, k.id, k.created_on, h.at, h.verification_count, h.last_verified_on, \
         h.last_verified_ip, h.status FROM keys k JOIN history h ON h.kid = k.kid \
         WHERE k.profile = ?1 AND h.at = (SELECT MIN(at) FROM history WHERE kid = k.kid) \
         AND h.verification_count > 0 ORDER BY k.id",
    )?;
    let rows = st.query_map([profile], |r| {
        Ok(HistoryAnchor {
            kid: r.get(0)?,
            key_id: r.get(1)?,
            created_on: r.get(2)?,
            first_at: r.get(3)?,
            count: r.get(4)?,
            last_verified_on: r.get(5)?,
            last_verified_ip: r.get(6)?,
            status: parse_status(&r.get::<_, String>(7)?),
        })
    })?;
    rows.collect()
}
