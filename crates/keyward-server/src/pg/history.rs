//! History (store/history.rs and store/demo.rs in core): rows, the daily roll-up, charts.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use keyward_core::error::{Error, ErrorCode, Result};
use keyward_core::model::history::{
    Bucket, BucketCount, HistoryPoint, HistoryTotals, KeyHistory, ROLLED_HOURS_DAYS, RollupSummary,
};
use keyward_core::model::key::KeyStatus;
use keyward_core::store::{HistoryAnchor, PrefillOutcome, RawHistoryRow, from_ms, to_ms};
use postgres::Transaction;

use super::{DAY_MS, PgStore, R, Stmts, opt_time, parse_status};

const SOURCE_SYNC: &str = "sync";

const HOUR_MS: i64 = 3_600_000;

/// Verifications of key row `$1` in `($2, $3]` over everything kept: history rows by their
/// time; rolled-up hours and folded days when the whole hour or day lies in `[$2, $3]`.
pub(crate) const VERIFICATIONS_IN: &str = "SELECT \
    (SELECT COALESCE(SUM(delta), 0) FROM history WHERE kid = $1 AND at > $2 AND at <= $3)::BIGINT \
    + (SELECT COALESCE(SUM(h.n), 0) FROM rolled_days r \
       CROSS JOIN LATERAL unnest(r.hours) WITH ORDINALITY AS h(n, i) \
       WHERE r.kid = $1 AND r.day BETWEEN $2::BIGINT / 86400000 AND $3::BIGINT / 86400000 \
       AND r.day * 86400000 + (h.i - 1) * 3600000 >= $2 \
       AND r.day * 86400000 + h.i * 3600000 <= $3)::BIGINT \
    + (SELECT COALESCE(SUM(verifications), 0) FROM daily WHERE kid = $1 AND ips IS NOT NULL \
       AND day * 86400000 >= $2 AND day * 86400000 + 86400000 <= $3)::BIGINT";

/// When key row `$1`'s history starts: its first row, or the first day rolled up or folded.
pub(crate) const FIRST_AT: &str = "SELECT LEAST( \
    (SELECT MIN(at) FROM history WHERE kid = $1), \
    (SELECT MIN(day) * 86400000 FROM rolled_days WHERE kid = $1), \
    (SELECT MIN(day) * 86400000 FROM daily WHERE kid = $1 AND ips IS NOT NULL))";

/// Every address key row `$1` was verified from at or before `$2` (its address set).
pub(crate) const IPS_UNTIL: &str = "SELECT ip FROM key_ips WHERE kid = $1 AND first_seen <= $2";
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
            // History rows and the hours rolled up from older ones.
            Bucket::Hour => {
                "SELECT at / 3600000 AS b, SUM(delta)::BIGINT FROM history WHERE kid = $1 \
                 AND at >= $2::BIGINT * 3600000 AND at < ($3::BIGINT + 1) * 3600000 \
                 GROUP BY at / 3600000 \
                 UNION ALL SELECT r.day * 24 + h.i - 1, h.n FROM rolled_days r \
                 CROSS JOIN LATERAL unnest(r.hours) WITH ORDINALITY AS h(n, i) \
                 WHERE r.kid = $1 AND r.day BETWEEN $2::BIGINT / 24 AND $3::BIGINT / 24 \
                 AND h.n > 0 ORDER BY 1"
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
        let Some(kid) = self.kid_of(key_id)? else {
            return Ok(0);
        };
        self.with_conn(|c| {
            Ok(
                c.query_one(VERIFICATIONS_IN, &[&kid, &to_ms(after), &i64::MAX])?
                    .get(0),
            )
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

/// One history row as the roll-up reads it.
struct Sample {
    at: i64,
    lvo: Option<i64>,
    ip: Option<String>,
    delta: i64,
}

impl PgStore {
    /// The roll-up of old history (core's `Store::roll_up_history`), over the same tables'
    /// PostgreSQL port: whole UTC days of a key before the retention (never the day of its
    /// newest row) into `rolled_days`, rolled days older than a year folded into `daily`, in
    /// transactions of about `batch` rows.
    pub(crate) fn roll_up_history(
        &self,
        now: DateTime<Utc>,
        keep_raw_days: u32,
        batch: u32,
        between: &dyn Fn(&RollupSummary) -> bool,
    ) -> Result<RollupSummary> {
        let today = to_ms(now).div_euclid(DAY_MS);
        let raw_before = today - i64::from(keep_raw_days.max(1));
        let rolled_before = today - i64::from(ROLLED_HOURS_DAYS);
        let batch = usize::try_from(batch.max(1)).unwrap_or(1);
        let mut sum = RollupSummary::default();
        let done: Option<(i64, i64)> = self.with_conn(|c| {
            Ok(c.query_opt(
                "SELECT raw_before, rolled_before FROM history_rollup WHERE profile = $1",
                &[&self.profile],
            )?
            .map(|r| (r.get(0), r.get(1))))
        })?;
        if done.is_some_and(|(r, f)| r >= raw_before && f >= rolled_before) {
            return Ok(sum);
        }
        sum.ran = true;
        let kids: Vec<i64> = self.with_conn(|c| {
            Ok(c.query(
                "SELECT kid FROM keys WHERE profile = $1 ORDER BY kid",
                &[&self.profile],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
        })?;
        let mut next = 0usize;
        while next < kids.len() {
            let mut rows_in_tx = 0usize;
            self.with_tx(|tx| {
                while rows_in_tx < batch && next < kids.len() {
                    let kid = kids[next];
                    match roll_key(tx, kid, raw_before, batch - rows_in_tx, rows_in_tx == 0)? {
                        Some((samples, days)) if samples > 0 => {
                            rows_in_tx += samples;
                            sum.samples_rolled += samples as u64;
                            sum.days_rolled += days as u64;
                            continue;
                        }
                        Some(_) => {}
                        None => break,
                    }
                    let folded = fold_key(tx, kid, rolled_before)?;
                    rows_in_tx += folded;
                    sum.days_folded += folded as u64;
                    next += 1;
                }
                Ok(())
            })?;
            sum.transactions += 1;
            if next < kids.len() && !between(&sum) {
                // Stopped by the caller: the next run goes on from here.
                return Ok(sum);
            }
        }
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO history_rollup (profile, raw_before, rolled_before) \
                 VALUES ($1, $2, $3) ON CONFLICT (profile) DO UPDATE SET \
                 raw_before = EXCLUDED.raw_before, rolled_before = EXCLUDED.rolled_before",
                &[&self.profile, &raw_before, &rolled_before],
            )?;
            Ok(())
        })?;
        Ok(sum)
    }

    pub(crate) fn history_totals(&self) -> Result<HashMap<i64, HistoryTotals>> {
        self.with_conn(|c| {
            Ok(c.query(
                "SELECT kid, SUM(n)::BIGINT, MAX(lvo) FROM ( \
                 SELECT kid, delta AS n, last_verified_on AS lvo FROM history \
                 UNION ALL SELECT r.kid, (SELECT COALESCE(SUM(x), 0) FROM unnest(r.hours) x), \
                 r.last_verified_on FROM rolled_days r \
                 UNION ALL SELECT kid, verifications, last_verified_on FROM daily \
                 WHERE ips IS NOT NULL) t \
                 WHERE kid IN (SELECT kid FROM keys WHERE profile = $1) GROUP BY kid",
                &[&self.profile],
            )?
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    HistoryTotals {
                        verifications: r.get(1),
                        last_verified_on: r.get(2),
                    },
                )
            })
            .collect())
        })
    }
}

/// Core's `roll_key` on PostgreSQL: the next whole days of key row `kid` before `raw_before`
/// (and before the day of its newest row), at most `budget` rows unless one day alone has
/// more and `alone`. `None`: the next day does not fit in `budget`.
fn roll_key(
    tx: &mut Transaction<'_>,
    kid: i64,
    raw_before: i64,
    budget: usize,
    alone: bool,
) -> R<Option<(usize, usize)>> {
    let newest: Option<i64> = tx
        .query_one("SELECT MAX(at) FROM history WHERE kid = $1", &[&kid])?
        .get(0);
    let Some(newest) = newest else {
        return Ok(Some((0, 0)));
    };
    let until = raw_before.min(newest.div_euclid(DAY_MS)) * DAY_MS;
    let read = |tx: &mut Transaction<'_>, limit: i64, until: i64| -> R<Vec<Sample>> {
        Ok(tx
            .query(
                "SELECT at, last_verified_on, last_verified_ip, delta FROM history \
                 WHERE kid = $1 AND at < $2 ORDER BY at LIMIT $3",
                &[&kid, &until, &limit],
            )?
            .iter()
            .map(|r| Sample {
                at: r.get(0),
                lvo: r.get(1),
                ip: r.get(2),
                delta: r.get(3),
            })
            .collect())
    };
    let mut rows = read(
        tx,
        i64::try_from(budget).unwrap_or(i64::MAX).saturating_add(1),
        until,
    )?;
    if rows.len() > budget {
        let cut = rows[budget].at.div_euclid(DAY_MS);
        rows.retain(|s| s.at.div_euclid(DAY_MS) < cut);
        if rows.is_empty() {
            if !alone {
                return Ok(None);
            }
            rows = read(tx, i64::MAX, (cut + 1) * DAY_MS)?;
        }
    }
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(Some((0, 0)));
    };
    let (first_at, last_at) = (first.at, last.at);
    let mut days = 0usize;
    let mut i = 0;
    while i < rows.len() {
        let day = rows[i].at.div_euclid(DAY_MS);
        let mut hours = vec![0i64; 24];
        let mut lvo: Option<i64> = None;
        let mut ips = HashSet::new();
        while i < rows.len() && rows[i].at.div_euclid(DAY_MS) == day {
            let s = &rows[i];
            let h = usize::try_from(s.at.rem_euclid(DAY_MS) / HOUR_MS).unwrap_or(0);
            hours[h.min(23)] += s.delta.max(0);
            lvo = lvo.max(s.lvo);
            if let Some(ip) = &s.ip {
                ips.insert(ip.clone());
            }
            i += 1;
        }
        let before = tx.query_opt(
            "SELECT hours, last_verified_on, ips FROM rolled_days WHERE kid = $1 AND day = $2",
            &[&kid, &day],
        )?;
        let mut n_ips = ips.len() as i64;
        if let Some(r) = before {
            // A row written into a day already rolled up (rare): merge.
            let old: Vec<i64> = r.get(0);
            for (h, n) in old.iter().enumerate().take(24) {
                hours[h] += n;
            }
            lvo = lvo.max(r.get(1));
            n_ips = n_ips.max(r.get(2));
        }
        tx.execute(
            "INSERT INTO rolled_days (kid, day, hours, last_verified_on, ips) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kid, day) DO UPDATE SET \
             hours = EXCLUDED.hours, last_verified_on = EXCLUDED.last_verified_on, \
             ips = EXCLUDED.ips",
            &[&kid, &day, &hours, &lvo, &n_ips],
        )?;
        days += 1;
    }
    tx.execute(
        "DELETE FROM history WHERE kid = $1 AND at BETWEEN $2 AND $3",
        &[&kid, &first_at, &last_at],
    )?;
    Ok(Some((rows.len(), days)))
}

/// Folds key row `kid`'s rolled days before `rolled_before` into `daily`; returns how many.
fn fold_key(tx: &mut Transaction<'_>, kid: i64, rolled_before: i64) -> R<usize> {
    tx.execute(
        "INSERT INTO daily (kid, day, verifications, last_verified_on, ips) \
         SELECT kid, day, 0, last_verified_on, ips FROM rolled_days \
         WHERE kid = $1 AND day < $2 \
         ON CONFLICT (kid, day) DO UPDATE SET \
         last_verified_on = EXCLUDED.last_verified_on, ips = EXCLUDED.ips",
        &[&kid, &rolled_before],
    )?;
    let n = tx.execute(
        "DELETE FROM rolled_days WHERE kid = $1 AND day < $2",
        &[&kid, &rolled_before],
    )?;
    Ok(usize::try_from(n).unwrap_or(0))
}
