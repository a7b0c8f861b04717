//! The audit log and re-issue links.

use chrono::{DateTime, Utc};
use rusqlite::{ToSql, params};

use super::db::SqliteStore;
use super::rows::opt_time;
use super::rows::{from_ms, to_ms};
use crate::error::Result;
use crate::model::audit::{
    AuditAction, AuditClose, AuditEntry, AuditFilter, AuditOutcome, NewAudit,
};
use crate::model::history::ReissueLink;

impl SqliteStore {
    /// Appends one audit row. `details` must never carry a secret (callers pass ids, names,
    /// scopes and what a reconcile found).
    pub fn audit_append(&self, at: DateTime<Utc>, a: &NewAudit<'_>) -> Result<i64> {
        let details = if a.details.is_null() {
            "{}".to_string()
        } else {
            a.details.to_string()
        };
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO audit (at, profile, action, key_id, key_name, outcome, error_code, \
                 error_message, details, actor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    to_ms(at),
                    self.profile,
                    a.action.as_str(),
                    a.key_id,
                    a.key_name,
                    a.outcome.as_str(),
                    a.error.map(|e| e.code.as_str()),
                    a.error.map(|e| e.message.as_str()),
                    details,
                    a.actor
                ],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Closes the pending audit row `id` with Kinde's answer (see `Store::audit_close`).
    pub fn audit_close(&self, id: i64, a: &AuditClose<'_>) -> Result<bool> {
        let details = a.details.as_ref().map(|d| {
            if d.is_null() {
                "{}".to_string()
            } else {
                d.to_string()
            }
        });
        let n = self.with_conn(|c| {
            c.execute(
                "UPDATE audit SET outcome = ?3, key_id = COALESCE(?4, key_id), \
                 key_name = COALESCE(?5, key_name), error_code = ?6, error_message = ?7, \
                 details = COALESCE(?8, details) \
                 WHERE profile = ?1 AND id = ?2 AND outcome = 'pending'",
                params![
                    self.profile,
                    id,
                    a.outcome.as_str(),
                    a.key_id,
                    a.key_name,
                    a.error.map(|e| e.code.as_str()),
                    a.error.map(|e| e.message.as_str()),
                    details
                ],
            )
        })?;
        Ok(n > 0)
    }

    /// Audit rows matching `f`, newest first.
    pub fn audit_list(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut sql = String::from(
            "SELECT id, at, profile, action, key_id, key_name, outcome, error_code, \
             error_message, details, actor FROM audit WHERE profile = ?",
        );
        let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(self.profile.clone())];
        if let Some(a) = f.action {
            sql.push_str(" AND action = ?");
            args.push(Box::new(a.as_str()));
        }
        if let Some(o) = f.outcome {
            sql.push_str(" AND outcome = ?");
            args.push(Box::new(o.as_str()));
        }
        if let Some(k) = &f.key_id {
            // A key's rows, and the re-issue that made it (the old key's row names it).
            sql.push_str(
                " AND (key_id = ? OR (action = 'reissue' AND json_extract(details, '$.new_id') = ?))",
            );
            args.push(Box::new(k.clone()));
            args.push(Box::new(k.clone()));
        }
        if let Some(s) = f.since {
            sql.push_str(" AND at >= ?");
            args.push(Box::new(to_ms(s)));
        }
        sql.push_str(" ORDER BY at DESC, id DESC");
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let raw: Vec<(AuditEntry, String, String)> = self.with_conn(|c| {
            let mut st = c.prepare(&sql)?;
            let refs: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
            let rows = st.query_map(refs.as_slice(), |r| {
                let details: String = r.get(9)?;
                let entry = AuditEntry {
                    id: r.get(0)?,
                    at: from_ms(r.get(1)?).unwrap_or_default(),
                    profile: r.get(2)?,
                    action: AuditAction::Create,
                    key_id: r.get(4)?,
                    key_name: r.get(5)?,
                    outcome: AuditOutcome::Ok,
                    error_code: r.get(7)?,
                    error_message: r.get(8)?,
                    details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
                    actor: r.get(10)?,
                };
                Ok((entry, r.get(3)?, r.get(6)?))
            })?;
            rows.collect()
        })?;
        let mut out = Vec::with_capacity(raw.len());
        for (mut entry, action, outcome) in raw {
            entry.action = AuditAction::parse(&action)?;
            entry.outcome = AuditOutcome::parse(&outcome)?;
            out.push(entry);
        }
        Ok(out)
    }

    /// Records an old → new re-issue (idempotent).
    pub fn reissue_open(
        &self,
        old_id: &str,
        new_id: &str,
        at: DateTime<Utc>,
        old_count_at_open: Option<i64>,
    ) -> Result<()> {
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO reissues (profile, old_id, new_id, opened_at, old_count_at_open) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (profile, old_id, new_id) DO NOTHING",
                params![self.profile, old_id, new_id, to_ms(at), old_count_at_open],
            )
        })?;
        Ok(())
    }

    /// Closes every open re-issue whose old key is `old_id`; returns the closed links.
    pub fn reissue_close(&self, old_id: &str, at: DateTime<Utc>) -> Result<Vec<ReissueLink>> {
        let open: Vec<ReissueLink> = self
            .reissues(true)?
            .into_iter()
            .filter(|l| l.old_id == old_id)
            .collect();
        if open.is_empty() {
            return Ok(open);
        }
        self.with_conn(|c| {
            c.execute(
                "UPDATE reissues SET closed_at = ?3 WHERE profile = ?1 AND old_id = ?2 \
                 AND closed_at IS NULL",
                params![self.profile, old_id, to_ms(at)],
            )
        })?;
        Ok(open
            .into_iter()
            .map(|mut l| {
                l.closed_at = Some(at);
                l
            })
            .collect())
    }

    /// Re-issue links, oldest first (`open_only`: those not closed yet).
    pub fn reissues(&self, open_only: bool) -> Result<Vec<ReissueLink>> {
        let sql = if open_only {
            "SELECT old_id, new_id, opened_at, closed_at, old_count_at_open, old_expires_at \
             FROM reissues WHERE profile = ?1 AND closed_at IS NULL ORDER BY opened_at, id"
        } else {
            "SELECT old_id, new_id, opened_at, closed_at, old_count_at_open, old_expires_at \
             FROM reissues WHERE profile = ?1 ORDER BY opened_at, id"
        };
        self.with_conn(|c| {
            let mut st = c.prepare(sql)?;
            let rows = st.query_map([&self.profile], |r| {
                Ok(ReissueLink {
                    old_id: r.get(0)?,
                    new_id: r.get(1)?,
                    opened_at: from_ms(r.get(2)?).unwrap_or_default(),
                    closed_at: opt_time(r.get(3)?),
                    old_count_at_open: r.get(4)?,
                    old_expires_at: opt_time(r.get(5)?),
                })
            })?;
            rows.collect()
        })
    }

    /// Sets (or clears) the deadline of the open re-issue `old_id` → `new_id`.
    pub fn reissue_set_deadline(
        &self,
        old_id: &str,
        new_id: &str,
        old_expires_at: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let n = self.with_conn(|c| {
            c.execute(
                "UPDATE reissues SET old_expires_at = ?4 WHERE profile = ?1 AND old_id = ?2 \
                 AND new_id = ?3 AND closed_at IS NULL",
                params![self.profile, old_id, new_id, old_expires_at.map(to_ms)],
            )
        })?;
        Ok(n > 0)
    }
}
