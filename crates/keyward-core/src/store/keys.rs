//! The keys cache: per-page upserts from sync (with history rows), gone marking, listing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::db::SqliteStore;
use super::history::insert_history;
use super::rows::to_ms;
use crate::error::Result;
use crate::model::key::{ApiKey, KeyStatus};

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

/// What one listed page wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListingOutcome {
    pub new: usize,
    /// Ids of known keys whose listing changed.
    pub changed: Vec<String>,
    /// The store's change cursor after the write.
    pub rev: i64,
}

/// What a batch of details wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetailOutcome {
    /// Ids of observed keys whose counters or suffix changed.
    pub changed: Vec<String>,
    pub history_rows: usize,
    /// The store's change cursor after the write.
    pub rev: i64,
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

impl SqliteStore {
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

    /// Writes one listed page in one transaction (see `list_one`): every key with what the
    /// listing carries, a new or changed key marked as owing its details (every key when
    /// `owe_all`, a full sync). No history row: those come with the details.
    pub fn apply_listing(
        &self,
        run_id: Option<i64>,
        now: DateTime<Utc>,
        keys: &[ApiKey],
        owe_all: bool,
    ) -> Result<ListingOutcome> {
        let now = to_ms(now);
        self.with_tx(|tx| {
            let mut out = ListingOutcome::default();
            for k in keys {
                if list_one(tx, &self.profile, run_id, now, k, owe_all, &mut out.changed)? {
                    out.new += 1;
                }
            }
            out.rev = current_rev(tx)?;
            Ok(out)
        })
    }

    /// Writes detail answers in one transaction (see `detail_one`).
    pub fn apply_details(&self, now: DateTime<Utc>, details: &[ApiKey]) -> Result<DetailOutcome> {
        let now = to_ms(now);
        self.with_tx(|tx| {
            let mut out = DetailOutcome::default();
            for d in details {
                detail_one(
                    tx,
                    &self.profile,
                    now,
                    d,
                    &mut out.changed,
                    &mut out.history_rows,
                )?;
            }
            out.rev = current_rev(tx)?;
            Ok(out)
        })
    }

    /// Ids of the keys whose details are owed (listed, not gone, detail not fetched since the
    /// listing changed), in id order.
    pub fn owed_details(&self) -> Result<Vec<String>> {
        self.with_conn(|c| {
            let mut st = c.prepare(
                "SELECT id FROM keys WHERE profile = ?1 AND needs_detail = 1 AND gone = 0 \
                 ORDER BY id",
            )?;
            let rows = st.query_map([&self.profile], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// Marks these keys gone (Kinde answered 404 to their detail after listing them).
    pub fn mark_gone_ids(&self, ids: &[String]) -> Result<usize> {
        self.with_tx(|tx| {
            let mut st = tx.prepare_cached(
                "UPDATE keys SET gone = 1 WHERE profile = ?1 AND id = ?2 AND gone = 0",
            )?;
            let mut n = 0;
            for id in ids {
                n += st.execute(params![self.profile, id])?;
            }
            Ok(n)
        })
    }

    /// The store's change cursor: the newest `rev` given to any key row (0: none yet).
    pub fn current_rev(&self) -> Result<i64> {
        self.with_conn(current_rev)
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
    /// the revoke is written now. Revoking the old key of a re-issue closes that handover
    /// (audited as `handover_close`), in the same transaction.
    pub fn set_status(&self, key_id: &str, status: KeyStatus, at: DateTime<Utc>) -> Result<bool> {
        let at = to_ms(at);
        self.with_tx(|tx| {
            if status == KeyStatus::Revoked {
                close_handovers(tx, &self.profile, key_id, at)?;
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

/// The store-wide change cursor (`store_rev`, schema 4).
pub(crate) fn current_rev(c: &rusqlite::Connection) -> rusqlite::Result<i64> {
    c.query_row("SELECT rev FROM store_rev WHERE id = 1", [], |r| r.get(0))
}

/// Closes the open re-issues whose old key is `old_id`, with one audit row each.
pub(crate) fn close_handovers(
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
            "opened_at": super::rows::from_ms(*opened_at),
        });
        tx.execute(
            "INSERT INTO audit (at, profile, action, key_id, outcome, details) \
             VALUES (?1, ?2, 'handover_close', ?3, 'ok', ?4)",
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
    let mut changed = Vec::new();
    let new = list_one(tx, profile, run_id, now, &e.key, false, &mut changed)?;
    if e.detail {
        detail_one(
            tx,
            profile,
            now,
            &e.key,
            &mut changed,
            &mut out.history_rows,
        )?;
    }
    out.new += usize::from(new);
    changed.dedup();
    out.changed += changed.len();
    Ok(())
}

/// Writes what a listing carries about one key (name, type, status, prefix, suffix, scopes,
/// api ids, created on/by, last verified on/ip). A new key, a key whose listing changed, and
/// every key when `owe` is set, is marked `needs_detail` (its count and owner are owed).
/// Pushes the id onto `changed` when an existing key's listing changed. True for a new key.
fn list_one(
    tx: &Transaction<'_>,
    profile: &str,
    run_id: Option<i64>,
    now: i64,
    k: &ApiKey,
    owe: bool,
    changed: &mut Vec<String>,
) -> rusqlite::Result<bool> {
    let api_ids = serde_json::to_string(&k.api_ids).unwrap_or_else(|_| "[]".into());
    let scopes = serde_json::to_string(&k.scopes).unwrap_or_else(|_| "[]".into());
    let lvo = k.last_verified_on.map(to_ms);
    let Some(ex) = existing(tx, profile, &k.id)? else {
        // The count and owner come with the detail: null until then, never a made-up 0.
        tx.prepare_cached(
            "INSERT INTO keys (profile, id, name, key_type, status, key_prefix, key_suffix, \
             created_on, last_verified_on, last_verified_ip, created_by, api_ids, scopes, \
             verification_count, user_id, org_code, first_seen, last_synced, detail_synced, \
             needs_detail, seen_run) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
             ?13, NULL, NULL, NULL, ?14, ?14, NULL, 1, ?15)",
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
            now,
            run_id,
        ])?;
        return Ok(true);
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
    if list_changed {
        // The listing's own fields show at once; the count that explains them is owed.
        // A suffix change seen by sync is a rotation, unless Keyward already recorded one
        // since the previous observation.
        let rotated_on = if suffix_changed && ex.rotated_on.is_none_or(|r| r < ex.last_synced) {
            Some(now)
        } else {
            ex.rotated_on
        };
        tx.prepare_cached(
            "UPDATE keys SET status = ?2, key_prefix = ?3, key_suffix = ?4, \
             last_verified_on = ?5, last_verified_ip = COALESCE(?6, last_verified_ip), \
             rotated_on = ?7, needs_detail = 1 WHERE kid = ?1",
        )?
        .execute(params![
            ex.kid,
            k.status.as_str(),
            k.key_prefix,
            k.key_suffix,
            lvo,
            k.last_verified_ip,
            rotated_on,
        ])?;
        changed.push(k.id.clone());
    } else if owe && !ex.needs_detail {
        tx.execute("UPDATE keys SET needs_detail = 1 WHERE kid = ?1", [ex.kid])?;
    }
    Ok(false)
}

/// A history row's counters: verification count, last verified on, from IP, status.
type Observed = (Option<i64>, Option<i64>, Option<String>, String);

/// The last observation of a key's counters: its newest history row.
fn last_observed(tx: &Transaction<'_>, kid: i64) -> rusqlite::Result<Option<Observed>> {
    tx.prepare_cached(
        "SELECT verification_count, last_verified_on, last_verified_ip, status FROM history \
         WHERE kid = ?1 ORDER BY at DESC LIMIT 1",
    )?
    .query_row([kid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
    .optional()
}

/// Writes a detail answer (`GET /api_keys/{id}`): the count, the owner and the fields the
/// listing also carries; clears `needs_detail`. A history row when the counters differ from
/// the last observation (its newest history row), with the verifications since then. Pushes
/// the id onto `changed` when an observed key changed.
fn detail_one(
    tx: &Transaction<'_>,
    profile: &str,
    now: i64,
    d: &ApiKey,
    changed: &mut Vec<String>,
    history_rows: &mut usize,
) -> rusqlite::Result<()> {
    let ex = match existing(tx, profile, &d.id)? {
        Some(ex) => ex,
        None => {
            list_one(tx, profile, None, now, d, false, changed)?;
            match existing(tx, profile, &d.id)? {
                Some(ex) => ex,
                None => return Ok(()),
            }
        }
    };
    let lvo = d.last_verified_on.map(to_ms);
    let ip = d.last_verified_ip.clone().or(ex.ip.clone());
    let suffix_changed = ex.prefix != d.key_prefix || ex.suffix != d.key_suffix;
    let rotated_on = if suffix_changed && ex.rotated_on.is_none_or(|r| r < ex.last_synced) {
        Some(now)
    } else {
        ex.rotated_on
    };
    let api_ids = serde_json::to_string(&d.api_ids).unwrap_or_else(|_| "[]".into());
    let scopes = serde_json::to_string(&d.scopes).unwrap_or_else(|_| "[]".into());
    tx.prepare_cached(
        "UPDATE keys SET status = ?2, key_prefix = ?3, key_suffix = ?4, last_verified_on = ?5, \
         last_verified_ip = ?6, verification_count = ?7, user_id = COALESCE(?8, user_id), \
         org_code = COALESCE(?9, org_code), rotated_on = ?10, detail_synced = ?11, \
         needs_detail = 0, name = ?12, \
         api_ids = CASE WHEN ?13 = '[]' THEN api_ids ELSE ?13 END, \
         scopes = CASE WHEN ?14 = '[]' THEN scopes ELSE ?14 END, \
         created_on = COALESCE(?15, created_on), created_by = COALESCE(?16, created_by) \
         WHERE kid = ?1",
    )?
    .execute(params![
        ex.kid,
        d.status.as_str(),
        d.key_prefix,
        d.key_suffix,
        lvo,
        ip,
        d.verification_count,
        d.user_id,
        d.org_code,
        rotated_on,
        now,
        d.name,
        api_ids,
        scopes,
        d.created_on.map(to_ms),
        d.created_by,
    ])?;
    let last = last_observed(tx, ex.kid)?;
    let observed = (
        d.verification_count,
        lvo,
        ip.clone(),
        d.status.as_str().to_string(),
    );
    let counters_changed = last.as_ref() != Some(&observed);
    if counters_changed {
        let delta = match (last.as_ref().and_then(|l| l.0), d.verification_count) {
            (Some(old), Some(new)) => (new - old).max(0),
            _ => 0,
        };
        insert_history(
            tx,
            ex.kid,
            now,
            d.verification_count,
            lvo,
            ip.as_deref(),
            d.status,
            delta,
        )?;
        *history_rows += 1;
    }
    if (counters_changed && last.is_some()) || suffix_changed {
        changed.push(d.id.clone());
    }
    Ok(())
}
