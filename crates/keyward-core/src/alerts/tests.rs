//! The alert rules, evaluated over a real SQLite store.

use chrono::Duration;
use serde_json::json;

use chrono::{DateTime, Utc};

use crate::model::alert::*;
use crate::model::audit::{AuditAction, AuditFilter, AuditOutcome, NewAudit};
use crate::model::key::{ApiKey, KeyStatus, KeyType};
use crate::store::{PageEntry, SqliteStore};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn key(id: &str, count: i64, lvo: Option<DateTime<Utc>>, ip: Option<&str>) -> ApiKey {
    ApiKey {
        id: id.to_string(),
        name: format!("key {id}"),
        key_type: KeyType::Organization,
        status: KeyStatus::Active,
        key_prefix: "k_live".into(),
        key_suffix: Some("AbCd".into()),
        created_on: Some(t0() - Duration::days(10)),
        last_verified_on: lvo,
        last_verified_ip: ip.map(str::to_string),
        created_by: Some("Ada Okafor".into()),
        api_ids: vec!["api1".into()],
        scopes: vec!["read:data".into()],
        verification_count: Some(count),
        user_id: None,
        org_code: Some("org_1".into()),
    }
}

fn sync(s: &SqliteStore, at: DateTime<Utc>, keys: &[ApiKey]) {
    let entries: Vec<PageEntry> = keys
        .iter()
        .map(|k| PageEntry {
            key: k.clone(),
            detail: true,
        })
        .collect();
    s.apply_page(None, at, &entries).unwrap();
}

fn eval(s: &SqliteStore, at: DateTime<Utc>) -> AlertEval {
    s.evaluate_alerts(
        &super::rules::Rules {
            policy: &Policy::default(),
        },
        at,
    )
    .unwrap()
}

fn kinds(e: &AlertEval) -> Vec<AlertKind> {
    e.raised.iter().map(|a| a.kind).collect()
}

#[test]
fn first_sync_raises_no_new_ip_and_no_drift() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let t = t0();
    sync(&s, t, &[key("a", 5, Some(t), Some("203.0.113.1"))]);
    let e = eval(&s, t);
    assert!(e.baseline);
    assert!(e.raised.is_empty(), "{:?}", kinds(&e));
    // The next sync with the same IP raises nothing either.
    let t1 = t + Duration::minutes(5);
    sync(&s, t1, &[key("a", 6, Some(t1), Some("203.0.113.1"))]);
    let e = eval(&s, t1);
    assert!(!e.baseline);
    assert!(e.raised.is_empty(), "{:?}", kinds(&e));
}

#[test]
fn new_ip_once_per_address() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let t = t0();
    sync(&s, t, &[key("a", 5, Some(t), Some("203.0.113.1"))]);
    eval(&s, t);
    let t1 = t + Duration::minutes(5);
    sync(&s, t1, &[key("a", 6, Some(t1), Some("198.51.100.9"))]);
    let e = eval(&s, t1);
    assert_eq!(kinds(&e), vec![AlertKind::NewIp]);
    assert_eq!(e.raised[0].evidence["ip"], "198.51.100.9");
    assert_eq!(e.raised[0].evidence["known_ips"], json!(["203.0.113.1"]));
    assert_eq!(e.raised[0].severity, Severity::Medium);
    // Back to a known address, then the new one again: nothing new.
    let t2 = t1 + Duration::minutes(5);
    sync(&s, t2, &[key("a", 7, Some(t2), Some("203.0.113.1"))]);
    let t3 = t2 + Duration::minutes(5);
    sync(&s, t3, &[key("a", 8, Some(t3), Some("198.51.100.9"))]);
    assert!(eval(&s, t3).raised.is_empty());
    // The first IP of a key that had none is its baseline, not an alert.
    let t4 = t3 + Duration::minutes(5);
    sync(&s, t4, &[key("b", 0, None, None)]);
    let mut b = key("b", 1, Some(t4), Some("192.0.2.1"));
    b.created_on = Some(t4 - Duration::days(1));
    let t5 = t4 + Duration::minutes(5);
    b.last_verified_on = Some(t5);
    sync(&s, t5, &[b]);
    let e = eval(&s, t5);
    assert!(!kinds(&e).contains(&AlertKind::NewIp), "{:?}", kinds(&e));
}

#[test]
fn dormant_key_wakes() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let t = t0();
    let mut k = key("a", 5, Some(t - Duration::days(40)), Some("203.0.113.1"));
    k.created_on = Some(t - Duration::days(400));
    sync(&s, t, &[k.clone()]);
    eval(&s, t);
    let t1 = t + Duration::minutes(5);
    k.verification_count = Some(6);
    k.last_verified_on = Some(t1);
    sync(&s, t1, &[k.clone()]);
    let e = eval(&s, t1);
    assert_eq!(kinds(&e), vec![AlertKind::DormantWakes]);
    assert_eq!(e.raised[0].evidence["quiet_days"], 40);
    // A key verified 10 days ago is not dormant.
    let s = SqliteStore::open_in_memory("p").unwrap();
    k.verification_count = Some(5);
    k.last_verified_on = Some(t - Duration::days(10));
    sync(&s, t, &[k.clone()]);
    eval(&s, t);
    k.verification_count = Some(6);
    k.last_verified_on = Some(t1);
    sync(&s, t1, &[k]);
    assert!(eval(&s, t1).raised.is_empty());
}

/// Hourly history rows for key row `kid` over `hours` hours before `end`, `per_hour` each.
fn baseline(s: &SqliteStore, id: &str, end: DateTime<Utc>, hours: i64, per_hour: i64) {
    let kid = s.kid_of(id).unwrap().unwrap();
    let rows: Vec<crate::store::RawHistoryRow> = (1..=hours)
        .map(|h| crate::store::RawHistoryRow {
            kid,
            at: (end - Duration::hours(hours + 1 - h)).timestamp_millis() - 1,
            verification_count: Some(h * per_hour),
            last_verified_on: Some((end - Duration::hours(hours + 1 - h)).timestamp_millis() - 2),
            last_verified_ip: Some("203.0.113.1".into()),
            status: KeyStatus::Active,
            delta: per_hour,
        })
        .collect();
    s.bulk_insert_history(&rows).unwrap();
}

#[test]
fn spike_above_factor_and_floor_only() {
    for (per_hour, burst, spike) in [(2, 200, true), (10, 40, false), (1, 6, false)] {
        let s = SqliteStore::open_in_memory("p").unwrap();
        let t = t0();
        let base = 1000;
        sync(&s, t, &[key("a", base, Some(t), Some("203.0.113.1"))]);
        baseline(&s, "a", t, 48, per_hour);
        eval(&s, t);
        let t1 = t + Duration::minutes(10);
        sync(
            &s,
            t1,
            &[key("a", base + burst, Some(t1), Some("203.0.113.1"))],
        );
        let e = eval(&s, t1);
        assert_eq!(
            kinds(&e).contains(&AlertKind::Spike),
            spike,
            "{per_hour}/h then {burst}: {:?}",
            e.raised
        );
        if spike {
            let a = &e.raised[0];
            assert_eq!(a.evidence["verifications"], burst);
            assert_eq!(a.severity, Severity::High);
            // The same evidence, evaluated again, raises nothing.
            assert!(eval(&s, t1 + Duration::seconds(1)).raised.is_empty());
        }
    }
}

#[test]
fn drift_created_rotated_revoked_outside_keyward_is_audited() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let t = t0();
    sync(&s, t, &[key("a", 1, Some(t), Some("203.0.113.1"))]);
    eval(&s, t);
    // A key created in Keyward (audited) and one created elsewhere.
    let t1 = t + Duration::minutes(5);
    s.audit_append(
        t1,
        &NewAudit {
            action: AuditAction::Create,
            key_id: Some("mine"),
            key_name: Some("key mine"),
            outcome: AuditOutcome::Ok,
            error: None,
            details: json!({}),
            actor: None,
        },
    )
    .unwrap();
    let mut theirs = key("theirs", 0, None, None);
    theirs.created_by = Some("Portal User".into());
    sync(&s, t1, &[key("mine", 0, None, None), theirs]);
    let e = eval(&s, t1);
    assert_eq!(kinds(&e), vec![AlertKind::Drift]);
    assert_eq!(e.raised[0].key_id.as_deref(), Some("theirs"));
    assert_eq!(e.raised[0].evidence["change"], "created");
    assert_eq!(e.drift_audited, 1);
    let audit = s
        .audit_list(&AuditFilter {
            action: Some(AuditAction::OutsideKeyward),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].details["created_by"], "Portal User");
    assert_eq!(audit[0].details["source"], "outside Keyward");

    // Rotated elsewhere (suffix changed), and rotated by Keyward (audited).
    let t2 = t1 + Duration::minutes(5);
    s.audit_append(
        t2,
        &NewAudit {
            action: AuditAction::Rotate,
            key_id: Some("mine"),
            key_name: None,
            outcome: AuditOutcome::Ok,
            error: None,
            details: json!({}),
            actor: None,
        },
    )
    .unwrap();
    let mut a = key("a", 1, Some(t), Some("203.0.113.1"));
    a.key_suffix = Some("ZzZz".into());
    let mut mine = key("mine", 0, None, None);
    mine.key_suffix = Some("QqQq".into());
    sync(&s, t2, &[a.clone(), mine]);
    let e = eval(&s, t2);
    assert_eq!(kinds(&e), vec![AlertKind::Drift]);
    assert_eq!(e.raised[0].evidence["change"], "rotated");
    assert_eq!(e.raised[0].evidence["previous_suffix"], "AbCd");
    assert_eq!(e.raised[0].severity, Severity::High);

    // Revoked elsewhere.
    let t3 = t2 + Duration::minutes(5);
    a.status = KeyStatus::Revoked;
    sync(&s, t3, &[a]);
    let e = eval(&s, t3);
    assert_eq!(kinds(&e), vec![AlertKind::Drift]);
    assert_eq!(e.raised[0].evidence["change"], "revoked");
    assert!(eval(&s, t3 + Duration::minutes(1)).raised.is_empty());
    let audit = s
        .audit_list(&AuditFilter {
            action: Some(AuditAction::OutsideKeyward),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(audit.len(), 3);
}

#[test]
fn canary_tripped_is_critical() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let t = t0();
    sync(&s, t, &[key("c", 0, None, None)]);
    s.set_canary("c", true).unwrap();
    eval(&s, t);
    let t1 = t + Duration::minutes(5);
    sync(&s, t1, &[key("c", 1, Some(t1), Some("192.0.2.77"))]);
    let e = eval(&s, t1);
    assert_eq!(kinds(&e), vec![AlertKind::CanaryTripped]);
    assert_eq!(e.raised[0].severity, Severity::Critical);
    assert_eq!(e.raised[0].evidence["ip"], "192.0.2.77");
    let l = s.alerts_list(&AlertFilter::default()).unwrap();
    assert_eq!(l.open_high, 1);
}

#[test]
fn policies_stale_rotation_due_expiry_coming_once() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let t = t0();
    let mut old = key("old", 3, Some(t - Duration::days(45)), Some("203.0.113.1"));
    old.created_on = Some(t - Duration::days(100));
    let mut soon = key("soon", 3, Some(t), Some("203.0.113.1"));
    soon.created_on = Some(t - Duration::days(80));
    let dated = key("dated", 3, Some(t), Some("203.0.113.1"));
    sync(&s, t, &[old, soon, dated]);
    s.set_expires_on("dated", Some(t - Duration::hours(1)))
        .unwrap();
    let e = eval(&s, t);
    let mut got: Vec<(String, AlertKind, Severity)> = e
        .raised
        .iter()
        .map(|a| (a.key_id.clone().unwrap(), a.kind, a.severity))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            ("dated".into(), AlertKind::RotationDue, Severity::High),
            ("old".into(), AlertKind::Stale, Severity::Low),
            ("old".into(), AlertKind::RotationDue, Severity::Medium),
            ("soon".into(), AlertKind::ExpiryComing, Severity::Low),
        ]
    );
    let due = e
        .raised
        .iter()
        .find(|a| a.key_id.as_deref() == Some("dated"))
        .unwrap();
    assert_eq!(
        due.evidence["offer"],
        json!(["rotate", "reissue", "revoke"])
    );
    // No duplicates: the same state evaluated again raises nothing.
    assert!(eval(&s, t + Duration::hours(1)).raised.is_empty());
    assert_eq!(
        s.alerts_list(&AlertFilter::default()).unwrap().alerts.len(),
        4
    );
}

#[test]
fn ack_and_mute() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let t = t0();
    let mut old = key("old", 3, Some(t - Duration::days(45)), Some("203.0.113.1"));
    old.created_on = Some(t - Duration::days(100));
    sync(&s, t, &[old]);
    s.set_expires_on("old", Some(t)).unwrap();
    eval(&s, t);
    let l = s.alerts_list(&AlertFilter::default()).unwrap();
    assert_eq!((l.open_total, l.open_high), (3, 1));
    let high = l
        .alerts
        .iter()
        .find(|a| a.severity == Severity::High)
        .unwrap();
    let acked = s.alert_ack(high.id, t).unwrap();
    assert!(acked.acknowledged_at.is_some());
    let l = s.alerts_list(&AlertFilter::default()).unwrap();
    assert_eq!((l.open_total, l.open_high), (2, 0));
    assert!(s.alert_ack(9999, t).is_err());
    // Mute the kind: its open alert is hidden, and new ones come muted.
    let n = s
        .alert_mute(
            &MuteTarget::Kind {
                kind: AlertKind::Stale,
            },
            t,
        )
        .unwrap();
    assert_eq!(n, 1);
    let l = s.alerts_list(&AlertFilter::default()).unwrap();
    assert_eq!(l.open_total, 1);
    s.alert_mute(
        &MuteTarget::Key {
            key_id: "new".into(),
        },
        t,
    )
    .unwrap();
    let t1 = t + Duration::minutes(5);
    let mut new = key("new", 0, None, None);
    new.created_on = Some(t - Duration::days(300));
    sync(&s, t1, &[new]);
    let e = eval(&s, t1);
    assert!(!e.raised.is_empty());
    assert!(e.raised.iter().all(|a| a.muted), "{:?}", e.raised);
    let all = s
        .alerts_list(&AlertFilter {
            include_muted: true,
            include_acknowledged: true,
            ..Default::default()
        })
        .unwrap();
    assert!(all.alerts.len() > 3);
    assert_eq!(s.alert_mutes().unwrap().len(), 2);
    assert!(
        s.alert_unmute(&MuteTarget::Kind {
            kind: AlertKind::Stale
        })
        .unwrap()
    );
}

#[test]
fn kinds_parse_and_policy_checks() {
    for k in AlertKind::ALL {
        assert_eq!(AlertKind::parse(k.as_str()).unwrap(), k);
    }
    assert_eq!(AlertKind::parse("new-ip").unwrap(), AlertKind::NewIp);
    assert!(AlertKind::parse("nope").is_err());
    assert!(Policy::default().check().is_ok());
    let bad = Policy {
        spike_factor: f64::NAN,
        ..Policy::default()
    };
    assert!(bad.check().is_err());
}

/// Raises what it was given for each key, whatever the history says.
struct Given(Vec<(&'static str, AlertKind, Severity)>);

impl AlertRules for Given {
    fn raise(
        &self,
        key: &RuleKey,
        _meta: Option<&RuleMeta>,
        _cursor: Option<i64>,
        now: i64,
        _evidence: &dyn AlertEvidence,
    ) -> crate::error::Result<Vec<Raise>> {
        Ok(self
            .0
            .iter()
            .filter(|(id, _, _)| *id == key.id)
            .map(|(id, kind, severity)| Raise {
                kind: *kind,
                severity: *severity,
                key_id: id.to_string(),
                key_name: key.name.clone(),
                message: format!("{kind:?}"),
                evidence: json!({}),
                fingerprint: format!("{id}:{kind:?}:{now}"),
                drift: None,
            })
            .collect())
    }
}

#[test]
fn alerts_list_the_most_severe_first_then_the_newest() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let t = t0();
    sync(&s, t, &[key("a", 1, None, None), key("b", 1, None, None)]);
    // Older: a critical and a low; newer: a medium and a high.
    s.evaluate_alerts(
        &Given(vec![
            ("a", AlertKind::CanaryTripped, Severity::Critical),
            ("b", AlertKind::Stale, Severity::Low),
        ]),
        t,
    )
    .unwrap();
    s.evaluate_alerts(
        &Given(vec![
            ("a", AlertKind::NewIp, Severity::Medium),
            ("b", AlertKind::Spike, Severity::High),
        ]),
        t + Duration::hours(1),
    )
    .unwrap();
    let list = s.alerts_list(&AlertFilter::default()).unwrap();
    let order: Vec<Severity> = list.alerts.iter().map(|a| a.severity).collect();
    assert_eq!(
        order,
        vec![
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low
        ]
    );
    // Same severity: the newer first.
    s.evaluate_alerts(
        &Given(vec![("b", AlertKind::CanaryTripped, Severity::Critical)]),
        t + Duration::hours(2),
    )
    .unwrap();
    let list = s.alerts_list(&AlertFilter::default()).unwrap();
    assert_eq!(list.alerts[0].key_id.as_deref(), Some("b"));
    assert_eq!(list.alerts[1].key_id.as_deref(), Some("a"));
}

#[test]
fn a_first_evaluation_summarizes_a_flood_of_one_policy_kind() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let t = t0();
    // Five keys far past the 90-day policy, never verified in 30 days: a fresh profile's flood.
    let old: Vec<ApiKey> = (0..5)
        .map(|i| {
            let mut k = key(&format!("old{i}"), 3, Some(t - Duration::days(60)), None);
            k.created_on = Some(t - Duration::days(200));
            k
        })
        .collect();
    sync(&s, t, &old);
    let e = eval(&s, t);
    assert!(e.baseline);
    let shown: Vec<(AlertKind, Option<String>)> = e
        .raised
        .iter()
        .map(|a| (a.kind, a.key_id.clone()))
        .collect();
    assert_eq!(
        shown,
        vec![(AlertKind::Stale, None), (AlertKind::RotationDue, None)],
        "one summary per kind, not one alert per key"
    );
    let due = e
        .raised
        .iter()
        .find(|a| a.kind == AlertKind::RotationDue)
        .unwrap();
    assert!(
        due.message.starts_with("5 keys are due for rotation"),
        "{}",
        due.message
    );
    assert_eq!(due.evidence["count"], 5);
    assert_eq!(due.evidence["keys"].as_array().unwrap().len(), 5);

    // The list and the counts show the summaries; a key's own alerts include its member.
    let list = s.alerts_list(&AlertFilter::default()).unwrap();
    assert_eq!((list.alerts.len(), list.open_total), (2, 2));
    let mine = s
        .alerts_list(&AlertFilter {
            key_id: Some("old3".into()),
            ..AlertFilter::default()
        })
        .unwrap();
    assert_eq!(mine.alerts.len(), 2, "old3 is stale and due");

    // The next evaluation raises nothing again for the same keys.
    let again = eval(&s, t + Duration::hours(1));
    assert!(again.raised.is_empty(), "{:?}", kinds(&again));

    // Acknowledging the summary acknowledges what it stands for.
    s.alert_ack(due.id, t + Duration::hours(2)).unwrap();
    let mine = s
        .alerts_list(&AlertFilter {
            key_id: Some("old3".into()),
            ..AlertFilter::default()
        })
        .unwrap();
    assert_eq!(
        mine.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(),
        vec![AlertKind::Stale]
    );
}

#[test]
fn a_few_policy_alerts_stand_alone() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let t = t0();
    let mut k = key("old", 3, Some(t - Duration::days(60)), None);
    k.created_on = Some(t - Duration::days(200));
    let mut k2 = k.clone();
    k2.id = "old2".into();
    sync(&s, t, &[k, k2]);
    let e = eval(&s, t);
    assert!(
        e.raised.iter().all(|a| a.key_id.is_some()),
        "2 < 3: one per key"
    );
    assert_eq!(e.raised.len(), 4);
}
