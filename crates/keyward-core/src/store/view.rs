//! Reading the keys cache as `KeyView`s (with the 7-day sparkline of every key in one query).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Row, ToSql};

use super::db::SqliteStore;
use super::rows::parse_type;
use super::rows::{DAY_MS, to_ms};
use super::rows::{opt_time, parse_status};
use crate::error::Result;
use crate::model::key::{ApiKey, KeyFilter, KeyView};

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
