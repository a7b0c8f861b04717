//! The audit log, re-issue links and reconciling ambiguous writes (store/audit.rs and
//! store/reconcile.rs in core).

use chrono::{DateTime, Utc};
use keyward_core::error::Result;
use keyward_core::model::audit::{
    AuditAction, AuditClose, AuditEntry, AuditFilter, AuditOutcome, NewAudit,
};
use keyward_core::model::history::ReissueLink;
use keyward_core::store::{from_ms, to_ms};
use postgres::types::ToSql;
use serde_json::json;

use super::keys::close_handovers;
use super::{PgStore, opt_time};

/// How far before an ambiguous create a key's `created_on` may be (clock skew).
const SKEW_MS: i64 = 10 * 60 * 1000;

impl PgStore {
    pub(crate) fn audit_append(&self, at: DateTime<Utc>, a: &NewAudit<'_>) -> Result<i64> {
        let details = if a.details.is_null() {
            "{}".to_string()
        } else {
            a.details.to_string()
        };
        self.with_conn(|c| {
            Ok(c.query_one(
                "INSERT INTO audit (at, profile, action, key_id, key_name, outcome, error_code, \
                 error_message, details, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 RETURNING id",
                &[
                    &to_ms(at),
                    &self.profile,
                    &a.action.as_str(),
                    &a.key_id,
                    &a.key_name,
                    &a.outcome.as_str(),
                    &a.error.map(|e| e.code.as_str()),
                    &a.error.map(|e| e.message.as_str()),
                    &details,
                    &a.actor,
                ],
            )?
            .get(0))
        })
    }

    pub(crate) fn audit_close(&self, id: i64, a: &AuditClose<'_>) -> Result<bool> {
        let details = a.details.as_ref().map(|d| {
            if d.is_null() {
                "{}".to_string()
            } else {
                d.to_string()
            }
        });
        let n = self.with_conn(|c| {
            Ok(c.execute(
                "UPDATE audit SET outcome = $3, key_id = COALESCE($4, key_id), \
                 key_name = COALESCE($5, key_name), error_code = $6, error_message = $7, \
                 details = COALESCE($8, details) \
                 WHERE profile = $1 AND id = $2 AND outcome = 'pending'",
                &[
                    &self.profile,
                    &id,
                    &a.outcome.as_str(),
                    &a.key_id,
                    &a.key_name,
                    &a.error.map(|e| e.code.as_str()),
                    &a.error.map(|e| e.message.as_str()),
                    &details,
                ],
            )?)
        })?;
        Ok(n > 0)
    }

    pub(crate) fn audit_list(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut sql = String::from(
            "SELECT id, at, profile, action, key_id, key_name, outcome, error_code, \
             error_message, details, actor FROM audit WHERE profile = $1",
        );
        let mut args: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(self.profile.clone())];
        let mut push = |sql: &mut String, cond: &str, v: Box<dyn ToSql + Sync>| {
            args.push(v);
            sql.push_str(&cond.replace("$?", &format!("${}", args.len())));
        };
        if let Some(a) = f.action {
            push(&mut sql, " AND action = $?", Box::new(a.as_str()));
        }
        if let Some(o) = f.outcome {
            push(&mut sql, " AND outcome = $?", Box::new(o.as_str()));
        }
        if let Some(k) = &f.key_id {
            // A key's rows, and the re-issue that made it (the old key's row names it).
            push(&mut sql, " AND (key_id = $?", Box::new(k.clone()));
            push(
                &mut sql,
                " OR (action = 'reissue' AND details::jsonb ->> 'new_id' = $?))",
                Box::new(k.clone()),
            );
        }
        if let Some(s) = f.since {
            push(&mut sql, " AND at >= $?", Box::new(to_ms(s)));
        }
        sql.push_str(" ORDER BY at DESC, id DESC");
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let raw: Vec<(AuditEntry, String, String)> = self.with_conn(|c| {
            let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b.as_ref()).collect();
            Ok(c.query(&sql, &refs)?
                .iter()
                .map(|r| {
                    let details: String = r.get(9);
                    let entry = AuditEntry {
                        id: r.get(0),
                        at: from_ms(r.get(1)).unwrap_or_default(),
                        profile: r.get(2),
                        action: AuditAction::Create,
                        key_id: r.get(4),
                        key_name: r.get(5),
                        outcome: AuditOutcome::Ok,
                        error_code: r.get(7),
                        error_message: r.get(8),
                        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
                        actor: r.get(10),
                    };
                    (entry, r.get(3), r.get(6))
                })
                .collect())
        })?;
        let mut out = Vec::with_capacity(raw.len());
        for (mut entry, action, outcome) in raw {
            entry.action = AuditAction::parse(&action)?;
            entry.outcome = AuditOutcome::parse(&outcome)?;
            out.push(entry);
        }
        Ok(out)
    }

    pub(crate) fn reissue_open(
        &self,
        old_id: &str,
        new_id: &str,
        at: DateTime<Utc>,
        old_count_at_open: Option<i64>,
    ) -> Result<()> {
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO reissues (profile, old_id, new_id, opened_at, old_count_at_open) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (profile, old_id, new_id) DO NOTHING",
                &[
                    &self.profile,
                    &old_id,
                    &new_id,
                    &to_ms(at),
                    &old_count_at_open,
                ],
            )?;
            Ok(())
        })
    }

    pub(crate) fn reissue_close(
        &self,
        old_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<ReissueLink>> {
        let open: Vec<ReissueLink> = self
            .reissues(true)?
            .into_iter()
            .filter(|l| l.old_id == old_id)
            .collect();
        if open.is_empty() {
            return Ok(open);
        }
        self.with_conn(|c| {
            Ok(c.execute(
                "UPDATE reissues SET closed_at = $3 WHERE profile = $1 AND old_id = $2 \
                 AND closed_at IS NULL",
                &[&self.profile, &old_id, &to_ms(at)],
            )?)
        })?;
        Ok(open
            .into_iter()
            .map(|mut l| {
                l.closed_at = Some(at);
                l
            })
            .collect())
    }

    pub(crate) fn reissues(&self, open_only: bool) -> Result<Vec<ReissueLink>> {
        let sql = if open_only {
            "SELECT old_id, new_id, opened_at, closed_at, old_count_at_open, old_expires_at \
             FROM reissues WHERE profile = $1 AND closed_at IS NULL ORDER BY opened_at, id"
        } else {
            "SELECT old_id, new_id, opened_at, closed_at, old_count_at_open, old_expires_at \
             FROM reissues WHERE profile = $1 ORDER BY opened_at, id"
        };
        self.with_conn(|c| {
            Ok(c.query(sql, &[&self.profile])?
                .iter()
                .map(|r| ReissueLink {
                    old_id: r.get(0),
                    new_id: r.get(1),
                    opened_at: from_ms(r.get(2)).unwrap_or_default(),
                    closed_at: opt_time(r.get(3)),
                    old_count_at_open: r.get(4),
                    old_expires_at: opt_time(r.get(5)),
                })
                .collect())
        })
    }

    pub(crate) fn reissue_set_deadline(
        &self,
        old_id: &str,
        new_id: &str,
        old_expires_at: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let n = self.with_conn(|c| {
            Ok(c.execute(
                "UPDATE reissues SET old_expires_at = $4 WHERE profile = $1 AND old_id = $2 \
                 AND new_id = $3 AND closed_at IS NULL",
                &[&self.profile, &old_id, &new_id, &old_expires_at.map(to_ms)],
            )?)
        })?;
        Ok(n > 0)
    }

    pub(crate) fn ambiguous_pending(&self) -> Result<Vec<AuditEntry>> {
        let answered: Vec<i64> = self.with_conn(|c| {
            Ok(c.query(
                "SELECT (details::jsonb ->> 'reconciles')::BIGINT FROM audit WHERE profile = $1 \
                 AND action = 'reconcile' AND details::jsonb ->> 'reconciles' IS NOT NULL",
                &[&self.profile],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
        })?;
        // A pending row never closed is Keyward's own action whose answer was lost.
        let mut rows = self.audit_list(&AuditFilter {
            outcome: Some(AuditOutcome::Ambiguous),
            ..Default::default()
        })?;
        rows.extend(self.audit_list(&AuditFilter {
            outcome: Some(AuditOutcome::Pending),
            ..Default::default()
        })?);
        rows.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
        rows.retain(|r| !answered.contains(&r.id) && r.action != AuditAction::Reconcile);
        rows.reverse();
        Ok(rows)
    }

    pub(crate) fn reconcile_from_cache(&self, now: DateTime<Utc>) -> Result<Vec<AuditEntry>> {
        let pending = self.ambiguous_pending()?;
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let now_ms = to_ms(now);
        let profile = self.profile.as_str();
        let written = self.with_tx(|tx| {
            let mut n = 0;
            for a in &pending {
                let at = to_ms(a.at);
                let (found, key_ids): (&str, Vec<String>) = match a.action {
                    AuditAction::Create | AuditAction::Reissue => {
                        let ids: Vec<String> = tx
                            .query(
                                "SELECT id FROM keys WHERE profile = $1 AND name = $2 \
                                 AND (created_on >= $3 OR (created_on IS NULL AND first_seen >= $4)) \
                                 AND id NOT IN (SELECT key_id FROM audit WHERE profile = $1 \
                                 AND key_id IS NOT NULL AND action IN ('create', 'reissue') \
                                 AND outcome = 'ok') ORDER BY created_on NULLS FIRST",
                                &[&profile, &a.key_name, &(at - SKEW_MS), &at],
                            )?
                            .iter()
                            .map(|r| r.get(0))
                            .collect();
                        if ids.is_empty() {
                            ("not_created", ids)
                        } else {
                            ("created", ids)
                        }
                    }
                    AuditAction::Rotate => {
                        let rotated: Option<Option<i64>> = tx
                            .query_opt(
                                "SELECT rotated_on FROM keys WHERE profile = $1 AND id = $2",
                                &[&profile, &a.key_id],
                            )?
                            .map(|r| r.get(0));
                        match rotated {
                            None => ("unknown", vec![]),
                            Some(Some(r)) if r >= at - SKEW_MS => ("rotated", vec![]),
                            Some(_) => ("not_rotated", vec![]),
                        }
                    }
                    AuditAction::Revoke => {
                        let status: Option<String> = tx
                            .query_opt(
                                "SELECT status FROM keys WHERE profile = $1 AND id = $2",
                                &[&profile, &a.key_id],
                            )?
                            .map(|r| r.get(0));
                        match status.as_deref() {
                            None => ("unknown", vec![]),
                            Some("revoked") => {
                                if let Some(id) = &a.key_id {
                                    close_handovers(tx, profile, id, now_ms)?;
                                }
                                ("revoked", vec![])
                            }
                            Some(_) => ("not_revoked", vec![]),
                        }
                    }
                    AuditAction::Reconcile
                    | AuditAction::HandoverClose
                    | AuditAction::OutsideKeyward
                    | AuditAction::Leak
                    | AuditAction::HandoverExpire
                    | AuditAction::Denied => continue,
                };
                let old_id = a.details.get("old_id").and_then(|v| v.as_str());
                if let (AuditAction::Reissue, Some(old), Some(new)) = (a.action, old_id, key_ids.first()) {
                    tx.execute(
                        "INSERT INTO reissues (profile, old_id, new_id, opened_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (profile, old_id, new_id) DO NOTHING",
                        &[&profile, &old, new, &at],
                    )?;
                }
                let details = json!({
                    "reconciles": a.id,
                    "of": a.action,
                    "found": found,
                    "key_ids": key_ids,
                });
                let key_id = a.key_id.clone().or_else(|| key_ids.first().cloned());
                tx.execute(
                    "INSERT INTO audit (at, profile, action, key_id, key_name, outcome, details) \
                     VALUES ($1, $2, 'reconcile', $3, $4, 'ok', $5)",
                    &[&now_ms, &profile, &key_id, &a.key_name, &details.to_string()],
                )?;
                n += 1;
            }
            Ok(n)
        })?;
        let mut rows = self.audit_list(&AuditFilter {
            action: Some(AuditAction::Reconcile),
            limit: Some(written),
            ..Default::default()
        })?;
        rows.reverse();
        Ok(rows)
    }
}
