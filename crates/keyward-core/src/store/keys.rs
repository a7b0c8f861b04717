//! The keys cache: per-page upserts from sync (with history rows), gone marking, listing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::{DAY_MS, Store, opt_from_ms, to_ms};
use crate::error::Result;
use crate::model::{ApiKey, KeyStatus, KeyType};

/// What the store knows about a key, as far as sync needs it to decide on a detail fetch.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyState {
    pub kid: i64,
    pub status: String,
    pub last_verified_on: Option<i64>,
    pub key_prefix: String,
    pub key_suffix: Option<String>,
    pub needs_detail: bool,
    pub gone: bool,
}

impl KeyState {
    /// True when the listing shows a change that only a detail fetch can explain
    /// (`last_verified_on`, status, prefix or suffix), or an earlier fetch is still owed.
    pub fn needs_detail_for(&self, listed: &ApiKey) -> bool {
        self.needs_detail || self.list_changed(listed)
    }

    fn list_changed(&self, k: &ApiKey) -> bool {
        self.status != k.status.as_str()
            || self.last_verified_on != k.last_verified_on.map(to_ms)
            || self.key_prefix != k.key_prefix
            || self.key_suffix != k.key_suffix
    }
}

/// One key of a listed page. When `detail` is true, `key` carries the detail fields
/// (`verification_count`, `user_id`, `org_code`) from `GET /api_keys/{id}`.
#[derive(Debug, Clone)]
pub struct PageEntry {
    pub key: ApiKey,
    pub detail: bool,
}

/// What one page changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageOutcome {
    pub new: usize,
    pub changed: usize,
    pub history_rows: usize,
}

/// A key whose owner or API name is not resolved yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingNames {
    pub id: String,
    pub user_id: Option<String>,
    pub org_code: Option<String>,
    pub api_ids: Vec<String>,
}

struct Existing {
    kid: i64,
    status: String,
    lvo: Option<i64>,
    ip: Option<String>,
    count: Option<i64>,
    prefix: String,
    suffix: Option<String>,
    needs_detail: bool,
    rotated_on: Option<i64>,
    last_synced: i64,
}

impl Store {
    /// All known keys of this profile, by key id.
    pub fn key_states(&self) -> Result<HashMap<String, KeyState>> {
        self.with_conn(|c| {
            let mut st = c.prepare(
                "SELECT id, kid, status, last_verified_on, key_prefix, key_suffix, needs_detail, \
                 gone FROM keys WHERE profile = ?1",
            )?;
            let rows = st.query_map([&self.profile], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    KeyState {
                        kid: r.get(1)?,
                        status: r.get(2)?,
                        last_verified_on: r.get(3)?,
                        key_prefix: r.get(4)?,
                        key_suffix: r.get(5)?,
                        needs_detail: r.get(6)?,
                        gone: r.get(7)?,
                    },
                ))
            })?;
            rows.collect()
        })
    }

    /// Writes one listed page in one transaction: upserts every key, a history row for each
    /// key whose counters changed (never one when nothing changed), and `seen_run`.
    pub fn apply_page(
        &self,
        run_id: Option<i64>,
        now: DateTime<Utc>,
        entries: &[PageEntry],
    ) -> Result<PageOutcome> {
        let now = to_ms(now);
        self.with_tx(|tx| {
            let mut out = PageOutcome::default();
            for e in entries {
                apply_one(tx, &self.profile, run_id, now, e, &mut out)?;
            }
            Ok(out)
        })
    }

    /// After run `run_id`'s complete listing: keys that nothing observed since the run
    /// started are marked gone. A key is kept when this run saw it, when a later run saw it
    /// (`seen_run` is the last run that listed it, so an overlapping run may have overwritten
    /// this run's mark), or when anything else wrote it after this run started (a create or
    /// a re-read while the listing was under way). Only a key that was last seen by an
    /// earlier run, and not touched since this run started, is gone.
    pub fn mark_gone(&self, run_id: i64) -> Result<usize> {
        self.with_tx(|tx| {
            tx.execute(
                "UPDATE keys SET gone = 1 WHERE profile = ?1 AND gone = 0 \
                 AND (seen_run IS NULL OR seen_run < ?2) \
                 AND last_synced <= COALESCE( \
                     (SELECT started_at FROM sync_runs WHERE id = ?2 AND profile = ?1), \
                     last_synced)",
                params![self.profile, run_id],
            )
        })
    }

    /// Records that Keyward rotated a key at `at` (Kinde keeps only the creation date).
    pub fn set_rotated_on(&self, key_id: &str, at: DateTime<Utc>) -> Result<bool> {
        let n = self.with_conn(|c| {
            c.execute(
                "UPDATE keys SET rotated_on = ?3 WHERE profile = ?1 AND id = ?2",
                params![self.profile, key_id, to_ms(at)],
            )
        })?;
        Ok(n > 0)
    }

    /// Sets the cached status of a key (after a revoke), without a detail fetch.
    /// The next sync sees the status unchanged and records nothing twice; the history row for
    /// the revoke is written now. Revoking the old key of a re-issue closes that migration
    /// (audited as `migration_close`), in the same transaction.
    pub fn set_status(&self, key_id: &str, status: KeyStatus, at: DateTime<Utc>) -> Result<bool> {
        let at = to_ms(at);
        self.with_tx(|tx| {
            if status == KeyStatus::Revoked {
                close_migrations(tx, &self.profile, key_id, at)?;
            }
            let Some(ex) = existing(tx, &self.profile, key_id)? else {
                return Ok(false);
            };
            if ex.status == status.as_str() {
                return Ok(true);
            }
            tx.execute(
                "UPDATE keys SET status = ?2 WHERE kid = ?1",
                params![ex.kid, status.as_str()],
            )?;
            insert_history(
                tx,
                ex.kid,
                at,
                ex.count,
                ex.lvo,
                ex.ip.as_deref(),
                status,
                0,
            )?;
            Ok(true)
        })
    }

    /// Key ids whose owner or API name has not been resolved yet.
    pub fn keys_missing_names(&self) -> Result<Vec<MissingNames>> {
        self.with_conn(|c| {
            let mut st = c.prepare(
                "SELECT id, user_id, org_code, api_ids FROM keys WHERE profile = ?1 AND \
                 ((owner_name IS NULL AND (user_id IS NOT NULL OR org_code IS NOT NULL)) \
                 OR (api_name IS NULL AND api_ids <> '[]'))",
            )?;
            let rows = st.query_map([&self.profile], |r| {
                let apis: String = r.get(3)?;
                Ok(MissingNames {
                    id: r.get(0)?,
                    user_id: r.get(1)?,
                    org_code: r.get(2)?,
                    api_ids: serde_json::from_str(&apis).unwrap_or_default(),
                })
            })?;
            rows.collect()
        })
    }

    /// Sets resolved owner and API names (`None` leaves a name as it is).
    pub fn set_names(&self, names: &[(String, Option<String>, Option<String>)]) -> Result<()> {
        self.with_tx(|tx| {
            let mut st = tx.prepare_cached(
                "UPDATE keys SET owner_name = COALESCE(?3, owner_name), \
                 api_name = COALESCE(?4, api_name) WHERE profile = ?1 AND id = ?2",
            )?;
            for (id, owner, api) in names {
                st.execute(params![self.profile, id, owner, api])?;
            }
            Ok(())
        })
    }
}

/// Closes the open re-issues whose old key is `old_id`, with one audit row each.
pub(crate) fn close_migrations(
    tx: &Transaction<'_>,
    profile: &str,
    old_id: &str,
    at: i64,
) -> rusqlite::Result<usize> {
    let open: Vec<(i64, String, i64)> = {
        let mut st = tx.prepare_cached(
            "SELECT id, new_id, opened_at FROM reissues WHERE profile = ?1 AND old_id = ?2 \
             AND closed_at IS NULL",
        )?;
        let rows = st.query_map(params![profile, old_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (id, new_id, opened_at) in &open {
        tx.execute(
            "UPDATE reissues SET closed_at = ?2 WHERE id = ?1",
            params![id, at],
        )?;
        let details = serde_json::json!({
            "new_id": new_id,
            "opened_at": super::from_ms(*opened_at),
        });
        tx.execute(
            "INSERT INTO audit (at, profile, action, key_id, outcome, details) \
             VALUES (?1, ?2, 'migration_close', ?3, 'ok', ?4)",
            params![at, profile, old_id, details.to_string()],
        )?;
    }
    Ok(open.len())
}

fn existing(tx: &Transaction<'_>, profile: &str, id: &str) -> rusqlite::Result<Option<Existing>> {
    tx.prepare_cached(
        "SELECT kid, status, last_verified_on, last_verified_ip, verification_count, key_prefix, \
         key_suffix, needs_detail, rotated_on, last_synced FROM keys WHERE profile = ?1 AND id = ?2",
    )?
    .query_row(params![profile, id], |r| {
        Ok(Existing {
            kid: r.get(0)?,
            status: r.get(1)?,
            lvo: r.get(2)?,
            ip: r.get(3)?,
            count: r.get(4)?,
            prefix: r.get(5)?,
            suffix: r.get(6)?,
            needs_detail: r.get(7)?,
            rotated_on: r.get(8)?,
            last_synced: r.get(9)?,
        })
    })
    .optional()
}

fn apply_one(
    tx: &Transaction<'_>,
    profile: &str,
    run_id: Option<i64>,
    now: i64,
    e: &PageEntry,
    out: &mut PageOutcome,
) -> rusqlite::Result<()> {
    let k = &e.key;
    let api_ids = serde_json::to_string(&k.api_ids).unwrap_or_else(|_| "[]".into());
    let scopes = serde_json::to_string(&k.scopes).unwrap_or_else(|_| "[]".into());
    let lvo = k.last_verified_on.map(to_ms);
    let Some(ex) = existing(tx, profile, &k.id)? else {
        tx.prepare_cached(
            "INSERT INTO keys (profile, id, name, key_type, status, key_prefix, key_suffix, \
             created_on, last_verified_on, last_verified_ip, created_by, api_ids, scopes, \
             verification_count, user_id, org_code, first_seen, last_synced, detail_synced, \
             needs_detail, seen_run) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
             ?13, ?14, ?15, ?16, ?17, ?17, ?18, ?19, ?20)",
        )?
        .execute(params![
            profile,
            k.id,
            k.name,
            k.key_type.as_str(),
            k.status.as_str(),
            k.key_prefix,
            k.key_suffix,
            k.created_on.map(to_ms),
            lvo,
            k.last_verified_ip,
            k.created_by,
            api_ids,
            scopes,
            k.verification_count,
            k.user_id,
            k.org_code,
            now,
            e.detail.then_some(now),
            !e.detail,
            run_id,
        ])?;
        out.new += 1;
        if e.detail {
            let kid = tx.last_insert_rowid();
            insert_history(
                tx,
                kid,
                now,
                k.verification_count,
                lvo,
                k.last_verified_ip.as_deref(),
                k.status,
                0,
            )?;
            out.history_rows += 1;
        }
        return Ok(());
    };

    // Descriptive fields always follow the listing.
    tx.prepare_cached(
        "UPDATE keys SET name = ?2, key_type = ?3, created_on = ?4, created_by = ?5, \
         api_ids = ?6, scopes = ?7, gone = 0, seen_run = COALESCE(?8, seen_run), \
         last_synced = ?9 WHERE kid = ?1",
    )?
    .execute(params![
        ex.kid,
        k.name,
        k.key_type.as_str(),
        k.created_on.map(to_ms),
        k.created_by,
        api_ids,
        scopes,
        run_id,
        now
    ])?;

    let suffix_changed = ex.prefix != k.key_prefix || ex.suffix != k.key_suffix;
    let list_changed = ex.status != k.status.as_str() || ex.lvo != lvo || suffix_changed;
    if !e.detail {
        // Tracked fields only move with a detail fetch; without one, remember that it is owed.
        if list_changed && !ex.needs_detail {
            tx.execute("UPDATE keys SET needs_detail = 1 WHERE kid = ?1", [ex.kid])?;
        }
        return Ok(());
    }

    let ip = k.last_verified_ip.clone().or(ex.ip.clone());
    let counters_changed = ex.count != k.verification_count
        || ex.lvo != lvo
        || ex.ip != ip
        || ex.status != k.status.as_str();
    // A suffix change seen by sync is a rotation, unless Keyward already recorded one since
    // the previous observation.
    let rotated_on = if suffix_changed && ex.rotated_on.is_none_or(|r| r < ex.last_synced) {
        Some(now)
    } else {
        ex.rotated_on
    };
    tx.prepare_cached(
        "UPDATE keys SET status = ?2, key_prefix = ?3, key_suffix = ?4, last_verified_on = ?5, \
         last_verified_ip = ?6, verification_count = ?7, user_id = COALESCE(?8, user_id), \
         org_code = COALESCE(?9, org_code), rotated_on = ?10, detail_synced = ?11, \
         needs_detail = 0 WHERE kid = ?1",
    )?
    .execute(params![
        ex.kid,
        k.status.as_str(),
        k.key_prefix,
        k.key_suffix,
        lvo,
        ip,
        k.verification_count,
        k.user_id,
        k.org_code,
        rotated_on,
        now
    ])?;
    if counters_changed {
        let delta = match (ex.count, k.verification_count) {
            (Some(old), Some(new)) => (new - old).max(0),
            _ => 0,
        };
        insert_history(
            tx,
            ex.kid,
            now,
            k.verification_count,
            lvo,
            ip.as_deref(),
            k.status,
            delta,
        )?;
        out.history_rows += 1;
    }
    if counters_changed || suffix_changed {
        out.changed += 1;
    }
    Ok(())
}

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
    insert_history_from(
        tx,
        kid,
        at,
        count,
        lvo,
        ip,
        status,
        delta,
        super::demo::SOURCE_SYNC,
    )
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

pub(crate) fn parse_status(s: &str) -> KeyStatus {
    match s {
        "active" => KeyStatus::Active,
        "inactive" => KeyStatus::Inactive,
        _ => KeyStatus::Revoked,
    }
}

pub(crate) fn parse_type(s: &str) -> KeyType {
    match s {
        "organization" => KeyType::Organization,
        "environment" => KeyType::Environment,
        _ => KeyType::User,
    }
}

pub(crate) fn opt_time(ms: Option<i64>) -> Option<DateTime<Utc>> {
    opt_from_ms(ms)
}
