//! History queries: a key's time series and verifications per hour or day.

use chrono::{DateTime, Utc};
use rusqlite::params;

use rusqlite::Transaction;

use super::db::SqliteStore;
use super::rows::opt_time;
use super::rows::parse_status;
use super::rows::{DAY_MS, from_ms, to_ms};
use crate::error::{Error, ErrorCode, Result};
use crate::model::history::{Bucket, BucketCount, HistoryPoint, KeyHistory};
use crate::model::key::KeyStatus;

/// `history.source` of rows observed from Kinde (the column's default).
pub(crate) const SOURCE_SYNC: &str = "sync";

/// `history.source` of rows synthesized for the demo sandbox.
pub(crate) const SOURCE_DEMO: &str = "demo";

/// One observed history row (and its daily roll-up) in the caller's transaction.
pub(crate) fn insert_history(
    tx: &Transaction<'_>,
    kid: i64,
    at: i64,
    count: Option<i64>,
    lvo: Option<i64>,
    ip: Option<&str>,
    status: KeyStatus,
    delta: i64,
) -> rusqlite::Result<()> {
    insert_history_from(tx, kid, at, count, lvo, ip, status, delta, SOURCE_SYNC)
}

/// One history row from `source` (`sync`, or `demo` for the demo sandbox's synthesized past)
/// and its daily roll-up, in the caller's transaction.
pub(crate) fn insert_history_from(
    tx: &Transaction<'_>,
    kid: i64,
    at: i64,
    count: Option<i64>,
    lvo: Option<i64>,
    ip: Option<&str>,
    status: KeyStatus,
    delta: i64,
    source: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO history (kid, at, verification_count, last_verified_on, last_verified_ip, \
         status, delta, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (kid, at) DO UPDATE SET \
         verification_count = excluded.verification_count, \
         last_verified_on = excluded.last_verified_on, \
         last_verified_ip = excluded.last_verified_ip, status = excluded.status, \
         delta = history.delta + excluded.delta",
    )?
    .execute(params![
        kid,
        at,
        count,
        lvo,
        ip,
        status.as_str(),
        delta,
        source
    ])?;
    if delta > 0 {
        tx.prepare_cached(
            "INSERT INTO daily (kid, day, verifications) VALUES (?1, ?2, ?3) \
             ON CONFLICT (kid, day) DO UPDATE SET \
             verifications = daily.verifications + excluded.verifications",
        )?
        .execute(params![kid, at.div_euclid(DAY_MS), delta])?;
    }
    Ok(())
}

/// One synthetic history row for bulk loading (benchmarks, imports).
#[derive(Debug, Clone)]
pub struct RawHistoryRow {
    pub kid: i64,
    pub at: i64,
    pub verification_count: Option<i64>,
    pub last_verified_on: Option<i64>,
    pub last_verified_ip: Option<String>,
    pub status: crate::model::key::KeyStatus,
    pub delta: i64,
}

impl SqliteStore {
    /// The row id of a cached key.
    pub fn kid_of(&self, key_id: &str) -> Result<Option<i64>> {
        self.with_conn(|c| {
            let mut st = c.prepare_cached("SELECT kid FROM keys WHERE profile = ?1 AND id = ?2")?;
            let mut rows = st.query_map(params![self.profile, key_id], |r| r.get(0))?;
            rows.next().transpose()
        })
    }

    /// A key's history since `since`: the observed points and verifications per bucket
    /// (every bucket from `since` to `now`, zeros included).
    pub fn key_history(
        &self,
        key_id: &str,
        bucket: Bucket,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<KeyHistory> {
        let (kid, name): (i64, String) = self
            .with_conn(|c| {
                let mut st =
                    c.prepare_cached("SELECT kid, name FROM keys WHERE profile = ?1 AND id = ?2")?;
                let mut rows = st.query_map(params![self.profile, key_id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
                rows.next().transpose()
            })?
            .ok_or_else(|| not_cached(key_id))?;
        let since_ms = to_ms(since);
        let points = self.with_conn(|c| {
            let mut st = c.prepare_cached(
                "SELECT at, verification_count, last_verified_on, last_verified_ip, status, delta \
                 FROM history WHERE kid = ?1 AND at >= ?2 ORDER BY at",
            )?;
            let rows = st.query_map(params![kid, since_ms], |r| {
                Ok(HistoryPoint {
                    at: from_ms(r.get(0)?).unwrap_or_default(),
                    verification_count: r.get(1)?,
                    last_verified_on: opt_time(r.get(2)?),
                    last_verified_ip: r.get(3)?,
                    status: parse_status(&r.get::<_, String>(4)?).as_str().to_string(),
                    delta: r.get(5)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let buckets = self.chart(kid, bucket, since, now)?;
        let total = buckets.iter().map(|b| b.verifications).sum();
        Ok(KeyHistory {
            key_id: key_id.to_string(),
            name: Some(name),
            bucket,
            since,
            points,
            buckets,
            total,
        })
    }

    /// Verifications per bucket for row id `kid`, from `since` to `now` (zeros filled).
    /// Days come from the daily roll-up; hours from the history deltas.
    pub fn chart(
        &self,
        kid: i64,
        bucket: Bucket,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<BucketCount>> {
        let size = bucket.millis();
        let first = to_ms(since).div_euclid(size);
        let last = to_ms(now).div_euclid(size);
        if last < first {
            return Ok(Vec::new());
        }
        let sums: Vec<(i64, i64)> = self.with_conn(|c| {
            let mut st = match bucket {
                Bucket::Day => c.prepare_cached(
                    "SELECT day, verifications FROM daily WHERE kid = ?1 \
                     AND day BETWEEN ?2 AND ?3 ORDER BY day",
                )?,
                Bucket::Hour => c.prepare_cached(
                    "SELECT at / 3600000, SUM(delta) FROM history WHERE kid = ?1 \
                     AND at >= ?2 * 3600000 AND at < (?3 + 1) * 3600000 \
                     GROUP BY at / 3600000 ORDER BY 1",
                )?,
            };
            let rows = st.query_map(params![kid, first, last], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        let len = usize::try_from(last - first + 1).unwrap_or(0);
        let mut out: Vec<BucketCount> = (0..len)
            .map(|i| BucketCount {
                start: from_ms((first + i as i64) * size).unwrap_or_default(),
                verifications: 0,
            })
            .collect();
        for (b, n) in sums {
            if let Some(slot) = usize::try_from(b - first).ok().and_then(|i| out.get_mut(i)) {
                slot.verifications += n;
            }
        }
        Ok(out)
    }

    /// Verifications of every key since `since` (from the daily roll-up), by row id.
    pub fn recent_verifications(
        &self,
        since: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<i64, i64>> {
        let first = to_ms(since).div_euclid(DAY_MS);
        self.with_conn(|c| {
            let mut st = c.prepare_cached(
                "SELECT d.kid, SUM(d.verifications) FROM daily d JOIN keys k ON k.kid = d.kid \
                 WHERE k.profile = ?1 AND d.day >= ?2 GROUP BY d.kid",
            )?;
            let rows =
                st.query_map(params![self.profile, first], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    /// Verifications of all keys of this profile per UTC day, from `since` to `now` (zeros
    /// filled; from the daily roll-up).
    pub fn daily_totals(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<BucketCount>> {
        let first = to_ms(since).div_euclid(DAY_MS);
        let last = to_ms(now).div_euclid(DAY_MS);
        if last < first {
            return Ok(Vec::new());
        }
        let sums: Vec<(i64, i64)> = self.with_conn(|c| {
            let mut st = c.prepare_cached(
                "SELECT d.day, SUM(d.verifications) FROM daily d JOIN keys k ON k.kid = d.kid \
                 WHERE k.profile = ?1 AND d.day BETWEEN ?2 AND ?3 GROUP BY d.day",
            )?;
            let rows = st.query_map(params![self.profile, first, last], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect()
        })?;
        let mut out: Vec<BucketCount> = (first..=last)
            .map(|d| BucketCount {
                start: from_ms(d * DAY_MS).unwrap_or_default(),
                verifications: 0,
            })
            .collect();
        for (d, n) in sums {
            if let Some(slot) = usize::try_from(d - first).ok().and_then(|i| out.get_mut(i)) {
                slot.verifications += n;
            }
        }
        Ok(out)
    }

    /// Verifications of one key after `after` (sum of history deltas).
    pub fn verifications_after(&self, key_id: &str, after: DateTime<Utc>) -> Result<i64> {
        self.with_conn(|c| {
            c.query_row(
                "SELECT COALESCE(SUM(h.delta), 0) FROM history h JOIN keys k ON k.kid = h.kid \
                 WHERE k.profile = ?1 AND k.id = ?2 AND h.at > ?3",
                params![self.profile, key_id, to_ms(after)],
                |r| r.get(0),
            )
        })
    }

    /// The whole history of this profile, in key then time order (export).
    pub fn all_history(&self) -> Result<Vec<(String, HistoryPoint)>> {
        self.with_conn(|c| {
            let mut st = c.prepare(
                "SELECT k.id, h.at, h.verification_count, h.last_verified_on, h.last_verified_ip, \
                 h.status, h.delta FROM history h JOIN keys k ON k.kid = h.kid \
                 WHERE k.profile = ?1 ORDER BY k.id, h.at",
            )?;
            let rows = st.query_map([&self.profile], |r| {
                Ok((
                    r.get(0)?,
                    HistoryPoint {
                        at: from_ms(r.get(1)?).unwrap_or_default(),
                        verification_count: r.get(2)?,
                        last_verified_on: opt_time(r.get(3)?),
                        last_verified_ip: r.get(4)?,
                        status: r.get(5)?,
                        delta: r.get(6)?,
                    },
                ))
            })?;
            rows.collect()
        })
    }

    /// Number of history rows of this profile (tests, benches).
    pub fn history_len(&self) -> Result<i64> {
        self.with_conn(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM history h JOIN keys k ON k.kid = h.kid WHERE k.profile = ?1",
                [&self.profile],
                |r| r.get(0),
            )
        })
    }

    /// Bulk-loads history rows in one transaction (benchmarks and imports). Daily roll-ups
    /// are maintained exactly as sync does.
    #[doc(hidden)]
    pub fn bulk_insert_history(&self, rows: &[RawHistoryRow]) -> Result<()> {
        self.with_tx(|tx| {
            for r in rows {
                insert_history(
                    tx,
                    r.kid,
                    r.at,
                    r.verification_count,
                    r.last_verified_on,
                    r.last_verified_ip.as_deref(),
                    r.status,
                    r.delta,
                )?;
            }
            Ok(())
        })
    }
}

fn not_cached(key_id: &str) -> Error {
    Error::new(
        ErrorCode::NotFound,
        format!("key {key_id} is not in the local store"),
        "Run `keyward sync` first, and check the key id with `keyward keys list`.",
    )
}
