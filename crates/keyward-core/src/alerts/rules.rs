//! THE alert rules, as functions of a key, what the store knows of it ([`AlertEvidence`]) and
//! the policy. The store runs them key by key inside its evaluation transaction
//! (`store/alerts.rs`), raising each alert once per fingerprint.
//!
//! Kinde records no events for API keys and has no webhooks for them; Keyward's history is the
//! only place where a change can be seen. Over what each sync added, the rules raise:
//!
//! - `new_ip`: a verification from a `last_verified_ip` never seen for that key. The first IP
//!   of a key is its baseline, and the first evaluation of a store raises none.
//! - `dormant_wakes`: a verification after `dormant_days` (default 30) without one.
//! - `spike`: verifications per hour above `spike_factor` (5) × the key's rolling 7-day
//!   baseline, and at least `spike_floor` (20) of them, so that 1 → 6 is not a spike.
//! - `drift`: a key created, rotated (prefix or suffix changed) or revoked with no Keyward
//!   audit entry to match; also written to the audit log as `outside_keyward`.
//! - `stale` (the keys' stale rule, [`crate::keys::rules`]), `rotation_due` (max key age, or the
//!   key's local "expires on" date reached) and `expiry_coming` (within the warning period):
//!   the policies.
//! - `canary_tripped`: any verification of a key marked as a canary.

use serde_json::{Value, json};

use crate::error::Result;
use crate::keys::rules::{flaggable, is_stale};
use crate::model::alert::{
    AlertEvidence, AlertKind, AlertRules, DUE_ACTIONS, Policy, Raise, RaiseGroup, RuleKey,
    RuleMeta, Severity,
};
use crate::model::key::KeyStatus;

/// A time in Unix milliseconds.
fn from_ms(ms: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(ms)
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// The rules under one policy.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub policy: &'a Policy,
}

impl AlertRules for Rules<'_> {
    fn raise(
        &self,
        key: &RuleKey,
        meta: Option<&RuleMeta>,
        cursor: Option<i64>,
        now: i64,
        evidence: &dyn AlertEvidence,
    ) -> Result<Vec<Raise>> {
        let mut out = Vec::new();
        // The first evaluation of a store is the baseline: only the policies then.
        if let Some(cursor) = cursor {
            events(self.policy, key, meta, cursor, now, evidence, &mut out)?;
            drift(key, meta, cursor, evidence, &mut out)?;
        }
        policies(self.policy, key, meta, now, &mut out);
        Ok(out)
    }

    fn group(&self, new: Vec<Raise>, baseline: bool, now: i64) -> Vec<RaiseGroup> {
        group_policies(self.policy, new, baseline, now)
    }
}

/// From this many new alerts of one policy kind in one evaluation, they are shown as one
/// summary ("110 keys are due for rotation") instead of one alert per key.
pub const SUMMARY_FROM: usize = 3;

/// Groups new policy alerts by kind: [`SUMMARY_FROM`] or more of a kind become one summary
/// (the worst severity among them), whose evidence lists the keys. Event alerts and drift
/// always stand alone. The first evaluation of a store (the baseline) is where the flood would
/// come from: a fresh profile's old keys all crossing the policy at once.
pub fn group_policies(p: &Policy, new: Vec<Raise>, baseline: bool, now: i64) -> Vec<RaiseGroup> {
    // The policy-wide kinds describe a state of many keys at once; an event is about one key,
    // and so is a date the admin set on one key (`expired:`, `expires_soon:`): those stand alone.
    let policy_wide = |r: &Raise| {
        ["stale:", "rotation_due:", "expiry_coming:"]
            .iter()
            .any(|p| r.fingerprint.starts_with(p))
    };
    let count = |kind: AlertKind| {
        new.iter()
            .filter(|r| r.kind == kind && policy_wide(r))
            .count()
    };
    let summarized: Vec<AlertKind> = [
        AlertKind::Stale,
        AlertKind::RotationDue,
        AlertKind::ExpiryComing,
    ]
    .into_iter()
    .filter(|k| count(*k) >= SUMMARY_FROM)
    .collect();
    // In the order raised; a summary sits where its first member was.
    let mut out: Vec<RaiseGroup> = Vec::new();
    let mut slots: Vec<(AlertKind, usize)> = Vec::new();
    for r in new {
        if !summarized.contains(&r.kind) || !policy_wide(&r) {
            out.push(RaiseGroup {
                summary: None,
                members: vec![r],
            });
            continue;
        }
        match slots.iter().find(|(k, _)| *k == r.kind) {
            Some((_, i)) => out[*i].members.push(r),
            None => {
                slots.push((r.kind, out.len()));
                out.push(RaiseGroup {
                    summary: None,
                    members: vec![r],
                });
            }
        }
    }
    for (kind, i) in slots {
        let members = &out[i].members;
        let n = members.len();
        let severity = members
            .iter()
            .map(|r| r.severity)
            .max()
            .unwrap_or(Severity::Low);
        let message = match kind {
            AlertKind::Stale => format!(
                "{n} keys have not been verified in {} days (or never, and are older)",
                p.stale_days
            ),
            AlertKind::RotationDue => format!(
                "{n} keys are due for rotation: past the {}-day maximum age",
                p.max_key_age_days
            ),
            _ => format!(
                "{n} keys reach the {}-day maximum age within {} days",
                p.max_key_age_days, p.warning_days
            ),
        };
        let keys: Vec<Value> = members
            .iter()
            .take(200)
            .map(|r| json!({ "id": r.key_id, "name": r.key_name }))
            .collect();
        let mut evidence = json!({
            "count": n,
            "keys": keys,
            "first_evaluation": baseline,
        });
        if matches!(kind, AlertKind::RotationDue | AlertKind::ExpiryComing)
            && let Some(e) = evidence.as_object_mut()
        {
            e.insert("offer".into(), json!(DUE_ACTIONS));
        }
        out[i].summary = Some(Raise {
            kind,
            severity,
            key_id: String::new(),
            key_name: String::new(),
            message,
            evidence,
            fingerprint: format!("summary:{}:{now}", kind.as_str()),
            drift: None,
        });
    }
    out
}

fn iso(ms: i64) -> Value {
    from_ms(ms).map_or(Value::Null, |t| json!(t))
}

/// Event rules over the key's history rows added after `cursor`.
fn events(
    p: &Policy,
    k: &RuleKey,
    meta: Option<&RuleMeta>,
    cursor: i64,
    now: i64,
    ev: &dyn AlertEvidence,
    out: &mut Vec<Raise>,
) -> Result<()> {
    let new_rows = ev.rows_between(cursor, now)?;
    if new_rows.is_empty() {
        return Ok(());
    }
    let first_at = ev.first_row_at()?;
    let mut prev = ev.last_row_until(cursor)?;
    let mut known = ev.ips_until(cursor)?;
    let sum = |after: i64, until: i64| ev.verifications_between(after, until);
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
        let prev_lvo = prev.as_ref().and_then(|p| p.last_verified_on);
        let verified = match (row.last_verified_on, prev_lvo) {
            (Some(n), Some(o)) => n > o,
            (Some(_), None) => true,
            _ => false,
        } || row.delta > 0;
        let canary = meta.is_some_and(|m| m.canary);
        if canary && verified {
            let lvo = row.last_verified_on.unwrap_or(row.at);
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
                json!({ "ip": ip, "known_ips": seen, "last_verified_on": row.last_verified_on.map(iso) }),
                format!("new_ip:{}:{ip}", k.id),
            ));
        }
        if let Some(ip) = &row.ip {
            known.insert(ip.clone());
        }
        if verified && let Some(lvo) = row.last_verified_on {
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

/// How long before an evaluation the observation it stored may have been fetched: the listing
/// behind `seen_at` ran during the sync that preceded that evaluation, so a Keyward rotate or
/// revoke audited while that sync was under way (after the listing, before the evaluation) must
/// still count as Keyward's. An hour covers any sync's retry budget; the cost is that a change
/// made outside Keyward within an hour after Keyward's own change to the same key goes unflagged.
const OBSERVED_BEFORE_EVALUATION_MS: i64 = 60 * 60 * 1000;

/// Drift: a key created, rotated or revoked since the last evaluation with no Keyward audit row.
fn drift(
    k: &RuleKey,
    meta: Option<&RuleMeta>,
    cursor: i64,
    ev: &dyn AlertEvidence,
    out: &mut Vec<Raise>,
) -> Result<()> {
    let seen = meta.and_then(|m| m.seen_at.map(|at| (m, at)));
    let mut push = |change: &str, severity: Severity, message: String, extra: Value| {
        let mut evidence = json!({
            "change": change,
            "created_by": k.created_by,
            "created_on": k.created_on.map(iso),
            "key_prefix": k.prefix,
            "key_suffix": k.suffix,
            "status": k.status.as_str(),
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
            if !k.gone && !ev.audited(&["create", "reissue", "reconcile"], 0)? {
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
            // Keyward's own change may have been audited after the listing that stored the
            // old state but before that listing's evaluation (a member's rotate during a sync).
            // `audited` counts ok, ambiguous and pending rows: an intent whose answer was lost
            // (the process died while Kinde answered) is Keyward's own, never drift.
            let since = seen_at.min(cursor) - OBSERVED_BEFORE_EVALUATION_MS;
            if rotated && !ev.audited(&["rotate", "reconcile"], since)? {
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
            let revoked =
                k.status == KeyStatus::Revoked && m.seen_status.as_deref() != Some("revoked");
            if revoked && !ev.audited(&["revoke", "reconcile"], since)? {
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
fn policies(p: &Policy, k: &RuleKey, meta: Option<&RuleMeta>, now: i64, out: &mut Vec<Raise>) {
    if !flaggable(k.status, k.gone) {
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
        let at = |ms: Option<i64>| ms.and_then(from_ms);
        if is_stale(
            at(k.last_verified_on),
            at(k.created_on),
            p.stale_days,
            at(Some(now)).unwrap_or_default(),
        ) {
            let days = (now - k.last_verified_on.or(k.created_on).unwrap_or(now)) / DAY_MS;
            push(
                AlertKind::Stale,
                Severity::Low,
                match k.last_verified_on {
                    Some(_) => format!("{:?} has not been verified for {days} days", k.name),
                    None => format!("{:?} was never verified ({days} days old)", k.name),
                },
                json!({ "last_verified_on": k.last_verified_on.map(iso), "idle_days": days, "stale_days": p.stale_days }),
                format!(
                    "stale:{}:{}",
                    k.id,
                    k.last_verified_on
                        .map_or("never".to_string(), |t| t.to_string())
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

#[cfg(test)]
mod tests {
    //! The rules over an in-memory history (the store's own evaluation is tested over SQLite in
    //! `alerts/tests.rs`).

    use std::collections::HashSet;

    use super::*;
    use crate::model::alert::RuleRow;

    const NOW: i64 = 1_780_000_000_000;

    #[derive(Default)]
    struct Memory {
        rows: Vec<RuleRow>,
        audited: Vec<(&'static str, i64)>,
    }

    impl AlertEvidence for Memory {
        fn rows_between(&self, after: i64, until: i64) -> Result<Vec<RuleRow>> {
            Ok(self
                .rows
                .iter()
                .filter(|r| r.at > after && r.at <= until)
                .cloned()
                .collect())
        }
        fn first_row_at(&self) -> Result<Option<i64>> {
            Ok(self.rows.iter().map(|r| r.at).min())
        }
        fn last_row_until(&self, at: i64) -> Result<Option<RuleRow>> {
            Ok(self.rows.iter().rfind(|r| r.at <= at).cloned())
        }
        fn ips_until(&self, at: i64) -> Result<HashSet<String>> {
            Ok(self
                .rows
                .iter()
                .filter(|r| r.at <= at)
                .filter_map(|r| r.ip.clone())
                .collect())
        }
        fn verifications_between(&self, after: i64, until: i64) -> Result<i64> {
            Ok(self
                .rows_between(after, until)?
                .iter()
                .map(|r| r.delta)
                .sum())
        }
        fn audited(&self, actions: &[&str], since: i64) -> Result<bool> {
            Ok(self
                .audited
                .iter()
                .any(|(a, at)| actions.contains(a) && *at >= since))
        }
    }

    fn key(created_days_ago: i64) -> RuleKey {
        RuleKey {
            kid: 1,
            id: "api_key_1".into(),
            name: "Billing".into(),
            status: KeyStatus::Active,
            prefix: "k_live_Ab".into(),
            suffix: Some("wxyz".into()),
            created_on: Some(NOW - created_days_ago * DAY_MS),
            created_by: None,
            rotated_on: None,
            last_verified_on: None,
            gone: false,
        }
    }

    fn row(hours_ago: i64, ip: &str, delta: i64) -> RuleRow {
        let at = NOW - hours_ago * HOUR_MS;
        RuleRow {
            at,
            last_verified_on: Some(at),
            ip: Some(ip.into()),
            delta,
        }
    }

    fn kinds(raised: &[Raise]) -> Vec<AlertKind> {
        raised.iter().map(|r| r.kind).collect()
    }

    fn raise(k: &RuleKey, meta: Option<&RuleMeta>, cursor: Option<i64>, ev: &Memory) -> Vec<Raise> {
        let policy = Policy::default();
        Rules { policy: &policy }
            .raise(k, meta, cursor, NOW, ev)
            .unwrap()
    }

    #[test]
    fn a_key_created_a_minute_ago_raises_nothing() {
        assert!(raise(&key(0), None, None, &Memory::default()).is_empty());
    }

    #[test]
    fn an_old_never_verified_key_is_stale_and_due() {
        let got = kinds(&raise(&key(400), None, None, &Memory::default()));
        assert!(got.contains(&AlertKind::Stale), "{got:?}");
        assert!(got.contains(&AlertKind::RotationDue), "{got:?}");
    }

    #[test]
    fn the_baseline_raises_no_event_alerts() {
        let ev = Memory {
            rows: vec![row(3, "10.0.0.1", 1), row(1, "203.0.113.9", 1)],
            ..Memory::default()
        };
        let meta = RuleMeta {
            canary: true,
            ..RuleMeta::default()
        };
        assert!(raise(&key(1), Some(&meta), None, &ev).is_empty());
    }

    #[test]
    fn a_new_address_after_the_cursor_is_raised_once_known() {
        let ev = Memory {
            rows: vec![row(3, "10.0.0.1", 1), row(1, "203.0.113.9", 1)],
            ..Memory::default()
        };
        let meta = RuleMeta {
            seen_at: Some(NOW - 3 * HOUR_MS),
            seen_prefix: Some("k_live_Ab".into()),
            seen_suffix: Some("wxyz".into()),
            seen_status: Some("active".into()),
            ..RuleMeta::default()
        };
        let got = raise(&key(1), Some(&meta), Some(NOW - 2 * HOUR_MS), &ev);
        assert_eq!(kinds(&got), vec![AlertKind::NewIp]);
        assert!(got[0].fingerprint.contains("203.0.113.9"));
    }

    #[test]
    fn a_canary_verified_after_the_cursor_is_critical() {
        let ev = Memory {
            rows: vec![row(1, "198.51.100.7", 1)],
            ..Memory::default()
        };
        let meta = RuleMeta {
            canary: true,
            seen_at: Some(NOW - 3 * HOUR_MS),
            seen_prefix: Some("k_live_Ab".into()),
            seen_suffix: Some("wxyz".into()),
            seen_status: Some("active".into()),
            ..RuleMeta::default()
        };
        let got = raise(&key(1), Some(&meta), Some(NOW - 2 * HOUR_MS), &ev);
        assert_eq!(kinds(&got), vec![AlertKind::CanaryTripped]);
        assert_eq!(got[0].severity, Severity::Critical);
    }

    #[test]
    fn a_key_created_outside_keyward_is_drift_unless_audited() {
        let cursor = Some(NOW - HOUR_MS);
        let got = raise(&key(0), None, cursor, &Memory::default());
        assert_eq!(kinds(&got), vec![AlertKind::Drift]);
        assert!(got[0].drift.is_some(), "drift carries its audit row");
        let audited = Memory {
            audited: vec![("create", NOW - 30 * 60_000)],
            ..Memory::default()
        };
        assert!(raise(&key(0), None, cursor, &audited).is_empty());
    }

    /// A member rotates a key while a sync is under way: the sync listed the old suffix before
    /// the rotate, its evaluation stored that old suffix after the rotate's audit row, and the
    /// next sync sees the new suffix. That is Keyward's rotate, not drift; a rotate audited long
    /// before the old suffix was observed does not excuse a later change.
    #[test]
    fn a_rotate_audited_during_the_sync_that_saw_the_old_suffix_is_not_drift() {
        let mut k = key(10);
        k.suffix = Some("NEW1".into());
        let meta = RuleMeta {
            seen_at: Some(NOW - 10 * 60_000),
            seen_prefix: Some(k.prefix.clone()),
            seen_suffix: Some("wxyz".into()),
            seen_status: Some("active".into()),
            ..RuleMeta::default()
        };
        let cursor = Some(NOW - 10 * 60_000);
        let during = Memory {
            audited: vec![("rotate", NOW - 11 * 60_000)],
            ..Memory::default()
        };
        let got = raise(&k, Some(&meta), cursor, &during);
        assert!(!kinds(&got).contains(&AlertKind::Drift), "{got:?}");
        let long_before = Memory {
            audited: vec![("rotate", NOW - 3 * HOUR_MS)],
            ..Memory::default()
        };
        let got = raise(&k, Some(&meta), cursor, &long_before);
        assert!(kinds(&got).contains(&AlertKind::Drift), "{got:?}");
    }

    #[test]
    fn a_revoked_or_gone_key_gets_no_policy_alert() {
        let mut k = key(400);
        k.status = KeyStatus::Revoked;
        assert!(raise(&k, None, None, &Memory::default()).is_empty());
        let mut k = key(400);
        k.gone = true;
        assert!(raise(&k, None, None, &Memory::default()).is_empty());
    }

    #[test]
    fn policy_floods_are_grouped_by_kind_and_events_stand_alone() {
        let r = |id: &str, kind: AlertKind, severity: Severity| Raise {
            kind,
            severity,
            key_id: id.into(),
            key_name: format!("key {id}"),
            message: String::new(),
            evidence: json!({}),
            fingerprint: format!("{}:{id}", kind.as_str()),
            drift: None,
        };
        let new = vec![
            r("a", AlertKind::Stale, Severity::Low),
            r("a", AlertKind::NewIp, Severity::Medium),
            r("b", AlertKind::Stale, Severity::Low),
            r("b", AlertKind::RotationDue, Severity::Medium),
            r("c", AlertKind::Stale, Severity::Low),
            r("d", AlertKind::RotationDue, Severity::High),
        ];
        let groups = group_policies(&Policy::default(), new, true, NOW);
        let shape: Vec<(Option<AlertKind>, usize)> = groups
            .iter()
            .map(|g| (g.summary.as_ref().map(|s| s.kind), g.members.len()))
            .collect();
        // Three stale keys: one summary where the first was; the rest alone, in order.
        assert_eq!(
            shape,
            vec![(Some(AlertKind::Stale), 3), (None, 1), (None, 1), (None, 1)]
        );
        let summary = groups[0].summary.as_ref().unwrap();
        assert_eq!(summary.severity, Severity::Low);
        assert!(summary.key_id.is_empty());
        assert!(
            summary
                .message
                .starts_with("3 keys have not been verified in 30 days")
        );
        assert_eq!(groups[1].members[0].kind, AlertKind::NewIp);
    }
}
