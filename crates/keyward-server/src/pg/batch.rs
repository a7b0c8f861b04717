//! Set-based writes of a listed page and of a batch of details: the same decisions as
//! `keys.rs`'s row-at-a-time `list_one` / `detail_one` (core's SQL), made in Rust over one read
//! of the page's rows, then written with one statement per table (`unnest` of arrays). A page
//! of 500 keys costs a handful of round trips instead of a thousand; PostgreSQL is a network
//! hop away, where SQLite's per-row statements are function calls.
//!
//! A batch that names a key twice, or a detail of a key not cached yet, takes the row-at-a-time
//! path (same results, fewer assumptions).

use std::collections::{HashMap, HashSet};

use keyward_core::model::key::ApiKey;
use keyward_core::store::to_ms;
use postgres::Transaction;
use postgres::types::ToSql;

use super::{DAY_MS, R};

/// A history row's counters: verification count, last verified on, from IP, status.
type Observed = (Option<i64>, Option<i64>, Option<String>, String);

/// What the batch reads of a key (and of its newest history row).
struct Row {
    kid: i64,
    status: String,
    lvo: Option<i64>,
    ip: Option<String>,
    prefix: String,
    suffix: Option<String>,
    needs_detail: bool,
    rotated_on: Option<i64>,
    last_synced: i64,
    /// The newest history row's counters: count, last verified on, ip, status.
    last: Option<Observed>,
}

fn rows_of(
    tx: &mut Transaction<'_>,
    profile: &str,
    ids: &[&str],
    with_last: bool,
) -> R<HashMap<String, Row>> {
    let sql = if with_last {
        "SELECT k.id, k.kid, k.status, k.last_verified_on, k.last_verified_ip, k.key_prefix, \
         k.key_suffix, k.needs_detail, k.rotated_on, k.last_synced, h.found, \
         h.verification_count, h.last_verified_on, h.last_verified_ip, h.status \
         FROM keys k LEFT JOIN LATERAL (SELECT TRUE AS found, verification_count, \
         last_verified_on, last_verified_ip, status FROM history WHERE kid = k.kid \
         ORDER BY at DESC LIMIT 1) h ON TRUE WHERE k.profile = $1 AND k.id = ANY($2)"
    } else {
        "SELECT k.id, k.kid, k.status, k.last_verified_on, k.last_verified_ip, k.key_prefix, \
         k.key_suffix, k.needs_detail, k.rotated_on, k.last_synced, NULL::BOOLEAN, NULL::BIGINT, \
         NULL::BIGINT, NULL::TEXT, NULL::TEXT FROM keys k WHERE k.profile = $1 AND k.id = ANY($2)"
    };
    let rows = tx.query(sql, &[&profile, &ids])?;
    Ok(rows
        .iter()
        .map(|r| {
            let found: Option<bool> = r.get(10);
            (
                r.get(0),
                Row {
                    kid: r.get(1),
                    status: r.get(2),
                    lvo: r.get(3),
                    ip: r.get(4),
                    prefix: r.get(5),
                    suffix: r.get(6),
                    needs_detail: r.get(7),
                    rotated_on: r.get(8),
                    last_synced: r.get(9),
                    last: found.map(|_| (r.get(11), r.get(12), r.get(13), r.get(14))),
                },
            )
        })
        .collect())
}

fn distinct(ids: &[&str]) -> bool {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter().all(|id| seen.insert(*id))
}

fn json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// A listed page, set-based (see `list_one`). `None`: the page names a key twice; the caller
/// writes it row by row.
pub(crate) fn listing(
    tx: &mut Transaction<'_>,
    profile: &str,
    run_id: Option<i64>,
    now: i64,
    keys: &[ApiKey],
    owe: bool,
    changed: &mut Vec<String>,
) -> R<Option<usize>> {
    let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
    if !distinct(&ids) {
        return Ok(None);
    }
    let known = rows_of(tx, profile, &ids, false)?;
    let mut new = NewKeys::default();
    let mut upd = ListedUpdate::default();
    for k in keys {
        let lvo = k.last_verified_on.map(to_ms);
        let Some(ex) = known.get(&k.id) else {
            new.push(k, lvo);
            continue;
        };
        let suffix_changed = ex.prefix != k.key_prefix || ex.suffix != k.key_suffix;
        let list_changed = ex.status != k.status.as_str() || ex.lvo != lvo || suffix_changed;
        let (status, prefix, suffix, lvo2, ip, rotated_on, needs_detail) = if list_changed {
            let rotated_on = if suffix_changed && ex.rotated_on.is_none_or(|r| r < ex.last_synced) {
                Some(now)
            } else {
                ex.rotated_on
            };
            changed.push(k.id.clone());
            (
                k.status.as_str().to_string(),
                k.key_prefix.clone(),
                k.key_suffix.clone(),
                lvo,
                k.last_verified_ip.clone().or_else(|| ex.ip.clone()),
                rotated_on,
                true,
            )
        } else {
            (
                ex.status.clone(),
                ex.prefix.clone(),
                ex.suffix.clone(),
                ex.lvo,
                ex.ip.clone(),
                ex.rotated_on,
                ex.needs_detail || owe,
            )
        };
        upd.kid.push(ex.kid);
        upd.name.push(k.name.clone());
        upd.key_type.push(k.key_type.as_str().to_string());
        upd.created_on.push(k.created_on.map(to_ms));
        upd.created_by.push(k.created_by.clone());
        upd.api_ids.push(json(&k.api_ids));
        upd.scopes.push(json(&k.scopes));
        upd.status.push(status);
        upd.prefix.push(prefix);
        upd.suffix.push(suffix);
        upd.lvo.push(lvo2);
        upd.ip.push(ip);
        upd.rotated_on.push(rotated_on);
        upd.needs_detail.push(needs_detail);
    }
    let n_new = new.id.len();
    new.insert(tx, profile, run_id, now)?;
    upd.update(tx, run_id, now)?;
    Ok(Some(n_new))
}

#[derive(Default)]
struct NewKeys {
    id: Vec<String>,
    name: Vec<String>,
    key_type: Vec<String>,
    status: Vec<String>,
    prefix: Vec<String>,
    suffix: Vec<Option<String>>,
    created_on: Vec<Option<i64>>,
    lvo: Vec<Option<i64>>,
    ip: Vec<Option<String>>,
    created_by: Vec<Option<String>>,
    api_ids: Vec<String>,
    scopes: Vec<String>,
}

impl NewKeys {
    fn push(&mut self, k: &ApiKey, lvo: Option<i64>) {
        self.id.push(k.id.clone());
        self.name.push(k.name.clone());
        self.key_type.push(k.key_type.as_str().to_string());
        self.status.push(k.status.as_str().to_string());
        self.prefix.push(k.key_prefix.clone());
        self.suffix.push(k.key_suffix.clone());
        self.created_on.push(k.created_on.map(to_ms));
        self.lvo.push(lvo);
        self.ip.push(k.last_verified_ip.clone());
        self.created_by.push(k.created_by.clone());
        self.api_ids.push(json(&k.api_ids));
        self.scopes.push(json(&k.scopes));
    }

    /// The count and owner come with the detail: null until then, never a made-up 0. In the
    /// page's order (kids and revs follow it).
    fn insert(
        &self,
        tx: &mut Transaction<'_>,
        profile: &str,
        run_id: Option<i64>,
        now: i64,
    ) -> R<()> {
        if self.id.is_empty() {
            return Ok(());
        }
        let params: [&(dyn ToSql + Sync); 15] = [
            &profile,
            &now,
            &run_id,
            &self.id,
            &self.name,
            &self.key_type,
            &self.status,
            &self.prefix,
            &self.suffix,
            &self.created_on,
            &self.lvo,
            &self.ip,
            &self.created_by,
            &self.api_ids,
            &self.scopes,
        ];
        tx.execute(
            "INSERT INTO keys (profile, id, name, key_type, status, key_prefix, key_suffix, \
             created_on, last_verified_on, last_verified_ip, created_by, api_ids, scopes, \
             verification_count, user_id, org_code, first_seen, last_synced, detail_synced, \
             needs_detail, seen_run) \
             SELECT $1, u.id, u.name, u.key_type, u.status, u.prefix, u.suffix, u.created_on, \
             u.lvo, u.ip, u.created_by, u.api_ids, u.scopes, NULL, NULL, NULL, $2, $2, NULL, \
             TRUE, $3::BIGINT \
             FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
             $9::text[], $10::bigint[], $11::bigint[], $12::text[], $13::text[], $14::text[], \
             $15::text[]) WITH ORDINALITY AS u(id, name, key_type, status, prefix, suffix, \
             created_on, lvo, ip, created_by, api_ids, scopes, ord) ORDER BY u.ord",
            &params,
        )?;
        Ok(())
    }
}

#[derive(Default)]
struct ListedUpdate {
    kid: Vec<i64>,
    name: Vec<String>,
    key_type: Vec<String>,
    created_on: Vec<Option<i64>>,
    created_by: Vec<Option<String>>,
    api_ids: Vec<String>,
    scopes: Vec<String>,
    status: Vec<String>,
    prefix: Vec<String>,
    suffix: Vec<Option<String>>,
    lvo: Vec<Option<i64>>,
    ip: Vec<Option<String>>,
    rotated_on: Vec<Option<i64>>,
    needs_detail: Vec<bool>,
}

impl ListedUpdate {
    fn update(&self, tx: &mut Transaction<'_>, run_id: Option<i64>, now: i64) -> R<()> {
        if self.kid.is_empty() {
            return Ok(());
        }
        let params: [&(dyn ToSql + Sync); 16] = [
            &run_id,
            &now,
            &self.kid,
            &self.name,
            &self.key_type,
            &self.created_on,
            &self.created_by,
            &self.api_ids,
            &self.scopes,
            &self.status,
            &self.prefix,
            &self.suffix,
            &self.lvo,
            &self.ip,
            &self.rotated_on,
            &self.needs_detail,
        ];
        tx.execute(
            "UPDATE keys SET name = u.name, key_type = u.key_type, created_on = u.created_on, \
             created_by = u.created_by, api_ids = u.api_ids, scopes = u.scopes, gone = FALSE, \
             seen_run = COALESCE($1::BIGINT, keys.seen_run), last_synced = $2, \
             status = u.status, key_prefix = u.prefix, key_suffix = u.suffix, \
             last_verified_on = u.lvo, last_verified_ip = u.ip, rotated_on = u.rotated_on, \
             needs_detail = u.needs_detail \
             FROM unnest($3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::text[], \
             $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], \
             $14::text[], $15::bigint[], $16::bool[]) AS u(kid, name, key_type, created_on, \
             created_by, api_ids, scopes, status, prefix, suffix, lvo, ip, rotated_on, \
             needs_detail) WHERE keys.kid = u.kid",
            &params,
        )?;
        Ok(())
    }
}

/// A batch of detail answers, set-based (see `detail_one`). `None`: the batch names a key
/// twice, or a key that is not cached; the caller writes it row by row.
pub(crate) fn details(
    tx: &mut Transaction<'_>,
    profile: &str,
    now: i64,
    details: &[ApiKey],
    changed: &mut Vec<String>,
    history_rows: &mut usize,
) -> R<bool> {
    let ids: Vec<&str> = details.iter().map(|d| d.id.as_str()).collect();
    if !distinct(&ids) {
        return Ok(false);
    }
    let known = rows_of(tx, profile, &ids, true)?;
    if known.len() != ids.len() {
        return Ok(false);
    }
    let mut u = DetailUpdate::default();
    let mut h = HistoryRows::default();
    let mut daily: HashMap<(i64, i64), i64> = HashMap::new();
    for d in details {
        let Some(ex) = known.get(&d.id) else {
            return Ok(false);
        };
        let lvo = d.last_verified_on.map(to_ms);
        let ip = d.last_verified_ip.clone().or(ex.ip.clone());
        let suffix_changed = ex.prefix != d.key_prefix || ex.suffix != d.key_suffix;
        let rotated_on = if suffix_changed && ex.rotated_on.is_none_or(|r| r < ex.last_synced) {
            Some(now)
        } else {
            ex.rotated_on
        };
        u.kid.push(ex.kid);
        u.status.push(d.status.as_str().to_string());
        u.prefix.push(d.key_prefix.clone());
        u.suffix.push(d.key_suffix.clone());
        u.lvo.push(lvo);
        u.ip.push(ip.clone());
        u.count.push(d.verification_count);
        u.user_id.push(d.user_id.clone());
        u.org_code.push(d.org_code.clone());
        u.rotated_on.push(rotated_on);
        u.name.push(d.name.clone());
        u.api_ids.push(json(&d.api_ids));
        u.scopes.push(json(&d.scopes));
        u.created_on.push(d.created_on.map(to_ms));
        u.created_by.push(d.created_by.clone());

        let observed = (
            d.verification_count,
            lvo,
            ip.clone(),
            d.status.as_str().to_string(),
        );
        let counters_changed = ex.last.as_ref() != Some(&observed);
        if counters_changed {
            let delta = match (ex.last.as_ref().and_then(|l| l.0), d.verification_count) {
                (Some(old), Some(new)) => (new - old).max(0),
                _ => 0,
            };
            h.kid.push(ex.kid);
            h.count.push(d.verification_count);
            h.lvo.push(lvo);
            h.ip.push(ip);
            h.status.push(d.status.as_str().to_string());
            h.delta.push(delta);
            if delta > 0 {
                *daily.entry((ex.kid, now.div_euclid(DAY_MS))).or_default() += delta;
            }
            *history_rows += 1;
        }
        if (counters_changed && ex.last.is_some()) || suffix_changed {
            changed.push(d.id.clone());
        }
    }
    u.update(tx, now)?;
    h.insert(tx, now)?;
    if !daily.is_empty() {
        let (mut kid, mut day, mut n) = (Vec::new(), Vec::new(), Vec::new());
        for ((k, d), v) in daily {
            kid.push(k);
            day.push(d);
            n.push(v);
        }
        tx.execute(
            "INSERT INTO daily (kid, day, verifications) \
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) \
             ON CONFLICT (kid, day) DO UPDATE SET \
             verifications = daily.verifications + excluded.verifications",
            &[&kid, &day, &n],
        )?;
    }
    Ok(true)
}

#[derive(Default)]
struct DetailUpdate {
    kid: Vec<i64>,
    status: Vec<String>,
    prefix: Vec<String>,
    suffix: Vec<Option<String>>,
    lvo: Vec<Option<i64>>,
    ip: Vec<Option<String>>,
    count: Vec<Option<i64>>,
    user_id: Vec<Option<String>>,
    org_code: Vec<Option<String>>,
    rotated_on: Vec<Option<i64>>,
    name: Vec<String>,
    api_ids: Vec<String>,
    scopes: Vec<String>,
    created_on: Vec<Option<i64>>,
    created_by: Vec<Option<String>>,
}

impl DetailUpdate {
    fn update(&self, tx: &mut Transaction<'_>, now: i64) -> R<()> {
        if self.kid.is_empty() {
            return Ok(());
        }
        let params: [&(dyn ToSql + Sync); 16] = [
            &now,
            &self.kid,
            &self.status,
            &self.prefix,
            &self.suffix,
            &self.lvo,
            &self.ip,
            &self.count,
            &self.user_id,
            &self.org_code,
            &self.rotated_on,
            &self.name,
            &self.api_ids,
            &self.scopes,
            &self.created_on,
            &self.created_by,
        ];
        tx.execute(
            "UPDATE keys SET status = u.status, key_prefix = u.prefix, key_suffix = u.suffix, \
             last_verified_on = u.lvo, last_verified_ip = u.ip, verification_count = u.count, \
             user_id = COALESCE(u.user_id, keys.user_id), \
             org_code = COALESCE(u.org_code, keys.org_code), rotated_on = u.rotated_on, \
             detail_synced = $1, needs_detail = FALSE, name = u.name, \
             api_ids = CASE WHEN u.api_ids = '[]' THEN keys.api_ids ELSE u.api_ids END, \
             scopes = CASE WHEN u.scopes = '[]' THEN keys.scopes ELSE u.scopes END, \
             created_on = COALESCE(u.created_on, keys.created_on), \
             created_by = COALESCE(u.created_by, keys.created_by) \
             FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], \
             $7::text[], $8::bigint[], $9::text[], $10::text[], $11::bigint[], $12::text[], \
             $13::text[], $14::text[], $15::bigint[], $16::text[]) AS u(kid, status, prefix, \
             suffix, lvo, ip, count, user_id, org_code, rotated_on, name, api_ids, scopes, \
             created_on, created_by) WHERE keys.kid = u.kid",
            &params,
        )?;
        Ok(())
    }
}

#[derive(Default)]
struct HistoryRows {
    kid: Vec<i64>,
    count: Vec<Option<i64>>,
    lvo: Vec<Option<i64>>,
    ip: Vec<Option<String>>,
    status: Vec<String>,
    delta: Vec<i64>,
}

impl HistoryRows {
    /// One observed row per key at `now` (and a row already there at that instant is merged,
    /// as `insert_history` does).
    fn insert(&self, tx: &mut Transaction<'_>, now: i64) -> R<()> {
        if self.kid.is_empty() {
            return Ok(());
        }
        tx.execute(
            "INSERT INTO history (kid, at, verification_count, last_verified_on, \
             last_verified_ip, status, delta, source) \
             SELECT u.kid, $1, u.count, u.lvo, u.ip, u.status, u.delta, 'sync' \
             FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], \
             $7::bigint[]) AS u(kid, count, lvo, ip, status, delta) \
             ON CONFLICT (kid, at) DO UPDATE SET \
             verification_count = excluded.verification_count, \
             last_verified_on = excluded.last_verified_on, \
             last_verified_ip = excluded.last_verified_ip, status = excluded.status, \
             delta = history.delta + excluded.delta",
            &[
                &now,
                &self.kid,
                &self.count,
                &self.lvo,
                &self.ip,
                &self.status,
                &self.delta,
            ],
        )?;
        Ok(())
    }
}
