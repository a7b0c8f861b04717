//! Reconciling ambiguous writes: after a create, rotate, revoke or re-issue whose answer was
//! lost, the next sync re-reads Kinde and this records what is found there.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde_json::json;

use super::db::SqliteStore;
use super::keys::close_handovers;
use super::rows::to_ms;
use crate::error::Result;
use crate::model::audit::{AuditAction, AuditEntry, AuditFilter, AuditOutcome};

/// How far before an ambiguous create a key's `created_on` may be (clock skew).
const SKEW_MS: i64 = 10 * 60 * 1000;

impl SqliteStore {
    /// Ambiguous audit rows that no `reconcile` row answers yet, oldest first.
    pub fn ambiguous_pending(&self) -> Result<Vec<AuditEntry>> {
        let answered: Vec<i64> = self.with_conn(|c| {
            let mut st = c.prepare(
                "SELECT json_extract(details, '$.reconciles') FROM audit WHERE profile = ?1 \
                 AND action = 'reconcile' AND json_extract(details, '$.reconciles') IS NOT NULL",
            )?;
            let rows = st.query_map([&self.profile], |r| r.get(0))?;
            rows.collect()
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

    /// Answers every pending ambiguous row from the cache, which the caller has just synced.
    /// Returns the `reconcile` rows written.
    pub fn reconcile_from_cache(&self, now: DateTime<Utc>) -> Result<Vec<AuditEntry>> {
        let pending = self.ambiguous_pending()?;
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let now_ms = to_ms(now);
        let written =
            self.with_tx(|tx| {
                let mut n = 0;
                for a in &pending {
                    let at = to_ms(a.at);
                    let (found, key_ids): (&str, Vec<String>) = match a.action {
                        AuditAction::Create | AuditAction::Reissue => {
                            let mut st = tx.prepare_cached(
                                "SELECT id FROM keys WHERE profile = ?1 AND name = ?2 \
                             AND (created_on >= ?3 OR (created_on IS NULL AND first_seen >= ?4)) \
                             AND id NOT IN (SELECT key_id FROM audit WHERE profile = ?1 \
                             AND key_id IS NOT NULL AND action IN ('create', 'reissue') \
                             AND outcome = 'ok') ORDER BY created_on",
                            )?;
                            let ids = st
                                .query_map(
                                    params![self.profile, a.key_name, at - SKEW_MS, at],
                                    |r| r.get::<_, String>(0),
                                )?
                                .collect::<rusqlite::Result<Vec<_>>>()?;
                            if ids.is_empty() {
                                ("not_created", ids)
                            } else {
                                ("created", ids)
                            }
                        }
                        AuditAction::Rotate => {
                            let rotated: Option<Option<i64>> = tx
                                .query_row(
                                    "SELECT rotated_on FROM keys WHERE profile = ?1 AND id = ?2",
                                    params![self.profile, a.key_id],
                                    |r| r.get(0),
                                )
                                .optional()?;
                            match rotated {
                                None => ("unknown", vec![]),
                                Some(Some(r)) if r >= at - SKEW_MS => ("rotated", vec![]),
                                Some(_) => ("not_rotated", vec![]),
                            }
                        }
                        AuditAction::Revoke | AuditAction::HandoverExpire => {
                            let status: Option<String> = tx
                                .query_row(
                                    "SELECT status FROM keys WHERE profile = ?1 AND id = ?2",
                                    params![self.profile, a.key_id],
                                    |r| r.get(0),
                                )
                                .optional()?;
                            match status.as_deref() {
                                None => ("unknown", vec![]),
                                Some("revoked") => {
                                    if let Some(id) = &a.key_id {
                                        close_handovers(tx, &self.profile, id, now_ms)?;
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
                        | AuditAction::Denied => continue,
                    };
                    // A re-issue that did happen opens its handover now.
                    let old_id = a.details.get("old_id").and_then(|v| v.as_str());
                    if let (AuditAction::Reissue, Some(old), Some(new)) =
                        (a.action, old_id, key_ids.first())
                    {
                        tx.execute(
                            "INSERT INTO reissues (profile, old_id, new_id, opened_at) \
                         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (profile, old_id, new_id) DO NOTHING",
                            params![self.profile, old, new, at],
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
                     VALUES (?1, ?2, 'reconcile', ?3, ?4, 'ok', ?5)",
                    params![now_ms, self.profile, key_id, a.key_name, details.to_string()],
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
