//! Reading the keys cache as `KeyView`s (with the 7-day sparkline of every key in one query).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Row, ToSql};

use super::db::SqliteStore;
use super::rows::parse_type;
use super::rows::{DAY_MS, to_ms};
use super::rows::{opt_time, parse_status};
use crate::error::{Error, Result};
use crate::model::key::{
    ApiKey, KeyCounts, KeyFilter, KeyFlag, KeySortKey, KeyStatus, KeyView, KeyWindow,
    KeyWindowQuery, SortDir,
};

/// The most rows one window may ask for.
pub const MAX_WINDOW: u32 = 1000;

/// Up to this offset, a window of the whole list (no search, no filter but the status) is read
/// from SQL while the in-memory index is not built or not at the store's `rev` (an index sort
/// read is cheap there; further down, SQL's OFFSET walks).
const PLAIN_SQL_OFFSET: u32 = 2 * MAX_WINDOW;

const COLUMNS: &str = "kid, id, name, key_type, status, key_prefix, key_suffix, created_on, \
    last_verified_on, last_verified_ip, created_by, api_ids, scopes, verification_count, \
    user_id, org_code, owner_name, api_name, gone, rotated_on, needs_detail";

/// A cached key with its internal row id.
#[derive(Debug, Clone)]
pub struct CachedKey {
    pub kid: i64,
    pub view: KeyView,
}

fn read_row(r: &Row<'_>) -> rusqlite::Result<CachedKey> {
    let api_ids: String = r.get(11)?;
    let scopes: String = r.get(12)?;
    let key = ApiKey {
        id: r.get(1)?,
        name: r.get(2)?,
        key_type: parse_type(&r.get::<_, String>(3)?),
        status: parse_status(&r.get::<_, String>(4)?),
        key_prefix: r.get(5)?,
        key_suffix: r.get(6)?,
        created_on: opt_time(r.get(7)?),
        last_verified_on: opt_time(r.get(8)?),
        last_verified_ip: r.get(9)?,
        created_by: r.get(10)?,
        api_ids: serde_json::from_str(&api_ids).unwrap_or_default(),
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        verification_count: r.get(13)?,
        user_id: r.get(14)?,
        org_code: r.get(15)?,
    };
    Ok(CachedKey {
        kid: r.get(0)?,
        view: KeyView {
            key,
            owner_name: r.get(16)?,
            api_name: r.get(17)?,
            stale: false,
            rotation_due: false,
            rotated_on: opt_time(r.get(19)?),
            gone: r.get(18)?,
            details_owed: r.get(20)?,
            spark_7d: Vec::new(),
        },
    })
}

impl SqliteStore {
    /// The cached keys matching `filter`, newest first, gone keys last, with
    /// `spark_7d` filled (the flags and the search are the keys rules', applied above the store).
    pub fn list_keys(&self, filter: &KeyFilter, now: DateTime<Utc>) -> Result<Vec<KeyView>> {
        let mut sql = format!("SELECT {COLUMNS} FROM keys WHERE profile = ?");
        let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(self.profile.clone())];
        if let Some(o) = &filter.org_code {
            sql.push_str(" AND org_code = ?");
            args.push(Box::new(o.clone()));
        }
        if let Some(u) = &filter.user_id {
            sql.push_str(" AND user_id = ?");
            args.push(Box::new(u.clone()));
        }
        if let Some(s) = filter.status {
            sql.push_str(" AND status = ?");
            args.push(Box::new(s.as_str()));
        }
        if let Some(t) = filter.key_type {
            sql.push_str(" AND key_type = ?");
            args.push(Box::new(t.as_str()));
        }
        if let Some(a) = &filter.api_id {
            sql.push_str(" AND EXISTS (SELECT 1 FROM json_each(keys.api_ids) WHERE value = ?)");
            args.push(Box::new(a.clone()));
        }
        sql.push_str(" ORDER BY gone, created_on DESC, id");
        let mut keys: Vec<CachedKey> = self.with_conn(|c| {
            let mut st = c.prepare(&sql)?;
            let refs: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
            let rows = st.query_map(refs.as_slice(), read_row)?;
            rows.collect()
        })?;
        let spark = self.spark_7d(now)?;
        for k in &mut keys {
            k.view.spark_7d = spark.get(&k.kid).cloned().unwrap_or_else(|| vec![0; 7]);
        }
        Ok(keys.into_iter().map(|k| k.view).collect())
    }

    /// One cached key, if known.
    pub fn get_key(&self, id: &str, now: DateTime<Utc>) -> Result<Option<KeyView>> {
        let sql = format!("SELECT {COLUMNS} FROM keys WHERE profile = ?1 AND id = ?2");
        let found: Option<CachedKey> = self.with_conn(|c| {
            let mut st = c.prepare(&sql)?;
            let mut rows = st.query_map([self.profile.as_str(), id], read_row)?;
            rows.next().transpose()
        })?;
        let Some(mut k) = found else {
            return Ok(None);
        };
        k.view.spark_7d = self
            .spark_7d(now)?
            .remove(&k.kid)
            .unwrap_or_else(|| vec![0; 7]);
        Ok(Some(k.view))
    }

    /// Every key of this profile whose `rev` is above `since_rev` (gone ones included), in
    /// `rev` order, with `spark_7d` filled; and the store's change
    /// cursor, read first, so that a write racing this read is seen again next time rather
    /// than missed.
    pub fn keys_changed_since(
        &self,
        since_rev: i64,
        now: DateTime<Utc>,
    ) -> Result<(i64, Vec<KeyView>)> {
        let rev = self.current_rev()?;
        let sql =
            format!("SELECT {COLUMNS} FROM keys WHERE profile = ?1 AND rev > ?2 ORDER BY rev, id");
        let mut keys: Vec<CachedKey> = self.with_conn(|c| {
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map(rusqlite::params![self.profile, since_rev], read_row)?;
            rows.collect()
        })?;
        let spark = self.spark_7d_where(now, Some(since_rev))?;
        for k in &mut keys {
            k.view.spark_7d = spark.get(&k.kid).cloned().unwrap_or_else(|| vec![0; 7]);
        }
        Ok((rev, keys.into_iter().map(|k| k.view).collect()))
    }

    /// One window of the keys table: the rows `offset..offset + limit` of the keys matching
    /// `q` in its order (ties by id in the same direction), with `spark_7d` filled for those
    /// rows only, the number of matching keys, the store's change cursor (read first) and the
    /// per-status counts. The search is the one rule of `keys::rules`; a flag filter is the
    /// rule's too, with the windows given in days.
    ///
    /// The search, the filters, the count and the order come from the store's in-memory index
    /// (`store::window_index`: a lower-cased haystack per key scanned with `memmem`, the
    /// filtered columns, each sort's order read once from SQLite), which follows the change
    /// cursor `rev`; the window's rows are then read by row id in one query. Until a search
    /// or a filter builds the index (or while `rev` moves, as in a sync), the first pages of
    /// the whole list come from SQL, which is as cheap there.
    /// [`SqliteStore::keys_window_sql`] answers the same from SQL alone.
    pub fn keys_window(
        &self,
        q: &KeyWindowQuery,
        offset: u32,
        limit: u32,
        flag_days: (u32, u32),
        now: DateTime<Utc>,
    ) -> Result<KeyWindow> {
        check_window(offset, limit)?;
        let rev = self.current_rev()?;
        // The first pages of the whole list (or of one status) are as cheap in SQL: a cold
        // start, or a sync moving `rev`, paints them without building or patching the index.
        if unfiltered(q).is_some() && offset <= PLAIN_SQL_OFFSET && !self.key_index_fresh(rev) {
            return self.keys_window_sql(q, offset, limit, flag_days, now);
        }
        let counts = self.key_counts()?;
        let terms = search_terms(q.search.as_deref());
        // Without a search or a filter (but the status) the counts are the total.
        let known = unfiltered(q).map(|status| match status {
            None => counts.all,
            Some(KeyStatus::Active) => counts.active,
            Some(KeyStatus::Inactive) => counts.inactive,
            Some(KeyStatus::Revoked) => counts.revoked,
        });
        let picked = self.pick_window(rev, q, &terms, (offset, limit), flag_days, now, known)?;
        let mut keys = self.keys_by_kid(&picked.kids)?;
        let spark = self.spark_7d_of(now, &picked.kids)?;
        for k in &mut keys {
            k.view.spark_7d = spark.get(&k.kid).cloned().unwrap_or_else(|| vec![0; 7]);
        }
        Ok(KeyWindow {
            total: picked.total,
            offset,
            rows: keys.into_iter().map(|k| k.view).collect(),
            rev,
            counts,
        })
    }

    /// The rows of `kids`, in that order (one query; a row id not found is left out).
    fn keys_by_kid(&self, kids: &[i64]) -> Result<Vec<CachedKey>> {
        if kids.is_empty() {
            return Ok(Vec::new());
        }
        let list = serde_json::to_string(kids).unwrap_or_default();
        let sql = format!(
            "SELECT {COLUMNS} FROM (SELECT value AS want FROM json_each(?1)) AS j \
             CROSS JOIN keys ON keys.kid = j.want WHERE keys.profile = ?2"
        );
        let mut found: HashMap<i64, CachedKey> = self.with_conn(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(rusqlite::params![list, self.profile], read_row)?;
            rows.map(|r| r.map(|k| (k.kid, k))).collect()
        })?;
        Ok(kids.iter().filter_map(|k| found.remove(k)).collect())
    }

    /// The per-status counts of this profile's keys (gone ones included).
    fn key_counts(&self) -> Result<KeyCounts> {
        self.with_conn(|c| {
            let mut counts = KeyCounts::default();
            let mut st = c.prepare_cached("SELECT status, n FROM key_counts WHERE profile = ?1")?;
            let mut rows = st.query([&self.profile])?;
            while let Some(r) = rows.next()? {
                let (status, n): (String, i64) = (r.get(0)?, r.get(1)?);
                let n = u32::try_from(n.max(0)).unwrap_or(u32::MAX);
                counts.all = counts.all.saturating_add(n);
                match status.as_str() {
                    "active" => counts.active = n,
                    "inactive" => counts.inactive = n,
                    "revoked" => counts.revoked = n,
                    _ => {}
                }
            }
            Ok(counts)
        })
    }

    /// [`SqliteStore::keys_window`] answered by SQL alone (the path before the in-memory
    /// index, kept to check and measure the index against): the search is the rule in SQL
    /// (see [`window_where`]), the sorts have indexes, the search a trigram index (terms of 1
    /// or 2 characters scan), the total an exact `COUNT(*)`.
    pub fn keys_window_sql(
        &self,
        q: &KeyWindowQuery,
        offset: u32,
        limit: u32,
        flag_days: (u32, u32),
        now: DateTime<Utc>,
    ) -> Result<KeyWindow> {
        check_window(offset, limit)?;
        let rev = self.current_rev()?;
        let today = to_ms(now).div_euclid(DAY_MS);
        let (cond, mut args) = window_where(&self.profile, q, flag_days, now);
        let (order, activity) = order_by(q);
        let prefix: Vec<Box<dyn ToSql>> = if activity {
            vec![Box::new(today - 6), Box::new(today)]
        } else {
            Vec::new()
        };
        let plain = unfiltered(q);
        let counts = self.key_counts()?;
        let (mut keys, total) = self.with_conn(|c| {
            // Without a search or a filter (but the status) the counts are the total.
            let total: i64 = match plain {
                Some(None) => i64::from(counts.all),
                Some(Some(KeyStatus::Active)) => i64::from(counts.active),
                Some(Some(KeyStatus::Inactive)) => i64::from(counts.inactive),
                Some(Some(KeyStatus::Revoked)) => i64::from(counts.revoked),
                None => {
                    let sql = format!("SELECT COUNT(*) FROM {cond}");
                    let refs: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
                    c.prepare_cached(&sql)?
                        .query_row(refs.as_slice(), |r| r.get(0))?
                }
            };
            let keys: Vec<CachedKey> = if limit == 0 {
                Vec::new()
            } else {
                // The activity sort reads the 7-day sums: its two bounds come first.
                let sql = if activity {
                    format!(
                        "SELECT {COLUMNS}, (SELECT COALESCE(SUM(d.verifications), 0) FROM daily d \
                         WHERE d.kid = keys.kid AND d.day BETWEEN ?1 AND ?2) AS act FROM {cond} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
                    )
                } else {
                    format!(
                        "SELECT {COLUMNS} FROM {cond} ORDER BY {order} \
                         LIMIT {limit} OFFSET {offset}"
                    )
                };
                let mut all: Vec<Box<dyn ToSql>> = Vec::new();
                all.extend(prefix);
                all.append(&mut args);
                let refs: Vec<&dyn ToSql> = all.iter().map(|b| b.as_ref()).collect();
                let mut st = c.prepare_cached(&sql)?;
                let rows = st.query_map(refs.as_slice(), read_row)?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            Ok((keys, total))
        })?;
        let kids: Vec<i64> = keys.iter().map(|k| k.kid).collect();
        let spark = self.spark_7d_of(now, &kids)?;
        for k in &mut keys {
            k.view.spark_7d = spark.get(&k.kid).cloned().unwrap_or_else(|| vec![0; 7]);
        }
        Ok(KeyWindow {
            total: u32::try_from(total).unwrap_or(u32::MAX),
            offset,
            rows: keys.into_iter().map(|k| k.view).collect(),
            rev,
            counts,
        })
    }

    /// The ids of the keys matching `q` (search and filters; `revocable_only`: not revoked),
    /// in id order, at most `cap`: "every key matching" resolved here, not in a front end.
    pub fn keys_matching_ids(
        &self,
        q: &KeyWindowQuery,
        revocable_only: bool,
        flag_days: (u32, u32),
        now: DateTime<Utc>,
        cap: u32,
    ) -> Result<Vec<String>> {
        let (cond, args) = window_where(&self.profile, q, flag_days, now);
        let extra = if revocable_only {
            " AND keys.status <> 'revoked'"
        } else {
            ""
        };
        let sql = format!("SELECT id FROM {cond}{extra} ORDER BY id LIMIT {cap}");
        self.with_conn(|c| {
            let refs: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map(refs.as_slice(), |r| r.get(0))?;
            rows.collect()
        })
    }

    /// Verifications per UTC day over the last 7 days of the keys `kids` only.
    fn spark_7d_of(&self, now: DateTime<Utc>, kids: &[i64]) -> Result<HashMap<i64, Vec<i64>>> {
        let today = to_ms(now).div_euclid(DAY_MS);
        let first = today - 6;
        self.with_conn(|c| {
            let mut st = c.prepare_cached(
                "SELECT day, verifications FROM daily WHERE kid = ?1 AND day BETWEEN ?2 AND ?3",
            )?;
            let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
            for &kid in kids {
                let mut rows = st.query(rusqlite::params![kid, first, today])?;
                while let Some(r) = rows.next()? {
                    let (day, n): (i64, i64) = (r.get(0)?, r.get(1)?);
                    let slot = out.entry(kid).or_insert_with(|| vec![0; 7]);
                    if let Some(v) = usize::try_from(day - first)
                        .ok()
                        .and_then(|i| slot.get_mut(i))
                    {
                        *v += n;
                    }
                }
            }
            Ok(out)
        })
    }

    /// All cached keys with row ids (insights, export).
    pub fn all_keys(&self) -> Result<Vec<CachedKey>> {
        let sql = format!("SELECT {COLUMNS} FROM keys WHERE profile = ?1 ORDER BY id");
        self.with_conn(|c| {
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map([self.profile.as_str()], read_row)?;
            rows.collect()
        })
    }

    /// Verifications per UTC day over the last 7 days (oldest first) of every key, one query.
    pub fn spark_7d(&self, now: DateTime<Utc>) -> Result<HashMap<i64, Vec<i64>>> {
        self.spark_7d_where(now, None)
    }

    /// [`Store::spark_7d`] of every key, or only of the keys whose `rev` is above `since_rev`.
    fn spark_7d_where(
        &self,
        now: DateTime<Utc>,
        since_rev: Option<i64>,
    ) -> Result<HashMap<i64, Vec<i64>>> {
        let today = to_ms(now).div_euclid(DAY_MS);
        let first = today - 6;
        self.with_conn(|c| {
            let mut st = c.prepare_cached(
                "SELECT d.kid, d.day, d.verifications FROM daily d JOIN keys k ON k.kid = d.kid \
                 WHERE k.profile = ?1 AND d.day BETWEEN ?2 AND ?3 AND k.rev > ?4",
            )?;
            let mut rows = st.query(rusqlite::params![
                self.profile,
                first,
                today,
                since_rev.unwrap_or(i64::MIN)
            ])?;
            let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
            while let Some(r) = rows.next()? {
                let (kid, day, n): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                let slot = out.entry(kid).or_insert_with(|| vec![0; 7]);
                if let Some(v) = usize::try_from(day - first)
                    .ok()
                    .and_then(|i| slot.get_mut(i))
                {
                    *v += n;
                }
            }
            Ok(out)
        })
    }

    /// When the cache last held Kinde's whole listing: the end of the last successful sync,
    /// or the end of the listing of a later run (cancelled or killed in its details), if any.
    pub fn last_sync_at(&self) -> Result<Option<DateTime<Utc>>> {
        let ms: Option<i64> = self.with_conn(|c| {
            c.query_row(
                "SELECT MAX(t) FROM (SELECT finished_at AS t FROM sync_runs WHERE profile = ?1 \
                 AND status IN ('ok', 'partial') \
                 UNION ALL SELECT listed_at FROM sync_runs WHERE profile = ?1)",
                [&self.profile],
                |r| r.get(0),
            )
        })?;
        Ok(opt_time(ms))
    }
}

/// A window's bounds, or `invalid_input` in words.
pub fn check_window(offset: u32, limit: u32) -> Result<()> {
    if limit > MAX_WINDOW {
        return Err(Error::invalid_input(
            "limit",
            format!("a window of {limit} rows is more than {MAX_WINDOW}"),
            "Ask for the rows on screen plus some overscan, and ask again when scrolling.",
        ));
    }
    if offset > i32::MAX as u32 {
        return Err(Error::invalid_input(
            "offset",
            format!("offset {offset} is out of range"),
            "Ask for an offset below the total.",
        ));
    }
    Ok(())
}

/// `Some(status filter)` when `q` has no search and no filter but the status: its total is
/// one of the counts.
fn unfiltered(q: &KeyWindowQuery) -> Option<Option<KeyStatus>> {
    let blank = search_terms(q.search.as_deref()).is_empty();
    (blank
        && q.key_type.is_none()
        && q.org_code.is_none()
        && q.user_id.is_none()
        && q.api_id.is_none()
        && q.flag.is_none())
    .then_some(q.status)
}

/// Days to milliseconds, for the flag windows.
fn days_ms(days: u32) -> i64 {
    i64::from(days) * DAY_MS
}

/// The search rule's terms (keys::rules::Search's split and lower-casing).
pub fn search_terms(search: Option<&str>) -> Vec<String> {
    search
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_lowercase)
        .collect()
}

/// A term as one FTS5 phrase (a double quote doubled).
fn phrase(t: &str) -> String {
    format!("\"{}\"", t.replace('"', "\"\""))
}

/// What follows `FROM` (anonymous `?` parameters, in order) in a query of the keys of
/// `profile` matching `q`:
/// - the search: every term found, case-insensitively, as a substring of one of name, key
///   prefix, key suffix, id, owner name or API name. Terms of 3 characters or more are phrases
///   of one MATCH of the trigram index (a phrase matches within one column, so a term never
///   spans two fields); shorter terms test each field with `instr`.
/// - the filters: status, type, org, user, API (one of its API ids), and a flag: stale or
///   rotation due, only for a key present and active (`keys::rules::flaggable`).
pub fn window_where(
    profile: &str,
    q: &KeyWindowQuery,
    (stale_days, rotation_days): (u32, u32),
    now: DateTime<Utc>,
) -> (String, Vec<Box<dyn ToSql>>) {
    let terms = search_terms(q.search.as_deref());
    let (long, short): (Vec<&String>, Vec<&String>) =
        terms.iter().partition(|t| t.chars().count() >= 3);
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    let mut sql = if long.is_empty() {
        String::from("keys WHERE keys.profile = ?")
    } else {
        // The trigram index's hits drive the query (CROSS JOIN keeps them the outer loop):
        // a search costs its hits, not a walk of a sort's index over every key.
        let m: Vec<String> = long.iter().map(|t| phrase(t)).collect();
        args.push(Box::new(m.join(" AND ")));
        String::from(
            "(SELECT rowid AS fts_kid FROM keys_fts WHERE keys_fts MATCH ?) AS m CROSS JOIN keys \
             WHERE keys.kid = m.fts_kid AND keys.profile = ?",
        )
    };
    args.push(Box::new(profile.to_string()));
    for t in short {
        sql.push_str(
            " AND (instr(lower(keys.name), ?) > 0 OR instr(lower(keys.key_prefix), ?) > 0 \
             OR instr(lower(keys.key_suffix), ?) > 0 OR instr(lower(keys.id), ?) > 0 \
             OR instr(lower(keys.owner_name), ?) > 0 OR instr(lower(keys.api_name), ?) > 0)",
        );
        for _ in 0..6 {
            args.push(Box::new(t.clone()));
        }
    }
    if let Some(s) = q.status {
        sql.push_str(" AND keys.status = ?");
        args.push(Box::new(s.as_str()));
    }
    if let Some(t) = q.key_type {
        sql.push_str(" AND keys.key_type = ?");
        args.push(Box::new(t.as_str()));
    }
    if let Some(o) = &q.org_code {
        sql.push_str(" AND keys.org_code = ?");
        args.push(Box::new(o.clone()));
    }
    if let Some(u) = &q.user_id {
        sql.push_str(" AND keys.user_id = ?");
        args.push(Box::new(u.clone()));
    }
    if let Some(a) = &q.api_id {
        sql.push_str(" AND EXISTS (SELECT 1 FROM json_each(keys.api_ids) WHERE value = ?)");
        args.push(Box::new(a.clone()));
    }
    match q.flag {
        Some(KeyFlag::Stale) => {
            sql.push_str(
                " AND keys.gone = 0 AND keys.status = 'active' \
                 AND COALESCE(keys.last_verified_on, keys.created_on) < ?",
            );
            args.push(Box::new(to_ms(now) - days_ms(stale_days)));
        }
        Some(KeyFlag::RotationDue) => {
            sql.push_str(
                " AND keys.gone = 0 AND keys.status = 'active' \
                 AND COALESCE(keys.rotated_on, keys.created_on) < ?",
            );
            args.push(Box::new(to_ms(now) - days_ms(rotation_days)));
        }
        None => {}
    }
    (sql, args)
}

/// The ORDER BY of a query (ties by id in the same direction; the indexes of migration 0011
/// serve both directions), and whether it reads the 7-day activity (`act`).
fn order_by(q: &KeyWindowQuery) -> (String, bool) {
    let dir = match q.dir {
        SortDir::Asc => "ASC",
        SortDir::Desc => "DESC",
    };
    let col = match q.sort {
        KeySortKey::Name => "keys.name COLLATE NOCASE",
        KeySortKey::Owner => "keys.owner_name COLLATE NOCASE",
        KeySortKey::Api => "keys.api_name COLLATE NOCASE",
        KeySortKey::Status => "keys.status",
        KeySortKey::Created => "keys.created_on",
        KeySortKey::LastVerified => "keys.last_verified_on",
        KeySortKey::Verifications => "keys.verification_count",
        KeySortKey::Activity => "act",
    };
    (
        format!("{col} {dir}, keys.id {dir}"),
        q.sort == KeySortKey::Activity,
    )
}

#[cfg(test)]
mod scale {
    #![allow(clippy::unwrap_used, reason = "a measurement")]

    use std::time::Instant;

    use chrono::{Duration, TimeZone, Utc};

    use super::*;
    use crate::model::key::{KeyStatus, KeyType};
    use crate::store::keys::PageEntry;

    /// The window at 150, 10,000 and 100,000 keys, through SQL alone and through the in-memory
    /// index in the same run: prints every case with its goal (no timed assertion).
    ///
    /// Last measured (release, 2 shared cores, p50 at 100,000 keys, SQL -> index, goal):
    /// search "b" 37.3 -> 2.99 ms, "bo" 66.1 -> 0.67, "bot" 26.8 -> 0.66, "botany" 41.6 ->
    /// 0.68, "botany bil" 44.1 -> 1.50 (< 5 ms: met); first / middle / last page 0.23 / 2.65 /
    /// 5.91 -> 0.24 (<= 1.3x the 150-key 0.34: met); sorts name, verifications, activity
    /// 0.23 / 0.23 / 32.4 -> 0.24 (1.01x: met; the first window of a sort after a change reads
    /// its order: 12.5 / 13.0 / 51.2 ms); filters status 0.27 -> 0.25 (1.25x), org 17.3 -> 0.31
    /// (1.29x), API 31.0 -> 0.31 (1.29x): met; stale 17.7 -> 0.27 (1.39x: missed by 0.02 ms).
    /// Index: built by the first search in 268 ms, patched after one change in about 1 ms,
    /// 14.4 MiB (of which about 8 MiB is the lower-cased searched text).
    /// `cargo test -p keyward-core --release --lib store::view::scale -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement: run it with --ignored --nocapture"]
    fn window_figures_at_scale() {
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let words = [
            "billing", "payroll", "search", "ingest", "mobile", "reports", "botany",
        ];
        let mut base: HashMap<String, f64> = HashMap::new();
        for n in [150usize, 10_000, 100_000] {
            let dir = tempfile::tempdir().unwrap();
            let s = SqliteStore::open(&dir.path().join("k.db"), "p").unwrap();
            let entries: Vec<PageEntry> = (0..n)
                .map(|i| PageEntry {
                    key: ApiKey {
                        id: format!("api_key_{i:08x}"),
                        name: format!("{} {} {i}", words[i % 7], words[(i / 7) % 7]),
                        key_type: KeyType::Organization,
                        status: [KeyStatus::Active, KeyStatus::Inactive, KeyStatus::Revoked][i % 3],
                        key_prefix: format!("k_live_{:02x}", i % 251),
                        key_suffix: Some(format!("{:04x}", (i * 7919) % 65521)),
                        created_on: Some(now - Duration::days((i % 400) as i64)),
                        last_verified_on: Some(
                            now - Duration::minutes((i * 7919 % 2_000_000) as i64),
                        ),
                        last_verified_ip: None,
                        created_by: None,
                        api_ids: vec![format!("api_{}", i % 2)],
                        scopes: vec![],
                        verification_count: Some((i * 31 % 1000) as i64),
                        user_id: None,
                        org_code: Some(format!("org_{}", i % 2)),
                    },
                    detail: true,
                })
                .collect();
            for chunk in entries.chunks(5000) {
                s.apply_page(Some(1), now, chunk).unwrap();
            }
            // Owner and API names, as the name resolution leaves them (searched fields too).
            let people = [
                "Ada Lovelace",
                "Grace Hopper",
                "Alan Turing",
                "Edsger Dijkstra",
            ];
            let names: Vec<(String, Option<String>, Option<String>)> = (0..n)
                .map(|i| {
                    (
                        format!("api_key_{i:08x}"),
                        Some(format!("{} {}", people[i % 4], i % 97)),
                        Some(format!("{} API", words[i % 5])),
                    )
                })
                .collect();
            s.set_names(&names).unwrap();
            // The first page after opening the store comes from SQL (cold start); the first
            // search builds the index.
            let t = Instant::now();
            s.keys_window(&base_query(), 0, 60, (30, 90), now).unwrap();
            let cold = t.elapsed().as_secs_f64() * 1000.0;
            let first_search = KeyWindowQuery {
                search: Some("zzzz".into()),
                ..base_query()
            };
            let t = Instant::now();
            s.keys_window(&first_search, 0, 60, (30, 90), now).unwrap();
            let build = t.elapsed().as_secs_f64() * 1000.0;
            let sql_ms = |q: &KeyWindowQuery, offset: u32| {
                let t = Instant::now();
                std::hint::black_box(s.keys_window_sql(q, offset, 60, (30, 90), now).unwrap());
                t.elapsed().as_secs_f64() * 1000.0
            };
            let ix_ms = |q: &KeyWindowQuery, offset: u32| {
                let t = Instant::now();
                std::hint::black_box(s.keys_window(q, offset, 60, (30, 90), now).unwrap());
                t.elapsed().as_secs_f64() * 1000.0
            };
            let rows = |q: &KeyWindowQuery, offset: u32| {
                s.keys_window(q, offset, 60, (30, 90), now)
                    .unwrap()
                    .rows
                    .len()
            };
            for (label, q, offset) in cases(n) {
                // The first index window of a sort reads its order once (kept until `rev`
                // moves); the figures below are the keystrokes after it.
                let first = ix_ms(&q, offset);
                let sql = p50_max(|| sql_ms(&q, offset));
                let ix = p50_max(|| ix_ms(&q, offset));
                let goal = if label.starts_with("search") {
                    if n == 100_000 {
                        verdict(ix.0 < 5.0, "goal < 5 ms at 100,000", ix.0 - 5.0)
                    } else {
                        "goal < 5 ms at 100,000".to_string()
                    }
                } else if n == 150 {
                    base.insert(label.clone(), ix.0);
                    "the 150-key baseline".to_string()
                } else {
                    let b = base.get(&label).copied().unwrap_or(f64::NAN);
                    let ratio = ix.0 / b;
                    format!(
                        "{:.2}x the 150-key {b:.2} ms; {}",
                        ratio,
                        verdict(ratio <= 1.3, "goal <= 1.3x", ix.0 - 1.3 * b)
                    )
                };
                println!(
                    "n={n:>6} {label:<34} sql p50 {:>7.2} max {:>7.2} | index p50 {:>6.2} max \
                     {:>6.2} (first {first:>6.2}) ms, {:>2} rows  {goal}",
                    sql.0,
                    sql.1,
                    ix.0,
                    ix.1,
                    rows(&q, offset)
                );
            }
            // A keystroke right after a write: the index is patched with the changed rows.
            let one = format!("api_key_{:08x}", n / 2);
            s.set_status(&one, KeyStatus::Revoked, now).unwrap();
            let patch = ix_ms(&q_bot(), 0);
            println!(
                "n={n:>6} {:<34} first page after opening {cold:.2} ms; index built by the \
                 first search {build:.2} ms; a search after one key changed (patch) {patch:.2} \
                 ms; index {:.1} MiB ({} bytes; goal: a few MiB, not tens)",
                "index cost and memory",
                s.key_index_bytes() as f64 / 1048576.0,
                s.key_index_bytes()
            );
        }
    }

    fn base_query() -> KeyWindowQuery {
        KeyWindowQuery::default()
    }

    fn q_bot() -> KeyWindowQuery {
        KeyWindowQuery {
            search: Some("bot".into()),
            ..base_query()
        }
    }

    /// p50 and max of 20 runs, in ms.
    fn p50_max(mut f: impl FnMut() -> f64) -> (f64, f64) {
        let runs = 20;
        let mut ms: Vec<f64> = (0..runs).map(|_| f()).collect();
        ms.sort_by(f64::total_cmp);
        (ms[runs / 2], ms[runs - 1])
    }

    fn verdict(met: bool, goal: &str, by: f64) -> String {
        if met {
            format!("{goal}: met")
        } else {
            format!("{goal}: MISSED by {by:.2} ms")
        }
    }

    /// Every measured case: a label, a query and an offset (a window of 60 rows). The data
    /// gives every filter at least 50 keys at 150 keys, so that each size paints about a page.
    fn cases(n: usize) -> Vec<(String, KeyWindowQuery, u32)> {
        let base = base_query();
        let q = |search: &str| KeyWindowQuery {
            search: Some(search.into()),
            ..base_query()
        };
        let mut out = vec![
            (
                "first page, last verified desc".to_string(),
                base.clone(),
                0,
            ),
            (
                "last page (offset n-60)".to_string(),
                base.clone(),
                (n as u32).saturating_sub(60),
            ),
            ("middle page".to_string(), base.clone(), (n / 2) as u32),
        ];
        for t in [
            "b",
            "bo",
            "bot",
            "bota",
            "botan",
            "botany",
            "botany bil",
            "zzzz",
        ] {
            out.push((format!("search {t:?}"), q(t), 0));
        }
        for sort in [
            KeySortKey::Name,
            KeySortKey::Verifications,
            KeySortKey::Activity,
        ] {
            out.push((
                format!("sort {sort:?} asc"),
                KeyWindowQuery {
                    sort,
                    dir: SortDir::Asc,
                    ..base.clone()
                },
                0,
            ));
        }
        let filters = [
            (
                "filter status=inactive",
                KeyWindowQuery {
                    status: Some(KeyStatus::Inactive),
                    ..base.clone()
                },
            ),
            (
                "filter stale",
                KeyWindowQuery {
                    flag: Some(KeyFlag::Stale),
                    ..base.clone()
                },
            ),
            (
                "filter org_1",
                KeyWindowQuery {
                    org_code: Some("org_1".into()),
                    ..base.clone()
                },
            ),
            (
                "filter api_1",
                KeyWindowQuery {
                    api_id: Some("api_1".into()),
                    ..base.clone()
                },
            ),
        ];
        for (label, q) in filters {
            out.push((label.to_string(), q, 0));
        }
        out
    }
}
