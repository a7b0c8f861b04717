//! History (store/history.rs and store/demo.rs in core): rows, the daily roll-up, charts.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use keyward_core::error::{Error, ErrorCode, Result};
use keyward_core::model::history::{Bucket, BucketCount, HistoryPoint, KeyHistory};
use keyward_core::model::key::KeyStatus;
use keyward_core::store::{HistoryAnchor, PrefillOutcome, RawHistoryRow, from_ms, to_ms};
use postgres::Transaction;

use super::{DAY_MS, PgStore, R, Stmts, opt_time, parse_status};

const SOURCE_SYNC: &str = "sync";
const SOURCE_DEMO: &str = "demo";

/// One observed history row (and its daily roll-up) in the caller's transaction.
#[allow(clippy::too_many_arguments, reason = "the port keeps core's signature")]
pub(crate) fn insert_history(
    tx: &mut Transaction<'_>,
    st: &mut Stmts,
    kid: i64,
    at: i64,
    count: Option<i64>,
    lvo: Option<i64>,
    ip: Option<&str>,
    status: KeyStatus,
    delta: i64,
) -> R<()> {
    insert_history_from(tx, st, kid, at, count, lvo, ip, status, delta, SOURCE_SYNC)
}

#[allow(clippy::too_many_arguments, reason = "the port keeps core's signature")]
fn insert_history_from(
    tx: &mut Transaction<'_>,
    st: &mut Stmts,
    kid: i64,
    at: i64,
    count: Option<i64>,
    lvo: Option<i64>,
    ip: Option<&str>,
    status: KeyStatus,
    delta: i64,
    source: &str,
) -> R<()> {
    let s = st.get(
        tx,
        "INSERT INTO history (kid, at, verification_count, last_verified_on, last_verified_ip, \
         status, delta, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (kid, at) DO UPDATE SET \
         verification_count = excluded.verification_count, \
         last_verified_on = excluded.last_verified_on, \
         last_verified_ip = excluded.last_verified_ip, status = excluded.status, \
         delta = history.delta + excluded.delta",
    )?;
    tx.execute(
        &s,
        &[
            &kid,
            &at,
            &count,
            &lvo,
            &ip,
            &status.as_str(),
            &delta,
            &source,
        ],
    )?;
    if delta > 0 {
        let s = st.get(
            tx,
            "INSERT INTO daily (kid, day, verifications) VALUES ($1, $2, $3) \
             ON CONFLICT (kid, day) DO UPDATE SET \
             verifications = daily.verifications + excluded.verifications",
        )?;
        tx.execute(&s, &[&kid, &at.div_euclid(DAY_MS), &delta])?;
    }
    Ok(())
}

fn not_cached(key_id: &str) -> Error {
    Error::new(
        ErrorCode::NotFound,
        format!("key {key_id} is not in the server's store"),
        "Wait for the next sync, and check the key id in the key list.",
    )
}

fn point(r: &postgres::Row, o: usize) -> HistoryPoint {
    HistoryPoint {
        at: from_ms(r.get(o)).unwrap_or_default(),
        verification_count: r.get(o + 1),
        last_verified_on: opt_time(r.get(o + 2)),
        last_verified_ip: r.get(o + 3),
        status: parse_status(&r.get::<_, String>(o + 4))
            .as_str()
            .to_string(),
        delta: r.get(o + 5),
    }
}

impl PgStore {
    pub(crate) fn kid_of(&self, key_id: &str) -> Result<Option<i64>> {
        self.with_conn(|c| {
            Ok(c.query_opt(
                "SELECT kid FROM keys WHERE profile = $1 AND id = $2",
                &[&self.profile, &key_id],
            )?
            .map(|r| r.get(0)))
        })
    }

    pub(crate) fn key_history(
        &self,
        key_id: &str,
        bucket: Bucket,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<KeyHistory> {
        let (kid, name): (i64, String) = self
            .with_conn(|c| {
                Ok(c.query_opt(
                    "SELECT kid, name FROM keys WHERE profile = $1 AND id = $2",
                    &[&self.profile, &key_id],
                )?
                .map(|r| (r.get(0), r.get(1))))
            })?
            .ok_or_else(|| not_cached(key_id))?;
        let since_ms = to_ms(since);
        let points = self.with_conn(|c| {
            Ok(c.query(
                "SELECT at, verification_count, last_verified_on, last_verified_ip, status, delta \
                 FROM history WHERE kid = $1 AND at >= $2 ORDER BY at",
                &[&kid, &since_ms],
            )?
            .iter()
            .map(|r| point(r, 0))
            .collect::<Vec<_>>())
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

    pub(crate) fn chart(
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
        let sql = match bucket {
            Bucket::Day => {
                "SELECT day, verifications FROM daily WHERE kid = $1 \
                 AND day BETWEEN $2 AND $3 ORDER BY day"
            }
            Bucket::Hour => {
                "SELECT at / 3600000, SUM(delta)::BIGINT FROM history WHERE kid = $1 \
                 AND at >= $2::BIGINT * 3600000 AND at < ($3::BIGINT + 1) * 3600000 \
                 GROUP BY at / 3600000 ORDER BY 1"
            }
        };
        let sums: Vec<(i64, i64)> = self.with_conn(|c| {
            Ok(c.query(sql, &[&kid, &first, &last])?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
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

    pub(crate) fn recent_verifications(&self, since: DateTime<Utc>) -> Result<HashMap<i64, i64>> {
        let first = to_ms(since).div_euclid(DAY_MS);
        self.with_conn(|c| {
            Ok(c.query(
                "SELECT d.kid, SUM(d.verifications)::BIGINT FROM daily d JOIN keys k ON k.kid = d.kid \
                 WHERE k.profile = $1 AND d.day >= $2 GROUP BY d.kid",
                &[&self.profile, &first],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })
    }

    pub(crate) fn daily_totals(
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
            Ok(c.query(
                "SELECT d.day, SUM(d.verifications)::BIGINT FROM daily d JOIN keys k ON k.kid = d.kid \
                 WHERE k.profile = $1 AND d.day BETWEEN $2 AND $3 GROUP BY d.day",
                &[&self.profile, &first, &last],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
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

    pub(crate) fn verifications_after(&self, key_id: &str, after: DateTime<Utc>) -> Result<i64> {
        self.with_conn(|c| {
            Ok(c.query_one(
                "SELECT COALESCE(SUM(h.delta), 0)::BIGINT FROM history h JOIN keys k ON k.kid = h.kid \
                 WHERE k.profile = $1 AND k.id = $2 AND h.at > $3",
                &[&self.profile, &key_id, &to_ms(after)],
            )?
            .get(0))
        })
    }

    pub(crate) fn all_history(&self) -> Result<Vec<(String, HistoryPoint)>> {
        self.with_conn(|c| {
            Ok(c.query(
                "SELECT k.id, h.at, h.verification_count, h.last_verified_on, h.last_verified_ip, \
                 h.status, h.delta FROM history h JOIN keys k ON k.kid = h.kid \
                 WHERE k.profile = $1 ORDER BY k.id, h.at",
                &[&self.profile],
            )?
            .iter()
            .map(|r| {
                let mut p = point(r, 1);
                // Core's export keeps the status as stored.
                p.status = r.get(5);
                (r.get(0), p)
            })
            .collect())
        })
    }

    pub(crate) fn history_len(&self) -> Result<i64> {
        self.with_conn(|c| {
            Ok(c.query_one(
                "SELECT COUNT(*) FROM history h JOIN keys k ON k.kid = h.kid WHERE k.profile = $1",
                &[&self.profile],
            )?
            .get(0))
        })
    }

    pub(crate) fn bulk_insert_history(&self, rows: &[RawHistoryRow]) -> Result<()> {
        self.with_tx(|tx| {
            let mut st = Stmts::default();
            for r in rows {
                insert_history(
                    tx,
                    &mut st,
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

    pub(crate) fn prefill_demo_history(
        &self,
        cutoff: DateTime<Utc>,
        plan: &dyn Fn(&[HistoryAnchor]) -> Vec<RawHistoryRow>,
    ) -> Result<PrefillOutcome> {
        self.with_tx(|tx| {
            let has_past: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM history h JOIN keys k ON k.kid = h.kid \
                     WHERE k.profile = $1 AND (h.at < $2 OR h.source = $3))",
                    &[&self.profile, &to_ms(cutoff), &SOURCE_DEMO],
                )?
                .get(0);
            if has_past {
                return Ok(PrefillOutcome::HasHistory);
            }
            let anchors: Vec<HistoryAnchor> = tx
                .query(
                    "SELECT k.kid, k.id, k.created_on, h.at, h.verification_count, \
                     h.last_verified_on, h.last_verified_ip, h.status FROM keys k \
                     JOIN history h ON h.kid = k.kid \
                     WHERE k.profile = $1 AND h.at = (SELECT MIN(at) FROM history WHERE kid = k.kid) \
                     AND h.verification_count > 0 ORDER BY k.id",
                    &[&self.profile],
                )?
                .iter()
                .map(|r| HistoryAnchor {
                    kid: r.get(0),
                    key_id: r.get(1),
                    created_on: r.get(2),
                    first_at: r.get(3),
                    count: r.get(4),
                    last_verified_on: r.get(5),
                    last_verified_ip: r.get(6),
                    status: parse_status(&r.get::<_, String>(7)),
                })
                .collect();
            if anchors.is_empty() {
                return Ok(PrefillOutcome::NothingToAnchor);
            }
            let rows = plan(&anchors);
            let first_at: HashMap<i64, i64> = anchors.iter().map(|a| (a.kid, a.first_at)).collect();
            let mut keys = HashSet::new();
            let mut st = Stmts::default();
            for r in &rows {
                if first_at.get(&r.kid).is_none_or(|&f| r.at >= f) {
                    return Err(Error::internal(format!(
                        "a synthesized demo row (key row {}, at {}) is not before its key's history",
                        r.kid, r.at
                    ))
                    .into());
                }
                insert_history_from(
                    tx,
                    &mut st,
                    r.kid,
                    r.at,
                    r.verification_count,
                    r.last_verified_on,
                    r.last_verified_ip.as_deref(),
                    r.status,
                    r.delta,
                    SOURCE_DEMO,
                )?;
                keys.insert(r.kid);
            }
            Ok(PrefillOutcome::Written {
                keys: keys.len(),
                rows: rows.len(),
            })
        })
    }

    pub(crate) fn demo_history_len(&self) -> Result<i64> {
        self.with_conn(|c| {
            Ok(c.query_one(
                "SELECT COUNT(*) FROM history h JOIN keys k ON k.kid = h.kid \
                 WHERE k.profile = $1 AND h.source = $2",
                &[&self.profile, &SOURCE_DEMO],
            )?
            .get(0))
        })
    }
}
