//! The watchtower's tables: alerts, mutes, the evaluation cursor, key metadata (canary,
//! expires on, last seen prefix/suffix/status) and policies. See [`crate::alerts`].

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, ToSql, Transaction, params};
use serde_json::{Value, json};

use super::db::Store;
use super::rows::opt_time;
use super::rows::{DAY_MS, HOUR_MS, from_ms, to_ms};
use crate::error::{Error, ErrorCode, Result};
use crate::model::alert::{
    Alert, AlertEval, AlertFilter, AlertKind, AlertList, DUE_ACTIONS, KeyMeta, Mute, MuteTarget,
    Policy, Severity,
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

/// A key as the engine needs it.
struct EKey {
    kid: i64,
    id: String,
    name: String,
    status: String,
    prefix: String,
    suffix: Option<String>,
    created_on: Option<i64>,
    created_by: Option<String>,
    rotated_on: Option<i64>,
    lvo: Option<i64>,
    gone: bool,
}

#[derive(Default)]
struct EMeta {
    canary: bool,
    expires_on: Option<i64>,
    seen_prefix: Option<String>,
    seen_suffix: Option<String>,
    seen_status: Option<String>,
    seen_at: Option<i64>,
}

struct Row {
    at: i64,
    lvo: Option<i64>,
    ip: Option<String>,
    delta: i64,
}

/// One alert to raise (if its fingerprint is new).
struct Raise {
    kind: AlertKind,
    severity: Severity,
    key_id: String,
    key_name: String,
    message: String,
    evidence: Value,
    fingerprint: String,
    /// For drift: the audit row to write with it.
    drift: Option<Value>,
}

impl Store {
    /// Evaluates the alert rules over what was added to the store since the last evaluation
    /// (see [`crate::alerts`]), raising each alert once, in one transaction. The first
    /// evaluation of a store is the baseline: only policy alerts (stale, rotation due, expiry
    /// coming) are raised then.
    pub fn evaluate_alerts(&self, policy: &Policy, now: DateTime<Utc>) -> Result<AlertEval> {
        let now = to_ms(now);
        self.with_tx(|tx| {
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
                let meta = metas.get(&k.id);
                if let Some(cursor) = cursor {
                    events(tx, policy, k, meta, cursor, now, &mut raises)?;
                    drift(tx, &self.profile, k, meta, cursor, &mut raises)?;
                }
                policies(policy, k, meta, now, &mut raises);
            }
            let mutes = mutes_of(tx, &self.profile)?;
            let mut out = AlertEval {
                baseline: cursor.is_none(),
                raised: Vec::new(),
                drift_audited: 0,
            };
            for r in raises {
                let muted = mutes.contains(&(r.key_id.clone(), String::new()))
                    || mutes.contains(&(String::new(), r.kind.as_str().to_string()));
                let n = tx
                    .prepare_cached(
                        "INSERT INTO alerts (profile, kind, severity, key_id, key_name, at, \
                         message, evidence, fingerprint, muted) VALUES \
                         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                         ON CONFLICT (profile, fingerprint) DO NOTHING",
                    )?
                    .execute(params![
                        self.profile,
                        r.kind.as_str(),
                        r.severity.as_str(),
                        r.key_id,
                        r.key_name,
                        now,
                        r.message,
                        r.evidence.to_string(),
                        r.fingerprint,
                        muted
                    ])?;
                if n == 0 {
                    continue;
                }
                let id = tx.last_insert_rowid();
                if let Some(details) = &r.drift {
                    tx.execute(
                        "INSERT INTO audit (at, profile, action, key_id, key_name, outcome, \
                         details) VALUES (?1, ?2, 'outside_keyward', ?3, ?4, 'ok', ?5)",
                        params![now, self.profile, r.key_id, r.key_name, details.to_string()],
                    )?;
                    out.drift_audited += 1;
                }
                out.raised.push(Alert {
                    id,
                    kind: r.kind,
                    severity: r.severity,
                    key_id: Some(r.key_id),
                    key_name: Some(r.key_name),
                    at: from_ms(now).unwrap_or_default(),
                    message: r.message,
                    evidence: r.evidence,
                    acknowledged_at: None,
                    muted,
                });
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
                .execute(params![self.profile, k.id, k.prefix, k.suffix, k.status, now])?;
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
        sql.push_str(" ORDER BY at DESC, id DESC");
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
                 WHERE profile = ?1 AND acknowledged_at IS NULL AND muted = 0",
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
            c.execute(
                "UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, ?3) \
                 WHERE profile = ?1 AND id = ?2",
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

fn engine_keys(tx: &Transaction<'_>, profile: &str) -> rusqlite::Result<Vec<EKey>> {
    let mut st = tx.prepare(
        "SELECT kid, id, name, status, key_prefix, key_suffix, created_on, created_by, \
         rotated_on, last_verified_on, gone FROM keys WHERE profile = ?1 ORDER BY id",
    )?;
    let rows = st.query_map([profile], |r| {
        Ok(EKey {
            kid: r.get(0)?,
            id: r.get(1)?,
            name: r.get(2)?,
            status: r.get(3)?,
            prefix: r.get(4)?,
            suffix: r.get(5)?,
            created_on: r.get(6)?,
            created_by: r.get(7)?,
            rotated_on: r.get(8)?,
            lvo: r.get(9)?,
            gone: r.get(10)?,
        })
    })?;
    rows.collect()
}

fn engine_metas(tx: &Transaction<'_>, profile: &str) -> rusqlite::Result<HashMap<String, EMeta>> {
    let mut st = tx.prepare(
        "SELECT key_id, canary, expires_on, seen_prefix, seen_suffix, seen_status, seen_at \
         FROM key_meta WHERE profile = ?1",
    )?;
    let rows = st.query_map([profile], |r| {
        Ok((
            r.get::<_, String>(0)?,
            EMeta {
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

fn read_hrow(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        at: r.get(0)?,
        lvo: r.get(1)?,
        ip: r.get(2)?,
        delta: r.get(3)?,
    })
}

fn iso(ms: i64) -> Value {
    from_ms(ms).map_or(Value::Null, |t| json!(t))
}

/// Event rules over the key's history rows added after `cursor`.
fn events(
    tx: &Transaction<'_>,
    p: &Policy,
    k: &EKey,
    meta: Option<&EMeta>,
    cursor: i64,
    now: i64,
    out: &mut Vec<Raise>,
) -> rusqlite::Result<()> {
    let new_rows: Vec<Row> = {
        let mut st = tx.prepare_cached(
            "SELECT at, last_verified_on, last_verified_ip, delta FROM history \
             WHERE kid = ?1 AND at > ?2 AND at <= ?3 ORDER BY at",
        )?;
        let rows = st.query_map(params![k.kid, cursor, now], read_hrow)?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    if new_rows.is_empty() {
        return Ok(());
    }
    let first_at: Option<i64> = tx
        .prepare_cached("SELECT MIN(at) FROM history WHERE kid = ?1")?
        .query_row([k.kid], |r| r.get(0))?;
    let mut prev: Option<Row> = tx
        .prepare_cached(
            "SELECT at, last_verified_on, last_verified_ip, delta FROM history \
             WHERE kid = ?1 AND at <= ?2 ORDER BY at DESC LIMIT 1",
        )?
        .query_row(params![k.kid, cursor], read_hrow)
        .optional()?;
    let mut known: HashSet<String> = {
        let mut st = tx.prepare_cached(
            "SELECT DISTINCT last_verified_ip FROM history WHERE kid = ?1 AND at <= ?2 \
             AND last_verified_ip IS NOT NULL",
        )?;
        let rows = st.query_map(params![k.kid, cursor], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let sum = |from_excl: i64, to_incl: i64| -> rusqlite::Result<i64> {
        tx.prepare_cached(
            "SELECT COALESCE(SUM(delta), 0) FROM history WHERE kid = ?1 AND at > ?2 AND at <= ?3",
        )?
        .query_row(params![k.kid, from_excl, to_incl], |r| r.get(0))
    };
    let base =
        |kind: AlertKind, severity: Severity, message: String, evidence: Value, fp: String| Raise {
            kind,
            severity,
            key_id: k.id.clone(),
            key_name: k.name.clone(),
            message,
            evidence,
            fingerprint: fp,
            drift: None,
        };
    for row in new_rows {
        let prev_lvo = prev.as_ref().and_then(|p| p.lvo);
        let verified = match (row.lvo, prev_lvo) {
            (Some(n), Some(o)) => n > o,
            (Some(_), None) => true,
            _ => false,
        } || row.delta > 0;
        let canary = meta.is_some_and(|m| m.canary);
        if canary && verified {
            let lvo = row.lvo.unwrap_or(row.at);
            out.push(base(
                AlertKind::CanaryTripped,
                Severity::Critical,
                format!(
                    "canary key {:?} was verified{}: someone has the secret you planted",
                    k.name,
                    row.ip
                        .as_deref()
                        .map(|i| format!(" from {i}"))
                        .unwrap_or_default()
                ),
                json!({ "last_verified_on": iso(lvo), "ip": row.ip, "verifications": row.delta }),
                format!("canary_tripped:{}:{lvo}", k.id),
            ));
        }
        if let Some(ip) = &row.ip
            && !known.is_empty()
            && !known.contains(ip)
        {
            let mut seen: Vec<&String> = known.iter().collect();
            seen.sort();
            seen.truncate(10);
            out.push(base(
                AlertKind::NewIp,
                Severity::Medium,
                format!(
                    "{:?} was verified from {ip}, an address never seen for it",
                    k.name
                ),
                json!({ "ip": ip, "known_ips": seen, "last_verified_on": row.lvo.map(iso) }),
                format!("new_ip:{}:{ip}", k.id),
            ));
        }
        if let Some(ip) = &row.ip {
            known.insert(ip.clone());
        }
        if verified && let Some(lvo) = row.lvo {
            let quiet_since = prev_lvo.or(k.created_on);
            if let Some(since) = quiet_since
                && lvo - since >= i64::from(p.dormant_days) * DAY_MS
            {
                let days = (lvo - since) / DAY_MS;
                out.push(base(
                    AlertKind::DormantWakes,
                    Severity::High,
                    format!(
                        "{:?} was verified after {days} days without a verification",
                        k.name
                    ),
                    json!({
                        "quiet_days": days,
                        "previous_verification": prev_lvo.map(iso),
                        "last_verified_on": iso(lvo),
                        "ip": row.ip,
                    }),
                    format!("dormant_wakes:{}:{lvo}", k.id),
                ));
            }
        }
        if let Some(pr) = &prev
            && row.delta > 0
        {
            let window = (row.at - pr.at).max(HOUR_MS);
            let recent = sum(row.at - window, row.at)?;
            let base_end = row.at - window;
            let base_start = (base_end - 7 * DAY_MS).max(first_at.unwrap_or(base_end));
            // A baseline needs at least an hour of history before the window.
            if recent >= i64::from(p.spike_floor) && base_end - base_start >= HOUR_MS {
                let baseline = sum(base_start - 1, base_end)? as f64
                    / ((base_end - base_start) as f64 / HOUR_MS as f64);
                let rate = recent as f64 / (window as f64 / HOUR_MS as f64);
                if rate > p.spike_factor * baseline.max(1.0) {
                    out.push(base(
                        AlertKind::Spike,
                        Severity::High,
                        format!(
                            "{:?}: {rate:.0} verifications per hour, {:.1}× its baseline of \
                             {baseline:.1}",
                            k.name,
                            rate / baseline.max(1.0)
                        ),
                        json!({
                            "per_hour": (rate * 10.0).round() / 10.0,
                            "baseline_per_hour": (baseline * 10.0).round() / 10.0,
                            "verifications": recent,
                            "window_minutes": window / 60_000,
                            "factor": p.spike_factor,
                        }),
                        format!("spike:{}:{}", k.id, row.at.div_euclid(HOUR_MS)),
                    ));
                }
            }
        }
        prev = Some(row);
    }
    Ok(())
}

/// Drift: a key created, rotated or revoked since the last evaluation with no Keyward audit row.
fn drift(
    tx: &Transaction<'_>,
    profile: &str,
    k: &EKey,
    meta: Option<&EMeta>,
    cursor: i64,
    out: &mut Vec<Raise>,
) -> rusqlite::Result<()> {
    let audited = |actions: &str, after: i64| -> rusqlite::Result<bool> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM audit WHERE profile = ?1 AND key_id = ?2 AND at >= ?3 \
             AND outcome IN ('ok', 'ambiguous') AND action IN ({actions}))"
        );
        tx.query_row(&sql, params![profile, k.id, after], |r| r.get(0))
    };
    let seen = meta.and_then(|m| m.seen_at.map(|at| (m, at)));
    let mut push = |change: &str, severity: Severity, message: String, extra: Value| {
        let mut evidence = json!({
            "change": change,
            "created_by": k.created_by,
            "created_on": k.created_on.map(iso),
            "key_prefix": k.prefix,
            "key_suffix": k.suffix,
            "status": k.status,
        });
        if let (Some(e), Some(x)) = (evidence.as_object_mut(), extra.as_object()) {
            e.extend(x.clone());
        }
        let fp = format!(
            "drift:{change}:{}:{}{}",
            k.id,
            k.suffix.as_deref().unwrap_or(""),
            if change == "revoked" { ":revoked" } else { "" }
        );
        let mut details = evidence.clone();
        if let Some(d) = details.as_object_mut() {
            d.insert("source".into(), json!("outside Keyward"));
        }
        out.push(Raise {
            kind: AlertKind::Drift,
            severity,
            key_id: k.id.clone(),
            key_name: k.name.clone(),
            message,
            evidence,
            fingerprint: fp,
            drift: Some(details),
        });
    };
    let by = k
        .created_by
        .as_deref()
        .map(|b| format!(" by {b}"))
        .unwrap_or_default();
    match seen {
        None => {
            // New since the last evaluation.
            if !k.gone && !audited("'create', 'reissue', 'reconcile'", 0)? {
                push(
                    "created",
                    Severity::Medium,
                    format!("{:?} was created outside Keyward{by}", k.name),
                    json!({}),
                );
            }
        }
        Some((m, seen_at)) => {
            let rotated = m.seen_prefix.as_deref().is_some_and(|p| p != k.prefix)
                || (m.seen_suffix.is_some() && m.seen_suffix != k.suffix);
            if rotated && !audited("'rotate', 'reconcile'", seen_at.min(cursor))? {
                push(
                    "rotated",
                    Severity::High,
                    format!(
                        "{:?} was rotated outside Keyward (its suffix changed)",
                        k.name
                    ),
                    json!({ "previous_prefix": m.seen_prefix, "previous_suffix": m.seen_suffix }),
                );
            }
            let revoked = k.status == "revoked" && m.seen_status.as_deref() != Some("revoked");
            if revoked && !audited("'revoke', 'reconcile'", seen_at.min(cursor))? {
                push(
                    "revoked",
                    Severity::Medium,
                    format!("{:?} was revoked outside Keyward", k.name),
                    json!({ "previous_status": m.seen_status }),
                );
            }
        }
    }
    Ok(())
}

/// Policy rules: stale, rotation due (max age or "expires on" reached), expiry coming.
fn policies(p: &Policy, k: &EKey, meta: Option<&EMeta>, now: i64, out: &mut Vec<Raise>) {
    if k.gone || k.status != "active" {
        return;
    }
    let mut push = |kind, severity, message: String, evidence: Value, fp: String| {
        let mut evidence = evidence;
        if matches!(kind, AlertKind::RotationDue | AlertKind::ExpiryComing)
            && let Some(e) = evidence.as_object_mut()
        {
            e.insert("offer".into(), json!(DUE_ACTIONS));
        }
        out.push(Raise {
            kind,
            severity,
            key_id: k.id.clone(),
            key_name: k.name.clone(),
            message,
            evidence,
            fingerprint: fp,
            drift: None,
        });
    };
    if p.stale_days > 0 {
        let cut = now - i64::from(p.stale_days) * DAY_MS;
        let stale = match k.lvo {
            Some(t) => t < cut,
            None => k.created_on.is_some_and(|c| c < cut),
        };
        if stale {
            let days = (now - k.lvo.or(k.created_on).unwrap_or(now)) / DAY_MS;
            push(
                AlertKind::Stale,
                Severity::Low,
                match k.lvo {
                    Some(_) => format!("{:?} has not been verified for {days} days", k.name),
                    None => format!("{:?} was never verified ({days} days old)", k.name),
                },
                json!({ "last_verified_on": k.lvo.map(iso), "idle_days": days, "stale_days": p.stale_days }),
                format!(
                    "stale:{}:{}",
                    k.id,
                    k.lvo.map_or("never".to_string(), |t| t.to_string())
                ),
            );
        }
    }
    let warn = i64::from(p.warning_days) * DAY_MS;
    let since = k.rotated_on.or(k.created_on);
    if p.max_key_age_days > 0
        && let Some(since) = since
    {
        let due = since + i64::from(p.max_key_age_days) * DAY_MS;
        let age = (now - since) / DAY_MS;
        let ev = json!({
            "age_days": age,
            "max_key_age_days": p.max_key_age_days,
            "since": iso(since),
            "due_on": iso(due),
        });
        if now >= due {
            push(
                AlertKind::RotationDue,
                Severity::Medium,
                format!(
                    "{:?} is {age} days old, past the {}-day maximum: rotate, re-issue or revoke it",
                    k.name, p.max_key_age_days
                ),
                ev,
                format!("rotation_due:{}:{since}", k.id),
            );
        } else if now >= due - warn {
            push(
                AlertKind::ExpiryComing,
                Severity::Low,
                format!(
                    "{:?} reaches the {}-day maximum age in {} days",
                    k.name,
                    p.max_key_age_days,
                    (due - now) / DAY_MS + 1
                ),
                ev,
                format!("expiry_coming:{}:{since}", k.id),
            );
        }
    }
    if let Some(exp) = meta.and_then(|m| m.expires_on) {
        let ev = json!({ "expires_on": iso(exp) });
        if now >= exp {
            push(
                AlertKind::RotationDue,
                Severity::High,
                format!(
                    "{:?} reached its expiry date: rotate, re-issue or revoke it (Keyward does \
                     nothing on its own)",
                    k.name
                ),
                ev,
                format!("expired:{}:{exp}", k.id),
            );
        } else if now >= exp - warn {
            push(
                AlertKind::ExpiryComing,
                Severity::Medium,
                format!("{:?} expires in {} days", k.name, (exp - now) / DAY_MS + 1),
                ev,
                format!("expires_soon:{}:{exp}", k.id),
            );
        }
    }
}
