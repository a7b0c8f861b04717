//! The history roll-up on real SQLite files: a roll-up killed (SIGKILL) between its
//! transactions loses nothing, and the new-IP rule still knows every address of a key after
//! its raw rows are rolled up.

#![allow(
    clippy::disallowed_methods,
    reason = "the child process is this test binary, run again"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Duration, TimeZone, Utc};
use keyward_core::alerts::rules::Rules;
use keyward_core::model::alert::{AlertKind, Policy};
use keyward_core::model::history::Bucket;
use keyward_core::model::key::{ApiKey, KeyStatus, KeyType};
use keyward_core::store::{PageEntry, RawHistoryRow, Store};

use crate::support::file_store;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn key(id: &str, count: i64, lvo: DateTime<Utc>, ip: &str) -> PageEntry {
    PageEntry {
        key: ApiKey {
            id: id.into(),
            name: format!("name {id}"),
            key_type: KeyType::Organization,
            status: KeyStatus::Active,
            key_prefix: "k_live".into(),
            key_suffix: Some("abcd".into()),
            created_on: Some(t0() - Duration::days(400)),
            last_verified_on: Some(lvo),
            last_verified_ip: Some(ip.into()),
            created_by: None,
            api_ids: vec!["api_1".into()],
            scopes: vec!["read".into()],
            verification_count: Some(count),
            user_id: None,
            org_code: Some("org_a".into()),
        },
        detail: true,
    }
}

/// Keys `k0`..`k4` first seen 200 days before [`t0`], then a sample every 2 hours (17 past)
/// until [`t0`], each key from its own two addresses in turn.
fn seed(s: &dyn Store) {
    let start = t0() - Duration::days(200);
    let first: Vec<PageEntry> = (0..5)
        .map(|k| key(&format!("k{k}"), 0, start, "192.0.2.1"))
        .collect();
    s.apply_page(Some(1), start - Duration::hours(1), &first)
        .unwrap();
    let mut rows = Vec::new();
    for k in 0..5i64 {
        let kid = s.kid_of(&format!("k{k}")).unwrap().unwrap();
        let mut n = 0;
        for i in 0..200 * 12 {
            let at = start.timestamp_millis() + 17 * 60_000 + i * 7_200_000;
            let d = (i * (k + 3)) % 7;
            n += d;
            rows.push(RawHistoryRow {
                kid,
                at,
                verification_count: Some(n),
                last_verified_on: Some(at - 30_000),
                last_verified_ip: Some(format!("198.51.100.{}", k * 2 + (i / 300) % 2)),
                status: KeyStatus::Active,
                delta: d,
            });
        }
    }
    for chunk in rows.chunks(5000) {
        s.bulk_insert_history(chunk).unwrap();
    }
}

/// Totals, charts and the profile's days, compared as one value.
fn reads(s: &dyn Store) -> String {
    let now = t0();
    let mut totals: Vec<_> = s.history_totals().unwrap().into_iter().collect();
    totals.sort_by_key(|t| t.0);
    let mut out = format!("{totals:?}\n");
    for (kid, _) in &totals {
        for (bucket, days) in [(Bucket::Day, 400), (Bucket::Hour, 200)] {
            let c = s
                .chart(*kid, bucket, now - Duration::days(days), now)
                .unwrap();
            let v: Vec<i64> = c.iter().map(|b| b.verifications).collect();
            out.push_str(&format!("{kid} {bucket:?} {v:?}\n"));
        }
    }
    let d = s.daily_totals(now - Duration::days(400), now).unwrap();
    let v: Vec<i64> = d.iter().map(|b| b.verifications).collect();
    out.push_str(&format!("{v:?}\n"));
    out
}

const CHILD_DB: &str = "KW_ROLLUP_CHILD_DB";
const CHILD_PROGRESS: &str = "KW_ROLLUP_CHILD_PROGRESS";

/// The child of `a_roll_up_killed_between_its_transactions_loses_nothing`: rolls up in
/// batches of 100 samples, writing how many transactions it committed after each and then
/// sleeping, until it is killed.
#[test]
#[ignore = "run by a_roll_up_killed_between_its_transactions_loses_nothing as a child process"]
fn child_roll_up() {
    let (Ok(db), Ok(progress)) = (std::env::var(CHILD_DB), std::env::var(CHILD_PROGRESS)) else {
        return;
    };
    let s = file_store(Path::new(&db), "p");
    s.roll_up_history(t0(), 90, 100, &|p| {
        std::fs::write(&progress, p.transactions.to_string()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        true
    })
    .unwrap();
    std::fs::write(&progress, "done").unwrap();
}

fn progress(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[test]
fn a_roll_up_killed_between_its_transactions_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("keyward.db");
    let prog = dir.path().join("progress");
    let s = file_store(&db, "p");
    seed(s.as_ref());
    let before = reads(s.as_ref());
    let samples_before = s.history_len().unwrap();
    drop(s);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "history_rollup::child_roll_up",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_DB, &db)
        .env(CHILD_PROGRESS, &prog)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once it has committed a few transactions (and sleeps, or is inside the next).
    loop {
        match progress(&prog).as_deref() {
            Some("done") => panic!("the roll-up ended before it was killed"),
            Some(n) if n.parse::<u64>().is_ok_and(|n| n >= 5) => break,
            _ => {}
        }
        if let Some(st) = child.try_wait().unwrap() {
            panic!("the child ended ({st}) before it was killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let s = file_store(&db, "p");
    s.integrity_check().unwrap();
    let samples_mid = s.history_len().unwrap();
    assert!(
        samples_mid < samples_before,
        "the killed roll-up committed some: {samples_mid} of {samples_before}"
    );
    assert_eq!(reads(s.as_ref()), before, "after the kill");
    // Run again: it goes on to the end, and still nothing is lost.
    let done = s.roll_up_history(t0(), 90, 100, &|_| true).unwrap();
    assert!(done.ran && done.samples_rolled > 0, "{done:?}");
    assert!(s.history_len().unwrap() < samples_mid);
    assert_eq!(reads(s.as_ref()), before, "after the roll-up went on");
    assert!(!s.roll_up_history(t0(), 90, 100, &|_| true).unwrap().ran);
}

#[test]
fn the_new_ip_rule_knows_the_addresses_of_rows_rolled_up() {
    let dir = tempfile::tempdir().unwrap();
    let s = file_store(&dir.path().join("keyward.db"), "p");
    let policy = Policy::default();
    let rules = Rules { policy: &policy };
    let start = t0() - Duration::days(200);
    let (a, b, c) = ("203.0.113.10", "203.0.113.20", "203.0.113.30");
    s.apply_page(Some(1), start, &[key("k", 1, start, a)])
        .unwrap();
    // B is seen once, 150 days ago; A every day from 200 to 100 days ago.
    let kid = s.kid_of("k").unwrap().unwrap();
    let rows: Vec<RawHistoryRow> = (1..=100)
        .map(|d| {
            let at = (start + Duration::days(d)).timestamp_millis();
            RawHistoryRow {
                kid,
                at,
                verification_count: Some(1 + d),
                last_verified_on: Some(at - 1_000),
                last_verified_ip: Some(if d == 50 { b } else { a }.into()),
                status: KeyStatus::Active,
                delta: 1,
            }
        })
        .collect();
    s.bulk_insert_history(&rows).unwrap();
    let t1 = t0() - Duration::hours(1);
    s.apply_page(Some(2), t1, &[key("k", 120, t1, a)]).unwrap();
    // The baseline (policy alerts such as rotation due may come; no event alert).
    let e = s.evaluate_alerts(&rules, t1).unwrap();
    assert!(e.baseline);
    assert!(e.raised.iter().all(|r| r.kind != AlertKind::NewIp));
    let sum = s.roll_up_history(t0(), 90, 2000, &|_| true).unwrap();
    assert_eq!(sum.samples_rolled, 101, "{sum:?}");
    let h = s
        .key_history("k", Bucket::Day, t0() - Duration::days(90), t0())
        .unwrap();
    assert!(
        h.points
            .iter()
            .all(|p| p.last_verified_ip.as_deref() != Some(b))
    );
    // From B, known only from a rolled-up row: nothing new.
    let t2 = t0();
    s.apply_page(Some(3), t2, &[key("k", 121, t2, b)]).unwrap();
    let e = s.evaluate_alerts(&rules, t2).unwrap();
    assert!(
        e.raised.iter().all(|r| r.kind != AlertKind::NewIp),
        "{:?}",
        e.raised
    );
    // From C, never seen: the alert.
    let t3 = t0() + Duration::minutes(15);
    s.apply_page(Some(4), t3, &[key("k", 122, t3, c)]).unwrap();
    let e = s.evaluate_alerts(&rules, t3).unwrap();
    let new_ip: Vec<_> = e
        .raised
        .iter()
        .filter(|r| r.kind == AlertKind::NewIp)
        .collect();
    assert_eq!(new_ip.len(), 1, "{:?}", e.raised);
    assert_eq!(new_ip[0].evidence["ip"], c);
    let known = new_ip[0].evidence["known_ips"].as_array().unwrap();
    assert_eq!(known.len(), 2, "{known:?}");
}
