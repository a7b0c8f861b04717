//! History queries: a key's time series and verifications per hour or day.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::db::SqliteStore;
use super::rows::opt_time;
use super::rows::parse_status;
use super::rows::{DAY_MS, from_ms, to_ms};

const HOUR_MS: i64 = 3_600_000;
use crate::error::{Error, ErrorCode, Result};
use crate::model::history::{
    Bucket, BucketCount, HistoryPoint, HistoryTotals, KeyHistory, ROLLED_HOURS_DAYS, RollupSummary,
    pack_hours, unpack_hours,
};
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
/// and its daily roll-up, in the caller's transaction: a compact sample (the address as an id,
/// the status as a small integer), the key's address set and the day's verifications.
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
    let ip_id = match ip {
        Some(ip) => Some(ip_id(tx, ip)?),
        None => None,
    };
    tx.prepare_cached(
        "INSERT INTO samples (kid, at, count, lvo_ago, ip_id, status, delta, demo) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (kid, at) DO UPDATE SET \
         count = excluded.count, lvo_ago = excluded.lvo_ago, ip_id = excluded.ip_id, \
         status = excluded.status, delta = samples.delta + excluded.delta",
    )?
    .execute(params![
        kid,
        at,
        count,
        lvo.map(|l| at - l),
        ip_id,
        status_code(status),
        delta,
        (source == SOURCE_DEMO).then_some(1),
    ])?;
    if let Some(ip_id) = ip_id {
        tx.prepare_cached(
            "INSERT INTO key_ips (kid, ip_id, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3) \
             ON CONFLICT (kid, ip_id) DO UPDATE SET \
             first_seen = MIN(first_seen, excluded.first_seen), \
             last_seen = MAX(last_seen, excluded.last_seen) \
             WHERE excluded.first_seen < first_seen OR excluded.last_seen > last_seen",
        )?
        .execute(params![kid, ip_id, at])?;
    }
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

/// A key status as stored in `samples.status` (0 takes no bytes in a SQLite record).
fn status_code(s: KeyStatus) -> i64 {
    match s {
        KeyStatus::Active => 0,
        KeyStatus::Inactive => 1,
        KeyStatus::Revoked => 2,
    }
}

/// The id of an address in `ips`, added when new.
fn ip_id(tx: &Transaction<'_>, ip: &str) -> rusqlite::Result<i64> {
    if let Some(id) = tx
        .prepare_cached("SELECT id FROM ips WHERE ip = ?1")?
        .query_row([ip], |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    tx.prepare_cached("INSERT INTO ips (ip) VALUES (?1)")?
        .execute([ip])?;
    Ok(tx.last_insert_rowid())
}

/// Verifications of row id `kid` in `(after, until]` over everything kept: raw samples by
/// their time; rolled-up hours and folded days when the whole hour or day lies in
/// `[after, until]` (exact for hour-aligned windows, which is what the rules ask of old
/// history; the current hour is never rolled up).
pub(crate) fn verifications_in(
    c: &Connection,
    kid: i64,
    after: i64,
    until: i64,
) -> rusqlite::Result<i64> {
    let raw: i64 = c
        .prepare_cached(
            "SELECT COALESCE(SUM(delta), 0) FROM samples WHERE kid = ?1 AND at > ?2 AND at <= ?3",
        )?
        .query_row(params![kid, after, until], |r| r.get(0))?;
    let mut rolled = 0i64;
    let mut st = c.prepare_cached(
        "SELECT day, hours FROM rolled_days WHERE kid = ?1 AND day BETWEEN ?2 AND ?3",
    )?;
    let mut rows = st.query(params![
        kid,
        after.div_euclid(DAY_MS),
        until.div_euclid(DAY_MS)
    ])?;
    while let Some(r) = rows.next()? {
        let day: i64 = r.get(0)?;
        let hours = unpack_hours(&r.get::<_, Vec<u8>>(1)?);
        for (h, n) in hours.iter().enumerate() {
            let start = day * DAY_MS + h as i64 * HOUR_MS;
            if start >= after && start.saturating_add(HOUR_MS) <= until {
                rolled = rolled.saturating_add(*n);
            }
        }
    }
    let folded: i64 = c
        .prepare_cached(
            "SELECT COALESCE(SUM(verifications), 0) FROM daily WHERE kid = ?1 \
             AND ips IS NOT NULL AND day * 86400000 >= ?2 AND day * 86400000 + 86400000 <= ?3",
        )?
        .query_row(params![kid, after, until], |r| r.get(0))?;
    Ok(raw.saturating_add(rolled).saturating_add(folded))
}

/// When row id `kid`'s history starts: its first sample, or the first day rolled up or
/// folded before it.
pub(crate) fn first_history_at(c: &Connection, kid: i64) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached(
        "SELECT MIN(v) FROM (SELECT MIN(at) AS v FROM samples WHERE kid = ?1 \
         UNION ALL SELECT MIN(day) * 86400000 FROM rolled_days WHERE kid = ?1 \
         UNION ALL SELECT MIN(day) * 86400000 FROM daily WHERE kid = ?1 AND ips IS NOT NULL)",
    )?
    .query_row([kid], |r| r.get(0))
}

/// Every address row id `kid` was verified from at or before `at` (the key's address set).
pub(crate) fn ips_until(c: &Connection, kid: i64, at: i64) -> rusqlite::Result<HashSet<String>> {
    let mut st = c.prepare_cached(
        "SELECT i.ip FROM key_ips k JOIN ips i ON i.id = k.ip_id \
         WHERE k.kid = ?1 AND k.first_seen <= ?2",
    )?;
    let rows = st.query_map(params![kid, at], |r| r.get(0))?;
    rows.collect()
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
                    "SELECT at / 3600000, SUM(delta) FROM samples WHERE kid = ?1 \
                     AND at >= ?2 * 3600000 AND at < (?3 + 1) * 3600000 \
                     GROUP BY at / 3600000 ORDER BY 1",
                )?,
            };
            let rows = st.query_map(params![kid, first, last], |r| Ok((r.get(0)?, r.get(1)?)));
            let mut sums: Vec<(i64, i64)> = rows?.collect::<rusqlite::Result<_>>()?;
            if bucket == Bucket::Hour {
                // Hours rolled up from samples older than the retention period.
                let mut st = c.prepare_cached(
                    "SELECT day, hours FROM rolled_days WHERE kid = ?1 AND day BETWEEN ?2 AND ?3",
                )?;
                let mut rows = st.query(params![kid, first.div_euclid(24), last.div_euclid(24)])?;
                while let Some(r) = rows.next()? {
                    let day: i64 = r.get(0)?;
                    let hours = unpack_hours(&r.get::<_, Vec<u8>>(1)?);
                    sums.extend(
                        hours
                            .iter()
                            .enumerate()
                            .filter(|(_, n)| **n > 0)
                            .map(|(h, n)| (day * 24 + h as i64, *n)),
                    );
                }
            }
            Ok(sums)
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

    /// Verifications of one key after `after` (raw samples by their time, rolled-up hours and
    /// days by their start).
    pub fn verifications_after(&self, key_id: &str, after: DateTime<Utc>) -> Result<i64> {
        let Some(kid) = self.kid_of(key_id)? else {
            return Ok(0);
        };
        self.with_conn(|c| verifications_in(c, kid, to_ms(after), i64::MAX))
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
                "SELECT COUNT(*) FROM samples h JOIN keys k ON k.kid = h.kid WHERE k.profile = ?1",
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

/// One raw sample as the roll-up reads it.
struct Sample {
    at: i64,
    lvo: Option<i64>,
    ip_id: Option<i64>,
    delta: i64,
}

impl SqliteStore {
    /// Rolls up old history in transactions of at most about `batch` samples each: a key's
    /// samples of whole UTC days older than `keep_raw_days` (except the day of its newest
    /// sample, which the sync compares the next observation with) become verifications per
    /// hour with the day's last verification and distinct addresses (`rolled_days`), and
    /// rolled days older than [`ROLLED_HOURS_DAYS`] are folded into their day's row of
    /// `daily`. Each transaction writes the roll-up and deletes what it rolled, so a process
    /// killed between (or inside) them loses nothing and the next run goes on. `between` is
    /// called after each committed transaction but the last; answering false stops here (the
    /// next run goes on). Nothing runs when the last complete roll-up of this profile already
    /// reached the same days.
    pub fn roll_up_history(
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
            c.query_row(
                "SELECT raw_before, rolled_before FROM history_rollup WHERE profile = ?1",
                [&self.profile],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })?;
        if done.is_some_and(|(r, f)| r >= raw_before && f >= rolled_before) {
            return Ok(sum);
        }
        sum.ran = true;
        let kids: Vec<i64> = self.with_conn(|c| {
            let mut st = c.prepare("SELECT kid FROM keys WHERE profile = ?1 ORDER BY kid")?;
            let rows = st.query_map([&self.profile], |r| r.get(0))?;
            rows.collect()
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
                            // More of this key may be left: look again.
                            continue;
                        }
                        Some(_) => {}
                        // The budget of this transaction ends inside a day: go on in the next.
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
                 VALUES (?1, ?2, ?3) ON CONFLICT (profile) DO UPDATE SET \
                 raw_before = excluded.raw_before, rolled_before = excluded.rolled_before",
                params![self.profile, raw_before, rolled_before],
            )
        })?;
        Ok(sum)
    }

    /// Every key's verifications over everything kept and its newest last verification, by
    /// row id (tests and benches: a roll-up must leave these as they were).
    pub fn history_totals(&self) -> Result<HashMap<i64, HistoryTotals>> {
        self.with_conn(|c| {
            let mut st = c.prepare(
                "SELECT kid, SUM(n), MAX(lvo) FROM ( \
                 SELECT s.kid AS kid, s.delta AS n, s.at - s.lvo_ago AS lvo FROM samples s \
                 UNION ALL SELECT r.kid, 0, r.last_verified_on FROM rolled_days r \
                 UNION ALL SELECT d.kid, d.verifications, d.last_verified_on FROM daily d \
                 WHERE d.ips IS NOT NULL) t WHERE kid IN (SELECT kid FROM keys WHERE profile = ?1) \
                 GROUP BY kid",
            )?;
            let mut out: HashMap<i64, HistoryTotals> = st
                .query_map([&self.profile], |r| {
                    Ok((
                        r.get(0)?,
                        HistoryTotals {
                            verifications: r.get(1)?,
                            last_verified_on: r.get(2)?,
                        },
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            // The rolled-up hours' verifications.
            let mut st = c.prepare(
                "SELECT r.kid, r.hours FROM rolled_days r JOIN keys k ON k.kid = r.kid \
                 WHERE k.profile = ?1",
            )?;
            let mut rows = st.query([&self.profile])?;
            while let Some(r) = rows.next()? {
                let n: i64 = unpack_hours(&r.get::<_, Vec<u8>>(1)?).iter().sum();
                let t = out.entry(r.get(0)?).or_default();
                t.verifications = t.verifications.saturating_add(n);
            }
            Ok(out)
        })
    }
}

/// Rolls up the next whole days of row id `kid`'s samples before day `raw_before` (and before
/// the day of its newest sample), at most `budget` samples unless one day alone has more and
/// `alone` (nothing else in this transaction yet). `Some((samples, days))` rolled; `None`:
/// the next day does not fit in `budget`.
fn roll_key(
    tx: &Transaction<'_>,
    kid: i64,
    raw_before: i64,
    budget: usize,
    alone: bool,
) -> rusqlite::Result<Option<(usize, usize)>> {
    let newest: Option<i64> = tx
        .prepare_cached("SELECT MAX(at) FROM samples WHERE kid = ?1")?
        .query_row([kid], |r| r.get(0))?;
    let Some(newest) = newest else {
        return Ok(Some((0, 0)));
    };
    let until = raw_before.min(newest.div_euclid(DAY_MS)) * DAY_MS;
    let read = |limit: i64, until: i64| -> rusqlite::Result<Vec<Sample>> {
        let mut st = tx.prepare_cached(
            "SELECT at, at - lvo_ago, ip_id, delta FROM samples \
             WHERE kid = ?1 AND at < ?2 ORDER BY at LIMIT ?3",
        )?;
        let rows = st.query_map(params![kid, until, limit], |r| {
            Ok(Sample {
                at: r.get(0)?,
                lvo: r.get(1)?,
                ip_id: r.get(2)?,
                delta: r.get(3)?,
            })
        })?;
        rows.collect()
    };
    let mut rows = read(
        i64::try_from(budget).unwrap_or(i64::MAX).saturating_add(1),
        until,
    )?;
    if rows.len() > budget {
        // Keep whole days only: drop the day the budget cuts through.
        let cut = rows[budget].at.div_euclid(DAY_MS);
        rows.retain(|s| s.at.div_euclid(DAY_MS) < cut);
        if rows.is_empty() {
            if !alone {
                return Ok(None);
            }
            // One day holds more samples than a batch: it goes in one transaction.
            rows = read(i64::MAX, (cut + 1) * DAY_MS)?;
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
        let mut hours = [0i64; 24];
        let mut lvo: Option<i64> = None;
        let mut ips = HashSet::new();
        while i < rows.len() && rows[i].at.div_euclid(DAY_MS) == day {
            let s = &rows[i];
            let h = usize::try_from(s.at.rem_euclid(DAY_MS) / HOUR_MS).unwrap_or(0);
            hours[h.min(23)] += s.delta.max(0);
            lvo = lvo.max(s.lvo);
            if let Some(ip) = s.ip_id {
                ips.insert(ip);
            }
            i += 1;
        }
        let before: Option<(Vec<u8>, Option<i64>, i64)> = tx
            .prepare_cached(
                "SELECT hours, last_verified_on, ips FROM rolled_days WHERE kid = ?1 AND day = ?2",
            )?
            .query_row(params![kid, day], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let mut n_ips = ips.len() as i64;
        if let Some((packed, old_lvo, old_ips)) = before {
            // A sample written into a day already rolled up (rare): merge.
            for (h, n) in unpack_hours(&packed).iter().enumerate() {
                hours[h] += n;
            }
            lvo = lvo.max(old_lvo);
            n_ips = n_ips.max(old_ips);
        }
        tx.prepare_cached(
            "INSERT OR REPLACE INTO rolled_days (kid, day, hours, last_verified_on, ips) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![kid, day, pack_hours(&hours), lvo, n_ips])?;
        days += 1;
    }
    tx.prepare_cached("DELETE FROM samples WHERE kid = ?1 AND at BETWEEN ?2 AND ?3")?
        .execute(params![kid, first_at, last_at])?;
    Ok(Some((rows.len(), days)))
}

/// Folds row id `kid`'s rolled days before day `rolled_before` into `daily` (which already
/// counts their verifications): the day keeps its last verification and addresses. Returns
/// how many.
fn fold_key(tx: &Transaction<'_>, kid: i64, rolled_before: i64) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "INSERT INTO daily (kid, day, verifications, last_verified_on, ips) \
         SELECT kid, day, 0, last_verified_on, ips FROM rolled_days \
         WHERE kid = ?1 AND day < ?2 \
         ON CONFLICT (kid, day) DO UPDATE SET \
         last_verified_on = excluded.last_verified_on, ips = excluded.ips",
    )?
    .execute(params![kid, rolled_before])?;
    tx.prepare_cached("DELETE FROM rolled_days WHERE kid = ?1 AND day < ?2")?
        .execute(params![kid, rolled_before])
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::disallowed_methods,
        reason = "a database of the schema before is built by hand, then migrated"
    )]

    use rusqlite::{Connection, params};

    use crate::model::history::Bucket;
    use crate::store::db::{MIGRATIONS, SCHEMA_VERSION, SqliteStore};
    use crate::store::history::{HOUR_MS, ips_until};
    use crate::store::rows::{DAY_MS, from_ms, to_ms};

    /// The migrations up to the compact history (0010, the tenth in the list).
    const BEFORE: usize = 9;

    #[test]
    fn a_database_with_history_in_the_format_before_migrates_with_the_same_charts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyward.db");
        let day = DAY_MS;
        let t0 = 20_000 * day + 12 * HOUR_MS;
        {
            let mut c = Connection::open(&path).unwrap();
            let tx = c.transaction().unwrap();
            for sql in &MIGRATIONS[..BEFORE] {
                tx.execute_batch(sql).unwrap();
            }
            tx.execute_batch(&format!("PRAGMA user_version = {BEFORE}"))
                .unwrap();
            tx.execute(
                "INSERT INTO keys (kid, profile, id, name, key_type, status, key_prefix, \
                 first_seen, last_synced) VALUES (1, 'p', 'k', 'n', 'organization', 'active', \
                 'kk', 0, 0), (2, 'p', 'j', 'm', 'user', 'revoked', 'kk', 0, 0)",
                [],
            )
            .unwrap();
            // The old writer: a row per change, its daily roll-up in the same transaction.
            let mut n = 0;
            for i in 0..300i64 {
                let at = t0 - 40 * day + i * 3 * HOUR_MS + 60_000;
                let d = i % 4;
                n += d;
                let (kid, ip, status, source) = match i % 10 {
                    0 => (2, None, "revoked", "sync"),
                    1 => (1, Some("10.0.0.9"), "inactive", "demo"),
                    _ => (1, Some("10.0.0.1"), "active", "sync"),
                };
                tx.execute(
                    "INSERT INTO history (kid, at, verification_count, last_verified_on, \
                     last_verified_ip, status, delta, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, \
                     ?7, ?8)",
                    params![kid, at, n, at - 5_000, ip, status, d, source],
                )
                .unwrap();
                if d > 0 {
                    tx.execute(
                        "INSERT INTO daily (kid, day, verifications) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (kid, day) DO UPDATE SET \
                         verifications = daily.verifications + excluded.verifications",
                        params![kid, at.div_euclid(day), d],
                    )
                    .unwrap();
                }
            }
            tx.commit().unwrap();
        }
        // What the charts read before, straight from the old table.
        let (old_points, old_hours): (Vec<String>, Vec<(i64, i64)>) = {
            let c = Connection::open(&path).unwrap();
            let mut st = c
                .prepare(
                    "SELECT kid, at, verification_count, last_verified_on, last_verified_ip, \
                     status, delta, source FROM history ORDER BY kid, at",
                )
                .unwrap();
            let points = st
                .query_map([], |r| {
                    Ok(format!(
                        "{:?}",
                        (
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, Option<i64>>(2)?,
                            r.get::<_, Option<i64>>(3)?,
                            r.get::<_, Option<String>>(4)?,
                            r.get::<_, String>(5)?,
                            r.get::<_, i64>(6)?,
                            r.get::<_, String>(7)?,
                        )
                    ))
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let mut st = c
                .prepare(
                    "SELECT at / 3600000, SUM(delta) FROM history WHERE kid = 1 \
                     GROUP BY at / 3600000 HAVING SUM(delta) > 0 ORDER BY 1",
                )
                .unwrap();
            let hours = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            (points, hours)
        };
        let s = SqliteStore::open(&path, "p").unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION, "migrated");
        // The view reads every row as it was written.
        let points: Vec<String> = s
            .with_conn(|c| {
                let mut st = c.prepare(
                    "SELECT kid, at, verification_count, last_verified_on, last_verified_ip, \
                     status, delta, source FROM history ORDER BY kid, at",
                )?;
                st.query_map([], |r| {
                    Ok(format!(
                        "{:?}",
                        (
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, Option<i64>>(2)?,
                            r.get::<_, Option<i64>>(3)?,
                            r.get::<_, Option<String>>(4)?,
                            r.get::<_, String>(5)?,
                            r.get::<_, i64>(6)?,
                            r.get::<_, String>(7)?,
                        )
                    ))
                })?
                .collect()
            })
            .unwrap();
        assert_eq!(points.len(), 300);
        assert_eq!(points, old_points);
        // The same hourly chart, and the same days (daily is untouched), then after a roll-up.
        let now = from_ms(t0).unwrap();
        let since = now - chrono::Duration::days(41);
        let hours = |s: &SqliteStore| -> Vec<(i64, i64)> {
            s.chart(1, Bucket::Hour, since, now)
                .unwrap()
                .iter()
                .filter(|b| b.verifications > 0)
                .map(|b| (to_ms(b.start) / HOUR_MS, b.verifications))
                .collect()
        };
        assert_eq!(hours(&s), old_hours);
        let days = s.chart(1, Bucket::Day, since, now).unwrap();
        let total: i64 = old_hours.iter().map(|h| h.1).sum();
        assert_eq!(days.iter().map(|b| b.verifications).sum::<i64>(), total);
        // Both addresses of key 1 are its address set; key 2 has none.
        let ips = s.with_conn(|c| ips_until(c, 1, i64::MAX)).unwrap();
        assert_eq!(ips.len(), 2);
        assert!(
            s.with_conn(|c| ips_until(c, 2, i64::MAX))
                .unwrap()
                .is_empty()
        );
        assert_eq!(s.demo_history_len().unwrap(), 30);
        let r = s.roll_up_history(now, 14, 50, &|_| true).unwrap();
        assert!(r.samples_rolled > 100, "{r:?}");
        assert_eq!(hours(&s), old_hours);
        let after = s.chart(1, Bucket::Day, since, now).unwrap();
        assert_eq!(after, days);
    }
}
