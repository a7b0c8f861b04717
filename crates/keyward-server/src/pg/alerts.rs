//! The watchtower's tables (store/alerts.rs in core): alerts, mutes, the evaluation cursor,
//! key metadata and policies.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use keyward_core::error::{Error, ErrorCode, Result};
use keyward_core::model::alert::{
    Alert, AlertEval, AlertEvidence, AlertFilter, AlertKind, AlertList, AlertRules, KeyMeta, Mute,
    MuteTarget, Policy, Raise, RuleKey, RuleMeta, RuleRow, Severity,
};
use keyward_core::store::{from_ms, to_ms};
use postgres::Transaction;
use postgres::types::ToSql;
use serde_json::Value;

use super::history::{FIRST_AT, IPS_UNTIL, VERIFICATIONS_IN};
use super::{PgStore, R, Stmts, opt_time, parse_status};

const ALERT_COLUMNS: &str =
    "id, kind, severity, key_id, key_name, at, message, evidence, acknowledged_at, muted";

fn read_alert(r: &postgres::Row) -> Alert {
    let kind: String = r.get(1);
    let sev: String = r.get(2);
    let evidence: String = r.get(7);
    Alert {
        id: r.get(0),
        kind: AlertKind::parse(&kind).unwrap_or(AlertKind::Drift),
        severity: Severity::parse(&sev),
        key_id: r.get(3),
        key_name: r.get(4),
        at: from_ms(r.get(5)).unwrap_or_default(),
        message: r.get(6),
        evidence: serde_json::from_str(&evidence).unwrap_or(Value::Null),
        acknowledged_at: opt_time(r.get(8)),
        muted: r.get(9),
    }
}

impl PgStore {
    pub(crate) fn evaluate_alerts(
        &self,
        rules: &dyn AlertRules,
        now: DateTime<Utc>,
    ) -> Result<AlertEval> {
        let now = to_ms(now);
        let profile = self.profile.as_str();
        self.with_tx(|tx| {
            let cursor: Option<i64> = tx
                .query_opt(
                    "SELECT evaluated_to FROM alert_state WHERE profile = $1",
                    &[&profile],
                )?
                .map(|r| r.get(0));
            let keys = engine_keys(tx, profile)?;
            let metas = engine_metas(tx, profile)?;
            let mut raises = Vec::new();
            {
                let cell = RefCell::new((&mut *tx, Stmts::default()));
                for k in &keys {
                    let evidence = PgEvidence {
                        tx: &cell,
                        profile,
                        key: k,
                    };
                    raises.extend(rules.raise(k, metas.get(&k.id), cursor, now, &evidence)?);
                }
            }
            let mutes = mutes_of(tx, profile)?;
            let mut out = AlertEval {
                baseline: cursor.is_none(),
                raised: Vec::new(),
                drift_audited: 0,
            };
            let known = tx.prepare(
                "SELECT EXISTS (SELECT 1 FROM alerts WHERE profile = $1 AND fingerprint = $2)",
            )?;
            let mut fresh = Vec::with_capacity(raises.len());
            for r in raises {
                let seen: bool = tx.query_one(&known, &[&profile, &r.fingerprint])?.get(0);
                if !seen {
                    fresh.push(r);
                }
            }
            let mut st = Stmts::default();
            for g in rules.group(fresh, cursor.is_none(), now) {
                let summary = match &g.summary {
                    Some(s) => {
                        let muted = mutes.contains(&(String::new(), s.kind.as_str().to_string()));
                        insert_alert(tx, &mut st, profile, s, now, muted, None)?
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
                    let Some(id) = insert_alert(
                        tx,
                        &mut st,
                        profile,
                        &r,
                        now,
                        muted,
                        summary.as_ref().map(|s| s.0),
                    )?
                    else {
                        continue;
                    };
                    if let Some(details) = &r.drift {
                        tx.execute(
                            "INSERT INTO audit (at, profile, action, key_id, key_name, outcome, \
                             details) VALUES ($1, $2, 'outside_keyward', $3, $4, 'ok', $5)",
                            &[&now, &profile, &r.key_id, &r.key_name, &details.to_string()],
                        )?;
                        out.drift_audited += 1;
                    }
                    if summary.is_none() {
                        out.raised.push(alert_of(id, r, now, muted));
                    }
                }
            }
            let seen = tx.prepare(
                "INSERT INTO key_meta (profile, key_id, seen_prefix, seen_suffix, \
                 seen_status, seen_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (profile, key_id) DO UPDATE SET seen_prefix = excluded.seen_prefix, \
                 seen_suffix = excluded.seen_suffix, seen_status = excluded.seen_status, \
                 seen_at = excluded.seen_at",
            )?;
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
                tx.execute(
                    &seen,
                    &[
                        &profile,
                        &k.id,
                        &k.prefix,
                        &k.suffix,
                        &k.status.as_str(),
                        &now,
                    ],
                )?;
            }
            tx.execute(
                "INSERT INTO alert_state (profile, evaluated_to) VALUES ($1, $2) \
                 ON CONFLICT (profile) DO UPDATE SET evaluated_to = \
                 GREATEST(alert_state.evaluated_to, excluded.evaluated_to)",
                &[&profile, &now],
            )?;
            Ok(out)
        })
    }

    pub(crate) fn alerts_list(&self, f: &AlertFilter) -> Result<AlertList> {
        let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE profile = $1");
        let mut args: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(self.profile.clone())];
        let mut push = |sql: &mut String, cond: &str, v: Box<dyn ToSql + Sync>| {
            args.push(v);
            sql.push_str(&cond.replace("$?", &format!("${}", args.len())));
        };
        if let Some(s) = f.since {
            push(&mut sql, " AND at >= $?", Box::new(to_ms(s)));
        }
        if let Some(k) = f.kind {
            push(&mut sql, " AND kind = $?", Box::new(k.as_str()));
        }
        if let Some(k) = &f.key_id {
            push(&mut sql, " AND key_id = $?", Box::new(k.clone()));
        }
        if !f.include_acknowledged {
            sql.push_str(" AND acknowledged_at IS NULL");
        }
        if !f.include_muted {
            sql.push_str(" AND NOT muted");
        }
        if f.key_id.is_none() {
            sql.push_str(" AND summarized_by IS NULL");
        }
        sql.push_str(
            " ORDER BY CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 \
             WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END DESC, at DESC, id DESC",
        );
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        self.with_conn(|c| {
            let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b.as_ref()).collect();
            let alerts = c.query(&sql, &refs)?.iter().map(read_alert).collect();
            let r = c.query_one(
                "SELECT COUNT(*) FILTER (WHERE severity IN ('high', 'critical')), COUNT(*) \
                 FROM alerts WHERE profile = $1 AND acknowledged_at IS NULL AND NOT muted \
                 AND summarized_by IS NULL",
                &[&self.profile],
            )?;
            let (high, total): (i64, i64) = (r.get(0), r.get(1));
            Ok(keyward_core::model::alert::AlertList {
                alerts,
                open_high: u32::try_from(high).unwrap_or(u32::MAX),
                open_total: u32::try_from(total).unwrap_or(u32::MAX),
            })
        })
    }

    pub(crate) fn alert_ack(&self, id: i64, at: DateTime<Utc>) -> Result<Alert> {
        let found = self.with_conn(|c| {
            c.execute(
                "UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, $3) \
                 WHERE profile = $1 AND (id = $2 OR summarized_by = $2)",
                &[&self.profile, &id, &to_ms(at)],
            )?;
            Ok(c.query_opt(
                &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE profile = $1 AND id = $2"),
                &[&self.profile, &id],
            )?
            .map(|r| read_alert(&r)))
        })?;
        found.ok_or_else(|| {
            Error::new(
                ErrorCode::NotFound,
                format!("there is no alert {id}"),
                "List the alerts with `keyward alerts` and use the id it shows.",
            )
        })
    }

    pub(crate) fn alert_mute(&self, t: &MuteTarget, at: DateTime<Utc>) -> Result<usize> {
        let (key, kind) = mute_cols(t);
        self.with_tx(|tx| {
            tx.execute(
                "INSERT INTO alert_mutes (profile, key_id, kind, at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                &[&self.profile, &key, &kind, &to_ms(at)],
            )?;
            Ok(tx.execute(
                "UPDATE alerts SET muted = TRUE WHERE profile = $1 AND acknowledged_at IS NULL \
                 AND NOT muted AND (($2::text <> '' AND key_id = $2) OR ($3::text <> '' AND kind = $3))",
                &[&self.profile, &key, &kind],
            )? as usize)
        })
    }

    pub(crate) fn alert_unmute(&self, t: &MuteTarget) -> Result<bool> {
        let (key, kind) = mute_cols(t);
        let n = self.with_conn(|c| {
            Ok(c.execute(
                "DELETE FROM alert_mutes WHERE profile = $1 AND key_id = $2 AND kind = $3",
                &[&self.profile, &key, &kind],
            )?)
        })?;
        Ok(n > 0)
    }

    pub(crate) fn alert_mutes(&self) -> Result<Vec<Mute>> {
        self.with_conn(|c| {
            let rows = c.query(
                "SELECT key_id, kind, at FROM alert_mutes WHERE profile = $1 ORDER BY at",
                &[&self.profile],
            )?;
            let mut out = Vec::new();
            for r in rows {
                let (key, kind, at): (String, String, i64) = (r.get(0), r.get(1), r.get(2));
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

    pub(crate) fn policy(&self) -> Result<Option<Policy>> {
        let days = |v: i64| u32::try_from(v).unwrap_or(0);
        self.with_conn(|c| {
            Ok(c.query_opt(
                "SELECT max_key_age_days, warning_days, stale_days, dormant_days, spike_factor, \
                 spike_floor FROM policies WHERE profile = $1",
                &[&self.profile],
            )?
            .map(|r| Policy {
                max_key_age_days: days(r.get(0)),
                warning_days: days(r.get(1)),
                stale_days: days(r.get(2)),
                dormant_days: days(r.get(3)),
                spike_factor: r.get(4),
                spike_floor: days(r.get(5)),
            }))
        })
    }

    pub(crate) fn set_policy(&self, p: &Policy) -> Result<()> {
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO policies (profile, max_key_age_days, warning_days, stale_days, \
                 dormant_days, spike_factor, spike_floor) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (profile) DO UPDATE SET max_key_age_days = excluded.max_key_age_days, \
                 warning_days = excluded.warning_days, stale_days = excluded.stale_days, \
                 dormant_days = excluded.dormant_days, spike_factor = excluded.spike_factor, \
                 spike_floor = excluded.spike_floor",
                &[
                    &self.profile,
                    &i64::from(p.max_key_age_days),
                    &i64::from(p.warning_days),
                    &i64::from(p.stale_days),
                    &i64::from(p.dormant_days),
                    &p.spike_factor,
                    &i64::from(p.spike_floor),
                ],
            )?;
            Ok(())
        })
    }

    pub(crate) fn set_canary(&self, key_id: &str, canary: bool) -> Result<KeyMeta> {
        self.with_conn(|c| {
            Ok(c.execute(
                "INSERT INTO key_meta (profile, key_id, canary) VALUES ($1, $2, $3) \
                 ON CONFLICT (profile, key_id) DO UPDATE SET canary = excluded.canary",
                &[&self.profile, &key_id, &canary],
            )?)
        })?;
        self.key_meta_of(key_id)
    }

    pub(crate) fn set_expires_on(
        &self,
        key_id: &str,
        on: Option<DateTime<Utc>>,
    ) -> Result<KeyMeta> {
        self.with_conn(|c| {
            Ok(c.execute(
                "INSERT INTO key_meta (profile, key_id, expires_on) VALUES ($1, $2, $3) \
                 ON CONFLICT (profile, key_id) DO UPDATE SET expires_on = excluded.expires_on",
                &[&self.profile, &key_id, &on.map(to_ms)],
            )?)
        })?;
        self.key_meta_of(key_id)
    }

    pub(crate) fn key_meta_of(&self, key_id: &str) -> Result<KeyMeta> {
        let row: Option<(bool, Option<i64>)> = self.with_conn(|c| {
            Ok(c.query_opt(
                "SELECT canary, expires_on FROM key_meta WHERE profile = $1 AND key_id = $2",
                &[&self.profile, &key_id],
            )?
            .map(|r| (r.get(0), r.get(1))))
        })?;
        let (canary, expires) = row.unwrap_or((false, None));
        Ok(KeyMeta {
            key_id: key_id.to_string(),
            canary,
            expires_on: opt_time(expires),
        })
    }

    pub(crate) fn key_metas(&self) -> Result<Vec<KeyMeta>> {
        self.with_conn(|c| {
            Ok(c.query(
                "SELECT key_id, canary, expires_on FROM key_meta WHERE profile = $1 \
                 AND (canary OR expires_on IS NOT NULL) ORDER BY key_id",
                &[&self.profile],
            )?
            .iter()
            .map(|r| KeyMeta {
                key_id: r.get(0),
                canary: r.get(1),
                expires_on: opt_time(r.get(2)),
            })
            .collect())
        })
    }
}

fn mute_cols(t: &MuteTarget) -> (String, String) {
    match t {
        MuteTarget::Key { key_id } => (key_id.clone(), String::new()),
        MuteTarget::Kind { kind } => (String::new(), kind.as_str().to_string()),
    }
}

fn mutes_of(tx: &mut Transaction<'_>, profile: &str) -> R<HashSet<(String, String)>> {
    Ok(tx
        .query(
            "SELECT key_id, kind FROM alert_mutes WHERE profile = $1",
            &[&profile],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

fn engine_keys(tx: &mut Transaction<'_>, profile: &str) -> R<Vec<RuleKey>> {
    Ok(tx
        .query(
            "SELECT kid, id, name, status, key_prefix, key_suffix, created_on, created_by, \
             rotated_on, last_verified_on, gone FROM keys WHERE profile = $1 ORDER BY id",
            &[&profile],
        )?
        .iter()
        .map(|r| RuleKey {
            kid: r.get(0),
            id: r.get(1),
            name: r.get(2),
            status: parse_status(r.get(3)),
            prefix: r.get(4),
            suffix: r.get(5),
            created_on: r.get(6),
            created_by: r.get(7),
            rotated_on: r.get(8),
            last_verified_on: r.get(9),
            gone: r.get(10),
        })
        .collect())
}

fn engine_metas(tx: &mut Transaction<'_>, profile: &str) -> R<HashMap<String, RuleMeta>> {
    Ok(tx
        .query(
            "SELECT key_id, canary, expires_on, seen_prefix, seen_suffix, seen_status, seen_at \
             FROM key_meta WHERE profile = $1",
            &[&profile],
        )?
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                RuleMeta {
                    canary: r.get(1),
                    expires_on: r.get(2),
                    seen_prefix: r.get(3),
                    seen_suffix: r.get(4),
                    seen_status: r.get(5),
                    seen_at: r.get(6),
                },
            )
        })
        .collect())
}

/// The rules' view of one key's history and audit, inside the evaluation's transaction.
struct PgEvidence<'a, 't> {
    tx: &'a RefCell<(&'a mut Transaction<'t>, Stmts)>,
    profile: &'a str,
    key: &'a RuleKey,
}

fn read_rule_row(r: &postgres::Row) -> RuleRow {
    RuleRow {
        at: r.get(0),
        last_verified_on: r.get(1),
        ip: r.get(2),
        delta: r.get(3),
    }
}

impl PgEvidence<'_, '_> {
    fn query(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>> {
        let mut guard = self.tx.borrow_mut();
        let (tx, st) = &mut *guard;
        let s = st.get(tx, sql)?;
        tx.query(&s, params).map_err(super::db_err)
    }
}

impl AlertEvidence for PgEvidence<'_, '_> {
    fn rows_between(&self, after: i64, until: i64) -> Result<Vec<RuleRow>> {
        Ok(self
            .query(
                "SELECT at, last_verified_on, last_verified_ip, delta FROM history \
                 WHERE kid = $1 AND at > $2 AND at <= $3 ORDER BY at",
                &[&self.key.kid, &after, &until],
            )?
            .iter()
            .map(read_rule_row)
            .collect())
    }

    fn first_row_at(&self) -> Result<Option<i64>> {
        Ok(self
            .query(FIRST_AT, &[&self.key.kid])?
            .first()
            .and_then(|r| r.get(0)))
    }

    fn last_row_until(&self, at: i64) -> Result<Option<RuleRow>> {
        Ok(self
            .query(
                "SELECT at, last_verified_on, last_verified_ip, delta FROM history \
                 WHERE kid = $1 AND at <= $2 ORDER BY at DESC LIMIT 1",
                &[&self.key.kid, &at],
            )?
            .first()
            .map(read_rule_row))
    }

    fn ips_until(&self, at: i64) -> Result<HashSet<String>> {
        // The key's address set, kept on write: it outlives the history rows.
        Ok(self
            .query(IPS_UNTIL, &[&self.key.kid, &at])?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn verifications_between(&self, after: i64, until: i64) -> Result<i64> {
        Ok(self
            .query(VERIFICATIONS_IN, &[&self.key.kid, &after, &until])?
            .first()
            .map(|r| r.get(0))
            .unwrap_or(0))
    }

    fn audited(&self, actions: &[&str], since: i64) -> Result<bool> {
        let actions: Vec<String> = actions.iter().map(|s| (*s).to_string()).collect();
        Ok(self
            .query(
                "SELECT EXISTS (SELECT 1 FROM audit WHERE profile = $1 AND key_id = $2 AND at >= $3 \
                 AND outcome IN ('ok', 'ambiguous', 'pending') AND action = ANY($4))",
                &[&self.profile, &self.key.id, &since, &actions],
            )?
            .first()
            .is_some_and(|r| r.get(0)))
    }
}

/// Stores one raised alert; `None` when its fingerprint was already stored.
fn insert_alert(
    tx: &mut Transaction<'_>,
    st: &mut Stmts,
    profile: &str,
    r: &Raise,
    now: i64,
    muted: bool,
    summarized_by: Option<i64>,
) -> R<Option<i64>> {
    let key = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let s = st.get(
        tx,
        "INSERT INTO alerts (profile, kind, severity, key_id, key_name, at, message, \
         evidence, fingerprint, muted, summarized_by) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (profile, fingerprint) DO NOTHING RETURNING id",
    )?;
    let params: [&(dyn ToSql + Sync); 11] = [
        &profile,
        &r.kind.as_str(),
        &r.severity.as_str(),
        &key(&r.key_id),
        &key(&r.key_name),
        &now,
        &r.message,
        &r.evidence.to_string(),
        &r.fingerprint,
        &muted,
        &summarized_by,
    ];
    Ok(tx.query_opt(&s, &params)?.map(|row| row.get(0)))
}

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
