//! Reading the keys cache as `KeyView`s (store/view.rs in core).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use keyward_core::error::Result;
use keyward_core::model::key::{
    ApiKey, KeyCounts, KeyFilter, KeyFlag, KeySortKey, KeyView, KeyWindow, KeyWindowQuery, SortDir,
};
use keyward_core::store::{CachedKey, check_window, search_terms, to_ms};
use postgres::types::ToSql;

use super::{DAY_MS, PgStore, opt_time, parse_status, parse_type};

const COLUMNS: &str = "kid, id, name, key_type, status, key_prefix, key_suffix, created_on, \
    last_verified_on, last_verified_ip, created_by, api_ids, scopes, verification_count, \
    user_id, org_code, owner_name, api_name, gone, rotated_on, needs_detail";

fn read_row(r: &postgres::Row) -> CachedKey {
    let api_ids: String = r.get(11);
    let scopes: String = r.get(12);
    let key = ApiKey {
        id: r.get(1),
        name: r.get(2),
        key_type: parse_type(r.get(3)),
        status: parse_status(r.get(4)),
        key_prefix: r.get(5),
        key_suffix: r.get(6),
        created_on: opt_time(r.get(7)),
        last_verified_on: opt_time(r.get(8)),
        last_verified_ip: r.get(9),
        created_by: r.get(10),
        api_ids: serde_json::from_str(&api_ids).unwrap_or_default(),
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        verification_count: r.get(13),
        user_id: r.get(14),
        org_code: r.get(15),
    };
    CachedKey {
        kid: r.get(0),
        view: KeyView {
            key,
            owner_name: r.get(16),
            api_name: r.get(17),
            stale: false,
            rotation_due: false,
            rotated_on: opt_time(r.get(19)),
            gone: r.get(18),
            details_owed: r.get(20),
            spark_7d: Vec::new(),
        },
    }
}

impl PgStore {
    pub(crate) fn list_keys(&self, filter: &KeyFilter, now: DateTime<Utc>) -> Result<Vec<KeyView>> {
        let mut sql = format!("SELECT {COLUMNS} FROM keys WHERE profile = $1");
        let mut args: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(self.profile.clone())];
        let mut push = |sql: &mut String, cond: &str, v: Box<dyn ToSql + Sync>| {
            args.push(v);
            sql.push_str(&cond.replace("$?", &format!("${}", args.len())));
        };
        if let Some(o) = &filter.org_code {
            push(&mut sql, " AND org_code = $?", Box::new(o.clone()));
        }
        if let Some(u) = &filter.user_id {
            push(&mut sql, " AND user_id = $?", Box::new(u.clone()));
        }
        if let Some(s) = filter.status {
            push(&mut sql, " AND status = $?", Box::new(s.as_str()));
        }
        if let Some(t) = filter.key_type {
            push(&mut sql, " AND key_type = $?", Box::new(t.as_str()));
        }
        if let Some(a) = &filter.api_id {
            push(
                &mut sql,
                " AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(keys.api_ids::jsonb) AS e(v) \
                 WHERE e.v = $?)",
                Box::new(a.clone()),
            );
        }
        sql.push_str(" ORDER BY gone, created_on DESC NULLS LAST, id");
        let mut keys: Vec<CachedKey> = self.with_conn(|c| {
            let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b.as_ref()).collect();
            Ok(c.query(&sql, &refs)?.iter().map(read_row).collect())
        })?;
        let spark = self.spark_7d(now)?;
        for k in &mut keys {
            k.view.spark_7d = spark.get(&k.kid).cloned().unwrap_or_else(|| vec![0; 7]);
        }
        Ok(keys.into_iter().map(|k| k.view).collect())
    }

    pub(crate) fn get_key(&self, id: &str, now: DateTime<Utc>) -> Result<Option<KeyView>> {
        let sql = format!("SELECT {COLUMNS} FROM keys WHERE profile = $1 AND id = $2");
        let found = self.with_conn(|c| {
            Ok(c.query_opt(&sql, &[&self.profile, &id])?
                .map(|r| read_row(&r)))
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

    pub(crate) fn keys_changed_since(
        &self,
        since_rev: i64,
        now: DateTime<Utc>,
    ) -> Result<(i64, Vec<KeyView>)> {
        let rev = self.current_rev()?;
        let sql =
            format!("SELECT {COLUMNS} FROM keys WHERE profile = $1 AND rev > $2 ORDER BY rev, id");
        let mut keys: Vec<CachedKey> = self.with_conn(|c| {
            Ok(c.query(&sql, &[&self.profile, &since_rev])?
                .iter()
                .map(read_row)
                .collect())
        })?;
        let spark = self.spark_7d_where(now, Some(since_rev))?;
        for k in &mut keys {
            k.view.spark_7d = spark.get(&k.kid).cloned().unwrap_or_else(|| vec![0; 7]);
        }
        Ok((rev, keys.into_iter().map(|k| k.view).collect()))
    }

    /// The core's `keys_window` (store/view.rs in core): the same search rule (every term a
    /// substring of one of name, prefix, suffix, id, owner name, API name, any case), filters,
    /// flags and order (case-insensitive, nulls first ascending, ties by id in the same
    /// direction). No trigram index here: a server's table is the team's, not 100,000 keys
    /// per keystroke of one admin's webview.
    pub(crate) fn keys_window(
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
        let (cond, mut args) = self.window_where(q, flag_days, now);
        let dir = match q.dir {
            SortDir::Asc => "ASC NULLS FIRST",
            SortDir::Desc => "DESC NULLS LAST",
        };
        let iddir = match q.dir {
            SortDir::Asc => "ASC",
            SortDir::Desc => "DESC",
        };
        let col = match q.sort {
            KeySortKey::Name => "lower(keys.name) COLLATE \"C\"".to_string(),
            KeySortKey::Owner => "lower(keys.owner_name) COLLATE \"C\"".to_string(),
            KeySortKey::Api => "lower(keys.api_name) COLLATE \"C\"".to_string(),
            KeySortKey::Status => "keys.status COLLATE \"C\"".to_string(),
            KeySortKey::Created => "keys.created_on".to_string(),
            KeySortKey::LastVerified => "keys.last_verified_on".to_string(),
            KeySortKey::Verifications => "keys.verification_count".to_string(),
            KeySortKey::Activity => {
                args.push(Box::new(today - 6));
                args.push(Box::new(today));
                format!(
                    "(SELECT COALESCE(SUM(d.verifications), 0) FROM daily d WHERE d.kid = keys.kid \
                     AND d.day BETWEEN ${} AND ${})",
                    args.len() - 1,
                    args.len()
                )
            }
        };
        let n_cond = args.len() - usize::from(q.sort == KeySortKey::Activity) * 2;
        let (mut keys, total, counts) = self.with_conn(|c| {
            let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b.as_ref()).collect();
            let total: i64 = c
                .query_one(
                    &format!("SELECT COUNT(*) FROM keys WHERE {cond}"),
                    &refs[..n_cond],
                )?
                .get(0);
            let keys: Vec<CachedKey> = if limit == 0 {
                Vec::new()
            } else {
                let sql = format!(
                    "SELECT {COLUMNS} FROM keys WHERE {cond} ORDER BY {col} {dir}, \
                     keys.id COLLATE \"C\" {iddir} LIMIT {limit} OFFSET {offset}"
                );
                c.query(&sql, &refs)?.iter().map(read_row).collect()
            };
            let mut counts = KeyCounts::default();
            for r in c.query(
                "SELECT status, COUNT(*) FROM keys WHERE profile = $1 GROUP BY status",
                &[&self.profile],
            )? {
                let (status, n): (String, i64) = (r.get(0), r.get(1));
                let n = u32::try_from(n).unwrap_or(u32::MAX);
                counts.all = counts.all.saturating_add(n);
                match status.as_str() {
                    "active" => counts.active = n,
                    "inactive" => counts.inactive = n,
                    "revoked" => counts.revoked = n,
                    _ => {}
                }
            }
            Ok((keys, total, counts))
        })?;
        let spark = self.spark_7d(now)?;
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

    pub(crate) fn keys_matching_ids(
        &self,
        q: &KeyWindowQuery,
        revocable_only: bool,
        flag_days: (u32, u32),
        now: DateTime<Utc>,
        cap: u32,
    ) -> Result<Vec<String>> {
        let (cond, args) = self.window_where(q, flag_days, now);
        let extra = if revocable_only {
            " AND keys.status <> 'revoked'"
        } else {
            ""
        };
        let sql = format!(
            "SELECT id FROM keys WHERE {cond}{extra} ORDER BY id COLLATE \"C\" LIMIT {cap}"
        );
        self.with_conn(|c| {
            let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b.as_ref()).collect();
            Ok(c.query(&sql, &refs)?.iter().map(|r| r.get(0)).collect())
        })
    }

    /// The WHERE clause (`$n` parameters) of the keys matching `q`: see the core's
    /// `window_where`.
    fn window_where(
        &self,
        q: &KeyWindowQuery,
        (stale_days, rotation_days): (u32, u32),
        now: DateTime<Utc>,
    ) -> (String, Vec<Box<dyn ToSql + Sync>>) {
        let mut sql = String::from("keys.profile = $1");
        let mut args: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(self.profile.clone())];
        for t in search_terms(q.search.as_deref()) {
            args.push(Box::new(t));
            let n = args.len();
            sql.push_str(&format!(
                " AND (strpos(lower(keys.name), ${n}) > 0 OR strpos(lower(keys.key_prefix), ${n}) > 0 \
                 OR strpos(lower(keys.key_suffix), ${n}) > 0 OR strpos(lower(keys.id), ${n}) > 0 \
                 OR strpos(lower(keys.owner_name), ${n}) > 0 OR strpos(lower(keys.api_name), ${n}) > 0)"
            ));
        }
        let mut push = |sql: &mut String, cond: &str, v: Box<dyn ToSql + Sync>| {
            args.push(v);
            sql.push_str(&cond.replace("$?", &format!("${}", args.len())));
        };
        if let Some(s) = q.status {
            push(&mut sql, " AND keys.status = $?", Box::new(s.as_str()));
        }
        if let Some(t) = q.key_type {
            push(&mut sql, " AND keys.key_type = $?", Box::new(t.as_str()));
        }
        if let Some(o) = &q.org_code {
            push(&mut sql, " AND keys.org_code = $?", Box::new(o.clone()));
        }
        if let Some(u) = &q.user_id {
            push(&mut sql, " AND keys.user_id = $?", Box::new(u.clone()));
        }
        if let Some(a) = &q.api_id {
            push(
                &mut sql,
                " AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(keys.api_ids::jsonb) AS e(v) \
                 WHERE e.v = $?)",
                Box::new(a.clone()),
            );
        }
        let day = |d: u32| i64::from(d) * DAY_MS;
        match q.flag {
            Some(KeyFlag::Stale) => push(
                &mut sql,
                " AND NOT keys.gone AND keys.status = 'active' \
                 AND COALESCE(keys.last_verified_on, keys.created_on) < $?",
                Box::new(to_ms(now) - day(stale_days)),
            ),
            Some(KeyFlag::RotationDue) => push(
                &mut sql,
                " AND NOT keys.gone AND keys.status = 'active' \
                 AND COALESCE(keys.rotated_on, keys.created_on) < $?",
                Box::new(to_ms(now) - day(rotation_days)),
            ),
            None => {}
        }
        (sql, args)
    }

    pub(crate) fn all_keys(&self) -> Result<Vec<CachedKey>> {
        let sql = format!("SELECT {COLUMNS} FROM keys WHERE profile = $1 ORDER BY id");
        self.with_conn(|c| {
            Ok(c.query(&sql, &[&self.profile])?
                .iter()
                .map(read_row)
                .collect())
        })
    }

    pub(crate) fn spark_7d(&self, now: DateTime<Utc>) -> Result<HashMap<i64, Vec<i64>>> {
        self.spark_7d_where(now, None)
    }

    fn spark_7d_where(
        &self,
        now: DateTime<Utc>,
        since_rev: Option<i64>,
    ) -> Result<HashMap<i64, Vec<i64>>> {
        let today = to_ms(now).div_euclid(DAY_MS);
        let first = today - 6;
        self.with_conn(|c| {
            let rows = c.query(
                "SELECT d.kid, d.day, d.verifications FROM daily d JOIN keys k ON k.kid = d.kid \
                 WHERE k.profile = $1 AND d.day BETWEEN $2 AND $3 AND k.rev > $4",
                &[
                    &self.profile,
                    &first,
                    &today,
                    &since_rev.unwrap_or(i64::MIN),
                ],
            )?;
            let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
            for r in rows {
                let (kid, day, n): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
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

    pub(crate) fn last_sync_at(&self) -> Result<Option<DateTime<Utc>>> {
        let ms: Option<i64> = self.with_conn(|c| {
            Ok(c.query_one(
                "SELECT MAX(t) FROM (SELECT finished_at AS t FROM sync_runs WHERE profile = $1 \
                 AND status IN ('ok', 'partial') \
                 UNION ALL SELECT listed_at FROM sync_runs WHERE profile = $1) AS u",
                &[&self.profile],
            )?
            .get(0))
        })?;
        Ok(opt_time(ms))
    }
}
