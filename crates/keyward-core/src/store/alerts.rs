//! The watchtower's tables: alerts, mutes, the evaluation cursor, key metadata (canary,
//! expires on, last seen prefix/suffix/status) and policies. See [`crate::alerts`].

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, ToSql, Transaction, params};
use serde_json::Value;

use super::db::SqliteStore;
use super::history::{first_history_at, ips_until, verifications_in};
use super::rows::opt_time;
use super::rows::{from_ms, parse_status, to_ms};
use crate::error::{Error, ErrorCode, Result};
use crate::model::alert::{
    Alert, AlertEval, AlertEvidence, AlertFilter, AlertKind, AlertList, AlertRules, KeyMeta, Mute,
    MuteTarget, Policy, Raise, RuleKey, RuleMeta, RuleRow, Severity,
};

const ALERT_COLUMNS: &str =
    "id, kind, severity, key_id, key_name, at, message, evidence, acknowledged_at, muted";

fn read_alert(r: &rusqlite::Row<'_>) -> rusqlite::Result<Alert> {
    let kind: String = r.get(1)?;
    let sev: String = r.get(2)?;
    let evidence: String = r.get(7)?;
    Ok(Alert {
        id: r.get(0)?,
        kind: AlertKind::parse(&kind).unwrap_or(AlertKind::Drift),
        severity: Severity::parse(&sev),
        key_id: r.get(3)?,
        key_name: r.get(4)?,
        at: from_ms(r.get(5)?).unwrap_or_default(),
        message: r.get(6)?,
        evidence: serde_json::from_str(&evidence).unwrap_or(Value::Null),
        acknowledged_at: opt_time(r.get(8)?),
        muted: r.get(9)?,
    })
}

impl SqliteStore {
    /// Runs `rules` over what was added to the store since the last evaluation, key by key,
    /// and stores what they raise, each alert once (by fingerprint), in one transaction. The
    /// rules are told the evaluation cursor (`None` the first time: the baseline).
    pub fn evaluate_alerts(&self, rules: &dyn AlertRules, now: DateTime<Utc>) -> Result<AlertEval> {
        let now = to_ms(now);
        self.with_tx_result(|tx| {
            let cursor: Option<i64> = tx
                .query_row(
                    "SELECT evaluated_to FROM alert_state WHERE profile = ?1",
                    [&self.profile],
                    |r| r.get(0),
                )
                .optional()?;
            let keys = engine_keys(tx, &self.profile)?;
            let metas = engine_metas(tx, &self.profile)?;
            let mut raises = Vec::new();
            for k in &keys {
                let evidence = SqlEvidence {
                    tx,
                    profile: &self.profile,
                    key: k,
                };
                raises.extend(rules.raise(k, metas.get(&k.id), cursor, now, &evidence)?);
            }
            let mutes = mutes_of(tx, &self.profile)?;
            let mut out = AlertEval {
                baseline: cursor.is_none(),
                raised: Vec::new(),
                drift_audited: 0,
            };
            // Only what was never raised before is grouped and stored.
            let mut fresh = Vec::with_capacity(raises.len());
            for r in raises {
                let known: bool = tx
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM alerts WHERE profile = ?1 AND fingerprint = ?2)",
                    )?
                    .query_row(params![self.profile, r.fingerprint], |row| row.get(0))?;
                if !known {
                    fresh.push(r);
                }
            }
            for g in rules.group(fresh, cursor.is_none(), now) {
                let summary = match &g.summary {
                    Some(s) => {
                        let muted = mutes.contains(&(String::new(), s.kind.as_str().to_string()));
                        insert_alert(tx, &self.profile, s, now, muted, None)?
                            .map(|id| (id, alert_of(id, s.clone(), now, muted)))
                    }
                    None => None,
                };
                if let Some((_, shown)) = &summary {
                    out.raised.push(shown.clone());
                }
                for r in g.members {
                    let muted = mutes.contains(&(r.key_id.clone(), String::new()))
                        || mutes.contains(&(String::new(), r.kind.as_str().to_string()));
                    let Some(id) =
                        insert_alert(tx, &self.profile, &r, now, muted, summary.as_ref().map(|s| s.0))?
                    else {
                        continue;
                    };
                    if let Some(details) = &r.drift {
                        tx.execute(
                            "INSERT INTO audit (at, profile, action, key_id, key_name, outcome, \
                             details) VALUES (?1, ?2, 'outside_keyward', ?3, ?4, 'ok', ?5)",
                            params![now, self.profile, r.key_id, r.key_name, details.to_string()],
                        )?;
                        out.drift_audited += 1;
                    }
                    if summary.is_none() {
                        out.raised.push(alert_of(id, r, now, muted));
                    }
                }
            }
            // Remember what was seen, so that the next evaluation tells drift apart.
            for k in &keys {
                let same = metas.get(&k.id).is_some_and(|m| {
                    m.seen_at.is_some()
                        && m.seen_prefix.as_deref() == Some(k.prefix.as_str())
                        && m.seen_suffix == k.suffix
                        && m.seen_status.as_deref() == Some(k.status.as_str())
                });
                if same {
                    continue;
                }
                tx.prepare_cached(
                    "INSERT INTO key_meta (profile, key_id, seen_prefix, seen_suffix, \
                     seen_status, seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT (profile, key_id) DO UPDATE SET seen_prefix = excluded.seen_prefix, \
                     seen_suffix = excluded.seen_suffix, seen_status = excluded.seen_status, \
                     seen_at = excluded.seen_at",
                )?
                .execute(params![
                    self.profile,
                    k.id,
                    k.prefix,
                    k.suffix,
                    k.status.as_str(),
                    now
                ])?;
            }
            tx.execute(
                "INSERT INTO alert_state (profile, evaluated_to) VALUES (?1, ?2) \
                 ON CONFLICT (profile) DO UPDATE SET evaluated_to = \
                 MAX(alert_state.evaluated_to, excluded.evaluated_to)",
                params![self.profile, now],
            )?;
            Ok(out)
        })
    }

    /// Alerts matching `f`, newest first, with the open counts.
    pub fn alerts_list(&self, f: &AlertFilter) -> Result<AlertList> {
        let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE profile = ?");
        let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(self.profile.clone())];
        if let Some(s) = f.since {
            sql.push_str(" AND at >= ?");
            args.push(Box::new(to_ms(s)));
        }
        if let Some(k) = f.kind {
            sql.push_str(" AND kind = ?");
            args.push(Box::new(k.as_str()));
        }
        if let Some(k) = &f.key_id {
            sql.push_str(" AND key_id = ?");
            args.push(Box::new(k.clone()));
        }
        if !f.include_acknowledged {
            sql.push_str(" AND acknowledged_at IS NULL");
        }
        if !f.include_muted {
            sql.push_str(" AND muted = 0");
        }
        // A summary stands for its members; a key's own alerts include its member.
        if f.key_id.is_none() {
            sql.push_str(" AND summarized_by IS NULL");
        }
        // The most severe first, then the newest (see `alerts::list`).
        sql.push_str(
            " ORDER BY CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 \
             WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END DESC, at DESC, id DESC",
        );
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        self.with_conn(|c| {
            let alerts = {
                let mut st = c.prepare(&sql)?;
                let refs: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
                let rows = st.query_map(refs.as_slice(), read_alert)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            let (open_high, open_total): (u32, u32) = c.query_row(
                "SELECT COALESCE(SUM(severity IN ('high', 'critical')), 0), COUNT(*) FROM alerts \
                 WHERE profile = ?1 AND acknowledged_at IS NULL AND muted = 0 \
                 AND summarized_by IS NULL",
                [&self.profile],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(AlertList {
                alerts,
                open_high,
                open_total,
            })
        })
    }

    /// Acknowledges one alert (idempotent); `NotFound` when the id is unknown.
    pub fn alert_ack(&self, id: i64, at: DateTime<Utc>) -> Result<Alert> {
        let found = self.with_conn(|c| {
            // Acknowledging a summary acknowledges the alerts it stands for.
            c.execute(
                "UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, ?3) \
                 WHERE profile = ?1 AND (id = ?2 OR summarized_by = ?2)",
                params![self.profile, id, to_ms(at)],
            )?;
            c.query_row(
                &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE profile = ?1 AND id = ?2"),
                params![self.profile, id],
                read_alert,
            )
            .optional()
        })?;
        found.ok_or_else(|| {
            Error::new(
                ErrorCode::NotFound,
                format!("there is no alert {id}"),
                "List the alerts with `keyward alerts` and use the id it shows.",
            )
        })
    }

    /// Mutes a key or a kind from now on; also mutes its open alerts. Returns how many.
    pub fn alert_mute(&self, t: &MuteTarget, at: DateTime<Utc>) -> Result<usize> {
        let (key, kind) = mute_cols(t);
        self.with_tx(|tx| {
            tx.execute(
                "INSERT INTO alert_mutes (profile, key_id, kind, at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT DO NOTHING",
                params![self.profile, key, kind, to_ms(at)],
            )?;
            tx.execute(
                "UPDATE alerts SET muted = 1 WHERE profile = ?1 AND acknowledged_at IS NULL \
                 AND muted = 0 AND ((?2 <> '' AND key_id = ?2) OR (?3 <> '' AND kind = ?3))",
                params![self.profile, key, kind],
            )
        })
    }

    /// Lifts a mute (alerts raised while it was in force stay muted). `false`: there was none.
    pub fn alert_unmute(&self, t: &MuteTarget) -> Result<bool> {
        let (key, kind) = mute_cols(t);
        let n = self.with_conn(|c| {
            c.execute(
                "DELETE FROM alert_mutes WHERE profile = ?1 AND key_id = ?2 AND kind = ?3",
                params![self.profile, key, kind],
            )
        })?;
        Ok(n > 0)
    }

    /// The mutes in force.
    pub fn alert_mutes(&self) -> Result<Vec<Mute>> {
        self.with_conn(|c| {
            let mut st = c.prepare(
                "SELECT key_id, kind, at FROM alert_mutes WHERE profile = ?1 ORDER BY at",
            )?;
            let rows = st.query_map([&self.profile], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (key, kind, at) = row?;
                let target = if key.is_empty() {
                    match AlertKind::parse(&kind) {
                        Ok(kind) => MuteTarget::Kind { kind },
                        Err(_) => continue,
                    }
                } else {
                    MuteTarget::Key { key_id: key }
                };
                out.push(Mute {
                    target,
                    at: from_ms(at).unwrap_or_default(),
                });
            }
            Ok(out)
        })
    }

    /// The stored policy of this profile, if one was set.
    pub fn policy(&self) -> Result<Option<Policy>> {
        self.with_conn(|c| {
            c.query_row(
                "SELECT max_key_age_days, warning_days, stale_days, dormant_days, spike_factor, \
                 spike_floor FROM policies WHERE profile = ?1",
                [&self.profile],
                |r| {
                    Ok(Policy {
                        max_key_age_days: r.get(0)?,
                        warning_days: r.get(1)?,
                        stale_days: r.get(2)?,
                        dormant_days: r.get(3)?,
                        spike_factor: r.get(4)?,
                        spike_floor: r.get(5)?,
                    })
                },
            )
            .optional()
        })
    }

    /// Stores the policy of this profile.
    pub fn set_policy(&self, p: &Policy) -> Result<()> {
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO policies (profile, max_key_age_days, warning_days, stale_days, \
                 dormant_days, spike_factor, spike_floor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (profile) DO UPDATE SET max_key_age_days = excluded.max_key_age_days, \
                 warning_days = excluded.warning_days, stale_days = excluded.stale_days, \
                 dormant_days = excluded.dormant_days, spike_factor = excluded.spike_factor, \
                 spike_floor = excluded.spike_floor",
                params![
                    self.profile,
                    p.max_key_age_days,
                    p.warning_days,
                    p.stale_days,
                    p.dormant_days,
                    p.spike_factor,
                    p.spike_floor
                ],
            )
        })?;
        Ok(())
    }

    /// Marks (or unmarks) a key as a canary. The key need not be cached yet.
    pub fn set_canary(&self, key_id: &str, canary: bool) -> Result<KeyMeta> {
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO key_meta (profile, key_id, canary) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (profile, key_id) DO UPDATE SET canary = excluded.canary",
                params![self.profile, key_id, canary],
            )
        })?;
        self.key_meta_of(key_id)
    }

    /// Sets (or clears) a key's local "expires on" date.
    pub fn set_expires_on(&self, key_id: &str, on: Option<DateTime<Utc>>) -> Result<KeyMeta> {
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO key_meta (profile, key_id, expires_on) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (profile, key_id) DO UPDATE SET expires_on = excluded.expires_on",
                params![self.profile, key_id, on.map(to_ms)],
            )
        })?;
        self.key_meta_of(key_id)
    }

    /// A key's local metadata (defaults when none is kept).
    pub fn key_meta_of(&self, key_id: &str) -> Result<KeyMeta> {
        let row: Option<(bool, Option<i64>)> = self.with_conn(|c| {
            c.query_row(
                "SELECT canary, expires_on FROM key_meta WHERE profile = ?1 AND key_id = ?2",
                params![self.profile, key_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })?;
        let (canary, expires) = row.unwrap_or((false, None));
        Ok(KeyMeta {
            key_id: key_id.to_string(),
            canary,
            expires_on: opt_time(expires),
        })
    }

    /// Every key with a canary mark or an expiry date.
    pub fn key_metas(&self) -> Result<Vec<KeyMeta>> {
        self.with_conn(|c| {
            let mut st = c.prepare(
                "SELECT key_id, canary, expires_on FROM key_meta WHERE profile = ?1 \
                 AND (canary = 1 OR expires_on IS NOT NULL) ORDER BY key_id",
            )?;
            let rows = st.query_map([&self.profile], |r| {
                Ok(KeyMeta {
                    key_id: r.get(0)?,
                    canary: r.get(1)?,
                    expires_on: opt_time(r.get(2)?),
                })
            })?;
            rows.collect()
        })
    }
}

fn mute_cols(t: &MuteTarget) -> (String, String) {
    match t {
        MuteTarget::Key { key_id } => (key_id.clone(), String::new()),
        MuteTarget::Kind { kind } => (String::new(), kind.as_str().to_string()),
    }
}

fn mutes_of(tx: &Transaction<'_>, profile: &str) -> rusqlite::Result<HashSet<(String, String)>> {
    let mut st = tx.prepare("SELECT key_id, kind FROM alert_mutes WHERE profile = ?1")?;
    let rows = st.query_map([profile], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

fn engine_keys(tx: &Transaction<'_>, profile: &str) -> rusqlite::Result<Vec<RuleKey>> {
    let mut st = tx.prepare(
        "SELECT kid, id, name, status, key_prefix, key_suffix, created_on, created_by, \
         rotated_on, last_verified_on, gone FROM keys WHERE profile = ?1 ORDER BY id",
    )?;
    let rows = st.query_map([profile], |r| {
        Ok(RuleKey {
            kid: r.get(0)?,
            id: r.get(1)?,
            name: r.get(2)?,
            status: parse_status(&r.get::<_, String>(3)?),
            prefix: r.get(4)?,
            suffix: r.get(5)?,
            created_on: r.get(6)?,
            created_by: r.get(7)?,
            rotated_on: r.get(8)?,
            last_verified_on: r.get(9)?,
            gone: r.get(10)?,
        })
    })?;
    rows.collect()
}

fn engine_metas(
    tx: &Transaction<'_>,
    profile: &str,
) -> rusqlite::Result<HashMap<String, RuleMeta>> {
    let mut st = tx.prepare(
        "SELECT key_id, canary, expires_on, seen_prefix, seen_suffix, seen_status, seen_at \
         FROM key_meta WHERE profile = ?1",
    )?;
    let rows = st.query_map([profile], |r| {
        Ok((
            r.get::<_, String>(0)?,
            RuleMeta {
                canary: r.get(1)?,
                expires_on: r.get(2)?,
                seen_prefix: r.get(3)?,
                seen_suffix: r.get(4)?,
                seen_status: r.get(5)?,
                seen_at: r.get(6)?,
            },
        ))
    })?;
    rows.collect()
}

/// The rules' view of one key's history and audit, inside the evaluation's transaction.
struct SqlEvidence<'a> {
    tx: &'a Transaction<'a>,
    profile: &'a str,
    key: &'a RuleKey,
}

fn read_rule_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RuleRow> {
    Ok(RuleRow {
        at: r.get(0)?,
        last_verified_on: r.get(1)?,
        ip: r.get(2)?,
        delta: r.get(3)?,
    })
}

impl AlertEvidence for SqlEvidence<'_> {
    fn rows_between(&self, after: i64, until: i64) -> Result<Vec<RuleRow>> {
        let mut st = self.tx.prepare_cached(
            "SELECT at, last_verified_on, last_verified_ip, delta FROM history \
             WHERE kid = ?1 AND at > ?2 AND at <= ?3 ORDER BY at",
        )?;
        let rows = st.query_map(params![self.key.kid, after, until], read_rule_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn first_row_at(&self) -> Result<Option<i64>> {
        Ok(first_history_at(self.tx, self.key.kid)?)
    }

    fn last_row_until(&self, at: i64) -> Result<Option<RuleRow>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT at, last_verified_on, last_verified_ip, delta FROM history \
                 WHERE kid = ?1 AND at <= ?2 ORDER BY at DESC LIMIT 1",
            )?
            .query_row(params![self.key.kid, at], read_rule_row)
            .optional()?)
    }

    fn ips_until(&self, at: i64) -> Result<HashSet<String>> {
        // The key's address set, kept on write: it outlives the raw rows.
        Ok(ips_until(self.tx, self.key.kid, at)?)
    }

    fn verifications_between(&self, after: i64, until: i64) -> Result<i64> {
        Ok(verifications_in(self.tx, self.key.kid, after, until)?)
    }

    fn audited(&self, actions: &[&str], since: i64) -> Result<bool> {
        let actions = serde_json::to_string(actions).unwrap_or_else(|_| "[]".into());
        Ok(self.tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM audit WHERE profile = ?1 AND key_id = ?2 AND at >= ?3 \
             AND outcome IN ('ok', 'ambiguous', 'pending') \
             AND action IN (SELECT value FROM json_each(?4)))",
            params![self.profile, self.key.id, since, actions],
            |r| r.get(0),
        )?)
    }
}

/// Stores one raised alert (a member of `summarized_by`, if given); `None` when its
/// fingerprint was already stored.
fn insert_alert(
    tx: &Transaction<'_>,
    profile: &str,
    r: &Raise,
    now: i64,
    muted: bool,
    summarized_by: Option<i64>,
) -> Result<Option<i64>> {
    let key = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let n = tx
        .prepare_cached(
            "INSERT INTO alerts (profile, kind, severity, key_id, key_name, at, message, \
             evidence, fingerprint, muted, summarized_by) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (profile, fingerprint) DO NOTHING",
        )?
        .execute(params![
            profile,
            r.kind.as_str(),
            r.severity.as_str(),
            key(&r.key_id),
            key(&r.key_name),
            now,
            r.message,
            r.evidence.to_string(),
            r.fingerprint,
            muted,
            summarized_by
        ])?;
    Ok((n > 0).then(|| tx.last_insert_rowid()))
}

/// The alert as listed, right after it was stored.
fn alert_of(id: i64, r: Raise, now: i64, muted: bool) -> Alert {
    Alert {
        id,
        kind: r.kind,
        severity: r.severity,
        key_id: (!r.key_id.is_empty()).then_some(r.key_id),
        key_name: (!r.key_name.is_empty()).then_some(r.key_name),
        at: from_ms(now).unwrap_or_default(),
        message: r.message,
        evidence: r.evidence,
        acknowledged_at: None,
        muted,
    }
}
