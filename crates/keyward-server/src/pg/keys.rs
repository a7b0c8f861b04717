//! The keys cache (store/keys.rs in core): per-page upserts with history rows, gone marking.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use keyward_core::error::Result;
use keyward_core::model::key::{ApiKey, KeyStatus};
use keyward_core::store::{
    DetailOutcome, KeyState, ListingOutcome, MissingNames, PageEntry, PageOutcome, to_ms,
};
use postgres::Transaction;
use postgres::types::ToSql;

use super::history::insert_history;
use super::{PgStore, R, Stmts};

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

impl PgStore {
    pub(crate) fn key_states(&self) -> Result<HashMap<String, KeyState>> {
        self.with_conn(|c| {
            let rows = c.query(
                "SELECT id, kid, status, last_verified_on, key_prefix, key_suffix, needs_detail, \
                 gone FROM keys WHERE profile = $1",
                &[&self.profile],
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    (
                        r.get::<_, String>(0),
                        KeyState {
                            kid: r.get(1),
                            status: r.get(2),
                            last_verified_on: r.get(3),
                            key_prefix: r.get(4),
                            key_suffix: r.get(5),
                            needs_detail: r.get(6),
                            gone: r.get(7),
                        },
                    )
                })
                .collect())
        })
    }

    pub(crate) fn apply_page(
        &self,
        run_id: Option<i64>,
        now: DateTime<Utc>,
        entries: &[PageEntry],
    ) -> Result<PageOutcome> {
        let now = to_ms(now);
        self.with_tx(|tx| {
            let mut st = Stmts::default();
            let mut out = PageOutcome::default();
            for e in entries {
                let mut changed = Vec::new();
                let new = list_one(
                    tx,
                    &mut st,
                    &self.profile,
                    run_id,
                    now,
                    &e.key,
                    false,
                    &mut changed,
                )?;
                if e.detail {
                    detail_one(
                        tx,
                        &mut st,
                        &self.profile,
                        now,
                        &e.key,
                        &mut changed,
                        &mut out.history_rows,
                    )?;
                }
                out.new += usize::from(new);
                changed.dedup();
                out.changed += changed.len();
            }
            Ok(out)
        })
    }

    pub(crate) fn mark_gone(&self, run_id: i64) -> Result<usize> {
        self.with_tx(|tx| {
            Ok(tx.execute(
                "UPDATE keys SET gone = TRUE WHERE profile = $1 AND NOT gone \
                 AND (seen_run IS NULL OR seen_run < $2) \
                 AND last_synced <= COALESCE( \
                     (SELECT started_at FROM sync_runs WHERE id = $2 AND profile = $1), \
                     last_synced)",
                &[&self.profile, &run_id],
            )? as usize)
        })
    }

    pub(crate) fn apply_listing(
        &self,
        run_id: Option<i64>,
        now: DateTime<Utc>,
        keys: &[ApiKey],
        owe_all: bool,
    ) -> Result<ListingOutcome> {
        let now = to_ms(now);
        self.with_tx(|tx| {
            let mut out = ListingOutcome::default();
            match super::batch::listing(
                tx,
                &self.profile,
                run_id,
                now,
                keys,
                owe_all,
                &mut out.changed,
            )? {
                Some(new) => out.new = new,
                None => {
                    let mut st = Stmts::default();
                    for k in keys {
                        if list_one(
                            tx,
                            &mut st,
                            &self.profile,
                            run_id,
                            now,
                            k,
                            owe_all,
                            &mut out.changed,
                        )? {
                            out.new += 1;
                        }
                    }
                }
            }
            out.rev = current_rev(tx, &self.profile)?;
            Ok(out)
        })
    }

    pub(crate) fn apply_details(
        &self,
        now: DateTime<Utc>,
        details: &[ApiKey],
    ) -> Result<DetailOutcome> {
        let now = to_ms(now);
        self.with_tx(|tx| {
            let mut out = DetailOutcome::default();
            if !super::batch::details(
                tx,
                &self.profile,
                now,
                details,
                &mut out.changed,
                &mut out.history_rows,
            )? {
                let mut st = Stmts::default();
                for d in details {
                    detail_one(
                        tx,
                        &mut st,
                        &self.profile,
                        now,
                        d,
                        &mut out.changed,
                        &mut out.history_rows,
                    )?;
                }
            }
            out.rev = current_rev(tx, &self.profile)?;
            Ok(out)
        })
    }

    pub(crate) fn owed_details(&self) -> Result<Vec<String>> {
        self.with_conn(|c| {
            let rows = c.query(
                "SELECT id FROM keys WHERE profile = $1 AND needs_detail AND NOT gone ORDER BY id",
                &[&self.profile],
            )?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    pub(crate) fn mark_gone_ids(&self, ids: &[String]) -> Result<usize> {
        self.with_tx(|tx| {
            let st = tx.prepare(
                "UPDATE keys SET gone = TRUE WHERE profile = $1 AND id = $2 AND NOT gone",
            )?;
            let mut n = 0;
            for id in ids {
                n += tx.execute(&st, &[&self.profile, id])? as usize;
            }
            Ok(n)
        })
    }

    pub(crate) fn current_rev(&self) -> Result<i64> {
        self.with_conn(|c| {
            Ok(c.query_one(
                "SELECT COALESCE(MAX(rev), 0) FROM keys WHERE profile = $1",
                &[&self.profile],
            )?
            .get(0))
        })
    }

    pub(crate) fn set_rotated_on(&self, key_id: &str, at: DateTime<Utc>) -> Result<bool> {
        // Under the profile's write lock, as every write to key rows (their revs).
        let n = self.with_tx(|tx| {
            Ok(tx.execute(
                "UPDATE keys SET rotated_on = $3 WHERE profile = $1 AND id = $2",
                &[&self.profile, &key_id, &to_ms(at)],
            )?)
        })?;
        Ok(n > 0)
    }

    pub(crate) fn set_status(
        &self,
        key_id: &str,
        status: KeyStatus,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let at = to_ms(at);
        self.with_tx(|tx| {
            if status == KeyStatus::Revoked {
                close_handovers(tx, &self.profile, key_id, at)?;
            }
            let mut st = Stmts::default();
            let Some(ex) = existing(tx, &mut st, &self.profile, key_id)? else {
                return Ok(false);
            };
            if ex.status == status.as_str() {
                return Ok(true);
            }
            tx.execute(
                "UPDATE keys SET status = $2 WHERE kid = $1",
                &[&ex.kid, &status.as_str()],
            )?;
            insert_history(
                tx,
                &mut st,
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

    pub(crate) fn keys_missing_names(&self) -> Result<Vec<MissingNames>> {
        self.with_conn(|c| {
            let rows = c.query(
                "SELECT id, user_id, org_code, api_ids FROM keys WHERE profile = $1 AND \
                 ((owner_name IS NULL AND (user_id IS NOT NULL OR org_code IS NOT NULL)) \
                 OR (api_name IS NULL AND api_ids <> '[]'))",
                &[&self.profile],
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    let apis: String = r.get(3);
                    MissingNames {
                        id: r.get(0),
                        user_id: r.get(1),
                        org_code: r.get(2),
                        api_ids: serde_json::from_str(&apis).unwrap_or_default(),
                    }
                })
                .collect())
        })
    }

    pub(crate) fn set_names(
        &self,
        names: &[(String, Option<String>, Option<String>)],
    ) -> Result<()> {
        self.with_tx(|tx| {
            let mut ids = std::collections::HashSet::with_capacity(names.len());
            if names.iter().all(|(id, _, _)| ids.insert(id.as_str())) {
                // One statement for the lot (a first sync names every key).
                let id: Vec<&str> = names.iter().map(|n| n.0.as_str()).collect();
                let owner: Vec<Option<&str>> = names.iter().map(|n| n.1.as_deref()).collect();
                let api: Vec<Option<&str>> = names.iter().map(|n| n.2.as_deref()).collect();
                tx.execute(
                    "UPDATE keys SET owner_name = COALESCE(u.owner, keys.owner_name), \
                     api_name = COALESCE(u.api, keys.api_name) \
                     FROM unnest($2::text[], $3::text[], $4::text[]) AS u(id, owner, api) \
                     WHERE keys.profile = $1 AND keys.id = u.id",
                    &[&self.profile, &id, &owner, &api],
                )?;
                return Ok(());
            }
            let st = tx.prepare(
                "UPDATE keys SET owner_name = COALESCE($3, owner_name), \
                 api_name = COALESCE($4, api_name) WHERE profile = $1 AND id = $2",
            )?;
            for (id, owner, api) in names {
                tx.execute(&st, &[&self.profile, id, owner, api])?;
            }
            Ok(())
        })
    }
}

/// The profile's change cursor: the newest rev of its key rows (see migration 0001).
pub(crate) fn current_rev(tx: &mut Transaction<'_>, profile: &str) -> R<i64> {
    Ok(tx
        .query_one(
            "SELECT COALESCE(MAX(rev), 0) FROM keys WHERE profile = $1",
            &[&profile],
        )?
        .get(0))
}

/// Closes the open re-issues whose old key is `old_id`, with one audit row each.
pub(crate) fn close_handovers(
    tx: &mut Transaction<'_>,
    profile: &str,
    old_id: &str,
    at: i64,
) -> R<usize> {
    let open: Vec<(i64, String, i64)> = tx
        .query(
            "SELECT id, new_id, opened_at FROM reissues WHERE profile = $1 AND old_id = $2 \
             AND closed_at IS NULL",
            &[&profile, &old_id],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    for (id, new_id, opened_at) in &open {
        tx.execute(
            "UPDATE reissues SET closed_at = $2 WHERE id = $1",
            &[id, &at],
        )?;
        let details = serde_json::json!({
            "new_id": new_id,
            "opened_at": keyward_core::store::from_ms(*opened_at),
        });
        tx.execute(
            "INSERT INTO audit (at, profile, action, key_id, outcome, details) \
             VALUES ($1, $2, 'handover_close', $3, 'ok', $4)",
            &[&at, &profile, &old_id, &details.to_string()],
        )?;
    }
    Ok(open.len())
}

fn existing(
    tx: &mut Transaction<'_>,
    st: &mut Stmts,
    profile: &str,
    id: &str,
) -> R<Option<Existing>> {
    let s = st.get(
        tx,
        "SELECT kid, status, last_verified_on, last_verified_ip, verification_count, key_prefix, \
         key_suffix, needs_detail, rotated_on, last_synced FROM keys WHERE profile = $1 AND id = $2",
    )?;
    Ok(tx.query_opt(&s, &[&profile, &id])?.map(|r| Existing {
        kid: r.get(0),
        status: r.get(1),
        lvo: r.get(2),
        ip: r.get(3),
        count: r.get(4),
        prefix: r.get(5),
        suffix: r.get(6),
        needs_detail: r.get(7),
        rotated_on: r.get(8),
        last_synced: r.get(9),
    }))
}

/// See core's `list_one`: what a listing carries about one key. True for a new key.
#[allow(clippy::too_many_arguments, reason = "the port keeps core's signature")]
fn list_one(
    tx: &mut Transaction<'_>,
    st: &mut Stmts,
    profile: &str,
    run_id: Option<i64>,
    now: i64,
    k: &ApiKey,
    owe: bool,
    changed: &mut Vec<String>,
) -> R<bool> {
    let api_ids = serde_json::to_string(&k.api_ids).unwrap_or_else(|_| "[]".into());
    let scopes = serde_json::to_string(&k.scopes).unwrap_or_else(|_| "[]".into());
    let lvo = k.last_verified_on.map(to_ms);
    let created_on = k.created_on.map(to_ms);
    let Some(ex) = existing(tx, st, profile, &k.id)? else {
        let s = st.get(
            tx,
            "INSERT INTO keys (profile, id, name, key_type, status, key_prefix, key_suffix, \
             created_on, last_verified_on, last_verified_ip, created_by, api_ids, scopes, \
             verification_count, user_id, org_code, first_seen, last_synced, detail_synced, \
             needs_detail, seen_run) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, NULL, NULL, NULL, $14, $14, NULL, TRUE, $15)",
        )?;
        let params: [&(dyn ToSql + Sync); 15] = [
            &profile,
            &k.id,
            &k.name,
            &k.key_type.as_str(),
            &k.status.as_str(),
            &k.key_prefix,
            &k.key_suffix,
            &created_on,
            &lvo,
            &k.last_verified_ip,
            &k.created_by,
            &api_ids,
            &scopes,
            &now,
            &run_id,
        ];
        tx.execute(&s, &params)?;
        return Ok(true);
    };

    let s = st.get(
        tx,
        "UPDATE keys SET name = $2, key_type = $3, created_on = $4, created_by = $5, \
         api_ids = $6, scopes = $7, gone = FALSE, seen_run = COALESCE($8, seen_run), \
         last_synced = $9 WHERE kid = $1",
    )?;
    tx.execute(
        &s,
        &[
            &ex.kid,
            &k.name,
            &k.key_type.as_str(),
            &created_on,
            &k.created_by,
            &api_ids,
            &scopes,
            &run_id,
            &now,
        ],
    )?;

    let suffix_changed = ex.prefix != k.key_prefix || ex.suffix != k.key_suffix;
    let list_changed = ex.status != k.status.as_str() || ex.lvo != lvo || suffix_changed;
    if list_changed {
        let rotated_on = if suffix_changed && ex.rotated_on.is_none_or(|r| r < ex.last_synced) {
            Some(now)
        } else {
            ex.rotated_on
        };
        let s = st.get(
            tx,
            "UPDATE keys SET status = $2, key_prefix = $3, key_suffix = $4, \
             last_verified_on = $5, last_verified_ip = COALESCE($6, last_verified_ip), \
             rotated_on = $7, needs_detail = TRUE WHERE kid = $1",
        )?;
        tx.execute(
            &s,
            &[
                &ex.kid,
                &k.status.as_str(),
                &k.key_prefix,
                &k.key_suffix,
                &lvo,
                &k.last_verified_ip,
                &rotated_on,
            ],
        )?;
        changed.push(k.id.clone());
    } else if owe && !ex.needs_detail {
        tx.execute(
            "UPDATE keys SET needs_detail = TRUE WHERE kid = $1",
            &[&ex.kid],
        )?;
    }
    Ok(false)
}

type Observed = (Option<i64>, Option<i64>, Option<String>, String);

fn last_observed(tx: &mut Transaction<'_>, st: &mut Stmts, kid: i64) -> R<Option<Observed>> {
    let s = st.get(
        tx,
        "SELECT verification_count, last_verified_on, last_verified_ip, status FROM history \
         WHERE kid = $1 ORDER BY at DESC LIMIT 1",
    )?;
    Ok(tx
        .query_opt(&s, &[&kid])?
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))))
}

/// See core's `detail_one`: a detail answer, and a history row when the counters changed.
fn detail_one(
    tx: &mut Transaction<'_>,
    st: &mut Stmts,
    profile: &str,
    now: i64,
    d: &ApiKey,
    changed: &mut Vec<String>,
    history_rows: &mut usize,
) -> R<()> {
    let ex = match existing(tx, st, profile, &d.id)? {
        Some(ex) => ex,
        None => {
            list_one(tx, st, profile, None, now, d, false, changed)?;
            match existing(tx, st, profile, &d.id)? {
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
    let created_on = d.created_on.map(to_ms);
    let s = st.get(
        tx,
        "UPDATE keys SET status = $2, key_prefix = $3, key_suffix = $4, last_verified_on = $5, \
         last_verified_ip = $6, verification_count = $7, user_id = COALESCE($8, user_id), \
         org_code = COALESCE($9, org_code), rotated_on = $10, detail_synced = $11, \
         needs_detail = FALSE, name = $12, \
         api_ids = CASE WHEN $13::text = '[]' THEN api_ids ELSE $13 END, \
         scopes = CASE WHEN $14::text = '[]' THEN scopes ELSE $14 END, \
         created_on = COALESCE($15, created_on), created_by = COALESCE($16, created_by) \
         WHERE kid = $1",
    )?;
    let params: [&(dyn ToSql + Sync); 16] = [
        &ex.kid,
        &d.status.as_str(),
        &d.key_prefix,
        &d.key_suffix,
        &lvo,
        &ip,
        &d.verification_count,
        &d.user_id,
        &d.org_code,
        &rotated_on,
        &now,
        &d.name,
        &api_ids,
        &scopes,
        &created_on,
        &d.created_by,
    ];
    tx.execute(&s, &params)?;
    let last = last_observed(tx, st, ex.kid)?;
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
            st,
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
