#![allow(
    clippy::disallowed_methods,
    reason = "tests build databases by hand to migrate them"
)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use rusqlite::Connection;

use parking_lot::Mutex;

use super::db::MIGRATIONS;
use super::rows::DAY_MS;
use super::*;
use crate::error::{Error, ErrorCode};
use crate::model::audit::{AuditAction, AuditFilter, AuditOutcome, NewAudit};
use crate::model::history::Bucket;
use crate::model::key::{ApiKey, KeyFilter, KeyStatus, KeyType};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn key(id: &str, count: Option<i64>, lvo: Option<DateTime<Utc>>) -> ApiKey {
    ApiKey {
        id: id.into(),
        name: format!("name {id}"),
        key_type: KeyType::Organization,
        status: KeyStatus::Active,
        key_prefix: "k_live".into(),
        key_suffix: Some("abcd".into()),
        created_on: Some(t0() - Duration::days(100)),
        last_verified_on: lvo,
        last_verified_ip: lvo.map(|_| "10.0.0.1".into()),
        created_by: None,
        api_ids: vec!["api_1".into()],
        scopes: vec!["read".into()],
        verification_count: count,
        user_id: None,
        org_code: count.map(|_| "org_a".into()),
    }
}

fn detail(k: ApiKey) -> PageEntry {
    PageEntry {
        key: k,
        detail: true,
    }
}

fn listed(mut k: ApiKey) -> PageEntry {
    k.verification_count = None;
    k.org_code = None;
    PageEntry {
        key: k,
        detail: false,
    }
}

#[test]
fn migrations_set_user_version_and_are_idempotent() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    let mut c = s.conn.lock();
    migrate(&mut c).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
}

#[test]
fn a_schema_1_database_migrates_to_2_and_its_history_is_from_sync() {
    let mut c = Connection::open_in_memory().unwrap();
    c.execute_batch(MIGRATIONS[0]).unwrap();
    c.execute_batch(
        "PRAGMA user_version = 1; \
         INSERT INTO keys (kid, profile, id, name, key_type, status, key_prefix, first_seen, \
         last_synced) VALUES (1, 'p', 'k', 'n', 'user', 'active', 'kk', 0, 0); \
         INSERT INTO history (kid, at, verification_count, status, delta) \
         VALUES (1, 5, 3, 'active', 0);",
    )
    .unwrap();
    migrate(&mut c).unwrap();
    let (v, source): (i64, String) = c
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), source FROM history",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((v, source.as_str()), (SCHEMA_VERSION, "sync"));
}

#[test]
fn demo_prefill_writes_marked_rows_once_and_only_before_real_history() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let now = t0();
    let lvo = Some(now - Duration::minutes(5));
    s.apply_page(Some(1), now, &[detail(key("a", Some(50), lvo))])
        .unwrap();
    s.apply_page(Some(1), now, &[detail(key("zero", Some(0), None))])
        .unwrap();
    let kid = s.kid_of("a").unwrap().unwrap();
    let mut seen = Vec::new();
    let out = s
        .prefill_demo_history(now - Duration::days(1), |anchors| {
            seen = anchors.to_vec();
            vec![RawHistoryRow {
                kid,
                at: to_ms(now) - 10 * DAY_MS,
                verification_count: Some(50),
                last_verified_on: Some(to_ms(now) - 10 * DAY_MS),
                last_verified_ip: None,
                status: KeyStatus::Active,
                delta: 50,
            }]
        })
        .unwrap();
    assert_eq!(out, PrefillOutcome::Written { keys: 1, rows: 1 });
    // Only keys first seen with verifications are anchored, at their first row.
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].kid, seen[0].count), (kid, 50));
    assert_eq!(seen[0].first_at, to_ms(now));
    assert_eq!(s.demo_history_len().unwrap(), 1);
    let spark = s.spark_7d(now).unwrap();
    assert!(spark.get(&kid).is_none_or(|v| v.iter().all(|&n| n == 0)));
    let totals = s.daily_totals(now - Duration::days(29), now).unwrap();
    assert_eq!(totals.iter().map(|b| b.verifications).sum::<i64>(), 50);
    assert_eq!(totals.len(), 30);
    // A second time: the past is there, nothing is asked for or written.
    let again = s
        .prefill_demo_history(now + Duration::days(2), |_| panic!("not asked"))
        .unwrap();
    assert_eq!(again, PrefillOutcome::HasHistory);
    assert_eq!(
        s.history_len().unwrap(),
        3,
        "two observed rows and one demo row"
    );

    // A row at or after a key's first real row is refused, and nothing is written.
    let t = SqliteStore::open_in_memory("p").unwrap();
    t.apply_page(Some(1), now, &[detail(key("a", Some(50), lvo))])
        .unwrap();
    let kid = t.kid_of("a").unwrap().unwrap();
    let e = t
        .prefill_demo_history(now - Duration::days(1), |_| {
            vec![RawHistoryRow {
                kid,
                at: to_ms(now),
                verification_count: Some(50),
                last_verified_on: None,
                last_verified_ip: None,
                status: KeyStatus::Active,
                delta: 0,
            }]
        })
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Internal);
    assert_eq!(t.demo_history_len().unwrap(), 0);
    // An empty store has nothing to anchor to.
    let u = SqliteStore::open_in_memory("p").unwrap();
    let none = u.prefill_demo_history(now, |_| Vec::new()).unwrap();
    assert_eq!(none, PrefillOutcome::NothingToAnchor);
}

#[test]
fn newer_schema_is_refused() {
    let mut c = Connection::open_in_memory().unwrap();
    c.execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
        .unwrap();
    let e = migrate(&mut c).unwrap_err();
    assert_eq!(e.code, ErrorCode::DatabaseTooNew);
    assert!(e.hint.contains("Upgrade Keyward"));
}

#[test]
fn no_history_row_when_nothing_changed() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let lvo = Some(t0() - Duration::hours(1));
    let out = s
        .apply_page(Some(1), t0(), &[detail(key("a", Some(5), lvo))])
        .unwrap();
    assert_eq!(
        out,
        PageOutcome {
            new: 1,
            changed: 0,
            history_rows: 1
        }
    );
    // Same listing, with and without details: nothing new.
    for (i, e) in [
        listed(key("a", Some(5), lvo)),
        detail(key("a", Some(5), lvo)),
    ]
    .into_iter()
    .enumerate()
    {
        let at = t0() + Duration::minutes(5 * (i as i64 + 1));
        let out = s.apply_page(Some(2), at, &[e]).unwrap();
        assert_eq!(out, PageOutcome::default());
    }
    assert_eq!(s.history_len().unwrap(), 1);
    // A real change adds exactly one row with the delta.
    let lvo2 = Some(t0() + Duration::minutes(20));
    let out = s
        .apply_page(
            Some(3),
            t0() + Duration::minutes(30),
            &[detail(key("a", Some(9), lvo2))],
        )
        .unwrap();
    assert_eq!(out.history_rows, 1);
    assert_eq!(out.changed, 1);
    let h = s
        .key_history(
            "a",
            Bucket::Day,
            t0() - Duration::days(1),
            t0() + Duration::hours(1),
        )
        .unwrap();
    assert_eq!(h.points.len(), 2);
    assert_eq!(h.points[1].delta, 4);
    assert_eq!(h.total, 4);
}

#[test]
fn listing_change_without_detail_is_remembered() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    s.apply_page(Some(1), t0(), &[detail(key("a", Some(1), None))])
        .unwrap();
    let moved = key("a", Some(2), Some(t0()));
    let st = &s.key_states().unwrap()["a"];
    assert!(st.needs_detail_for(&moved));
    // The detail fetch failed: the listing is stored without the counters.
    s.apply_page(
        Some(2),
        t0() + Duration::minutes(5),
        &[listed(moved.clone())],
    )
    .unwrap();
    let st = &s.key_states().unwrap()["a"];
    assert!(st.needs_detail);
    // List first: what the listing carries shows at once; the count that explains it is
    // owed, and the old count stays (never a made-up one); no history row without it.
    assert_eq!(st.last_verified_on, Some(to_ms(t0())));
    let v = s.get_key("a", t0()).unwrap().unwrap();
    assert!(v.details_owed);
    assert_eq!(v.key.verification_count, Some(1));
    assert_eq!(s.history_len().unwrap(), 1);
    s.apply_page(Some(3), t0() + Duration::minutes(10), &[detail(moved)])
        .unwrap();
    let st = &s.key_states().unwrap()["a"];
    assert!(!st.needs_detail);
    assert_eq!(s.history_len().unwrap(), 2);
    let h = s
        .key_history(
            "a",
            Bucket::Day,
            t0() - Duration::days(1),
            t0() + Duration::days(1),
        )
        .unwrap();
    assert_eq!(
        h.points[1].delta, 1,
        "the delta against the last observation"
    );
}

#[test]
fn counter_reset_counts_as_zero_and_buckets_fill() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let mut t = t0();
    let mut n = 0;
    for count in [10, 15, 3, 8] {
        n += 1;
        let lvo = Some(t - Duration::seconds(1));
        s.apply_page(Some(n), t, &[detail(key("a", Some(count), lvo))])
            .unwrap();
        t += Duration::hours(1);
    }
    let h = s
        .key_history("a", Bucket::Hour, t0(), t0() + Duration::hours(3))
        .unwrap();
    let per_hour: Vec<i64> = h.buckets.iter().map(|b| b.verifications).collect();
    assert_eq!(per_hour, vec![0, 5, 0, 5]);
    let d = s
        .key_history("a", Bucket::Day, t0() - Duration::days(2), t0())
        .unwrap();
    assert_eq!(d.buckets.len(), 3);
    assert_eq!(d.buckets[2].verifications, 10);
}

#[test]
fn gone_keys_are_marked_and_come_back() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    s.apply_page(
        Some(1),
        t0(),
        &[
            detail(key("a", Some(1), None)),
            detail(key("b", Some(1), None)),
        ],
    )
    .unwrap();
    assert_eq!(s.mark_gone(1).unwrap(), 0);
    s.apply_page(Some(2), t0(), &[listed(key("a", Some(1), None))])
        .unwrap();
    assert_eq!(s.mark_gone(2).unwrap(), 1);
    let all = s.list_keys(&KeyFilter::default(), t0()).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().any(|k| k.key.id == "b" && k.gone));
    s.apply_page(Some(3), t0(), &[listed(key("b", Some(1), None))])
        .unwrap();
    assert!(!s.get_key("b", t0()).unwrap().unwrap().gone);
}

#[test]
fn list_filters_and_sparkline() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let now = t0();
    s.apply_page(
        Some(1),
        now - Duration::days(3),
        &[detail(key("a", Some(1), None))],
    )
    .unwrap();
    s.apply_page(
        Some(2),
        now - Duration::days(1),
        &[detail(key("a", Some(4), Some(now - Duration::days(1))))],
    )
    .unwrap();
    let mut other = key("b_100%", Some(0), None);
    other.name = "Billing_worker".into();
    other.created_on = Some(now - Duration::days(2));
    s.apply_page(Some(2), now, &[detail(other)]).unwrap();

    let a = s.get_key("a", now).unwrap().unwrap();
    assert_eq!(a.spark_7d, vec![0, 0, 0, 0, 0, 3, 0]);
    assert!(
        !a.stale && !a.rotation_due,
        "the store leaves the flags to the keys rules"
    );
    let f = KeyFilter {
        api_id: Some("api_1".into()),
        ..Default::default()
    };
    assert_eq!(s.list_keys(&f, now).unwrap().len(), 2);
    let f = KeyFilter {
        api_id: Some("api_2".into()),
        ..Default::default()
    };
    assert_eq!(s.list_keys(&f, now).unwrap().len(), 0);
}

#[test]
fn audit_and_reissues_round_trip() {
    let s = SqliteStore::open_in_memory("prod").unwrap();
    let err = Error::new(
        ErrorCode::MissingScope,
        "needs create:api_keys",
        "Add the scope.",
    );
    s.audit_append(
        t0(),
        &NewAudit {
            action: AuditAction::Create,
            key_id: None,
            key_name: Some("ci"),
            outcome: AuditOutcome::Failed,
            error: Some(&err),
            details: json!({"scopes": ["read"]}),
        },
    )
    .unwrap();
    s.audit_append(
        t0() + Duration::seconds(1),
        &NewAudit {
            action: AuditAction::Revoke,
            key_id: Some("k1"),
            key_name: None,
            outcome: AuditOutcome::Ok,
            error: None,
            details: serde_json::Value::Null,
        },
    )
    .unwrap();
    let all = s.audit_list(&AuditFilter::default()).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].action, AuditAction::Revoke);
    assert_eq!(all[1].error_code.as_deref(), Some("missing_scope"));
    assert_eq!(all[1].details["scopes"][0], "read");
    let failed = s
        .audit_list(&AuditFilter {
            outcome: Some(AuditOutcome::Failed),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(failed.len(), 1);
    // Another profile sees none of it.
    let other = SqliteStore {
        profile: "dev".into(),
        ..s
    };
    assert!(
        other
            .audit_list(&AuditFilter::default())
            .unwrap()
            .is_empty()
    );

    other.reissue_open("old", "new", t0(), Some(7)).unwrap();
    other.reissue_open("old", "new", t0(), Some(7)).unwrap();
    assert_eq!(other.reissues(true).unwrap().len(), 1);
    assert_eq!(other.reissue_close("old", t0()).unwrap().len(), 1);
    assert!(other.reissues(true).unwrap().is_empty());
    assert_eq!(other.reissues(false).unwrap().len(), 1);
}

#[test]
fn runs_are_recorded() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let id = s.run_start("incremental", t0()).unwrap();
    let p = RunProgress {
        pages: 2,
        keys_seen: 600,
        requests: json!({"list": 2}),
        errors: vec!["boom".into()],
        ..Default::default()
    };
    s.run_update(id, &p, Some(("ok", t0() + Duration::seconds(2), 2000)))
        .unwrap();
    let r = &s.runs(5).unwrap()[0];
    assert_eq!((r.pages, r.keys_seen, r.status.as_str()), (2, 600, "ok"));
    assert_eq!(r.requests["list"], 2);
    assert_eq!(s.last_sync_at().unwrap(), Some(t0() + Duration::seconds(2)));
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<SqliteStore>();
    check::<std::sync::Arc<dyn Store>>();
}

fn keys_named(prefix: &str, range: std::ops::Range<usize>) -> Vec<PageEntry> {
    range
        .map(|i| listed(key(&format!("{prefix}{i:05}"), Some(1), None)))
        .collect()
}

fn gone_count(s: &SqliteStore) -> usize {
    s.key_states().unwrap().values().filter(|k| k.gone).count()
}

/// Two runs whose listings interleave (what two syncs at once did): each run's pages overwrite
/// the other's `seen_run`. Neither may mark a listed key gone; a key neither saw still is.
#[test]
fn overlapping_runs_never_mark_a_listed_key_gone() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    // An earlier run knew one more key, deleted from Kinde since.
    let r0 = s.run_start("incremental", t0()).unwrap();
    let mut first = keys_named("k", 0..3000);
    first.push(listed(key("deleted", Some(1), None)));
    s.apply_page(Some(r0), t0(), &first).unwrap();
    assert_eq!(s.mark_gone(r0).unwrap(), 0);

    let at = |secs| t0() + Duration::seconds(secs);
    let a = s.run_start("incremental", at(10)).unwrap();
    let b = s.run_start("incremental", at(11)).unwrap();
    s.apply_page(Some(a), at(12), &keys_named("k", 0..500))
        .unwrap();
    s.apply_page(Some(b), at(13), &keys_named("k", 0..3000))
        .unwrap();
    s.apply_page(Some(a), at(14), &keys_named("k", 500..3000))
        .unwrap();
    // a finishes first, then b (and the other order is checked by the second pair below).
    assert_eq!(s.mark_gone(a).unwrap(), 1, "only the deleted key");
    assert_eq!(s.mark_gone(b).unwrap(), 0);
    assert_eq!(gone_count(&s), 1);
    assert!(s.key_states().unwrap()["deleted"].gone);

    let c = s.run_start("full", at(20)).unwrap();
    let d = s.run_start("full", at(21)).unwrap();
    s.apply_page(Some(d), at(22), &keys_named("k", 0..2000))
        .unwrap();
    s.apply_page(Some(c), at(23), &keys_named("k", 0..3000))
        .unwrap();
    s.apply_page(Some(d), at(24), &keys_named("k", 2000..3000))
        .unwrap();
    assert_eq!(s.mark_gone(d).unwrap(), 0);
    assert_eq!(s.mark_gone(c).unwrap(), 0);
    assert_eq!(gone_count(&s), 1);
}

/// A key written while a run lists (a create, a re-read) is not gone for that run, even
/// though its listing passed before the key existed.
#[test]
fn a_key_written_during_a_run_is_not_gone_for_it() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let r1 = s.run_start("incremental", t0()).unwrap();
    s.apply_page(Some(r1), t0(), &keys_named("k", 0..3))
        .unwrap();
    let r2 = s
        .run_start("incremental", t0() + Duration::seconds(10))
        .unwrap();
    s.apply_page(
        None,
        t0() + Duration::seconds(11),
        &[detail(key("new", Some(0), None))],
    )
    .unwrap();
    s.apply_page(
        Some(r2),
        t0() + Duration::seconds(12),
        &keys_named("k", 0..3),
    )
    .unwrap();
    assert_eq!(s.mark_gone(r2).unwrap(), 0);
    // The next run that does not list it marks it gone.
    let r3 = s
        .run_start("incremental", t0() + Duration::seconds(20))
        .unwrap();
    s.apply_page(
        Some(r3),
        t0() + Duration::seconds(21),
        &keys_named("k", 0..3),
    )
    .unwrap();
    assert_eq!(s.mark_gone(r3).unwrap(), 1);
}

#[test]
fn sync_lock_excludes_a_second_holder_and_is_released_on_drop() {
    let mem = SqliteStore::open_in_memory("p").unwrap();
    assert!(mem.sync_lock_path().is_none());
    let held = mem.try_lock_sync().unwrap().expect("free");
    assert!(mem.try_lock_sync().unwrap().is_none());
    drop(held);
    assert!(mem.try_lock_sync().unwrap().is_some());

    // Two handles on one file, as two processes (or the app and a reconcile) would have.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DB_FILE);
    let one = SqliteStore::open(&db, "prod").unwrap();
    let two = SqliteStore::open(&db, "prod").unwrap();
    let other_profile = SqliteStore::open(&db, "staging").unwrap();
    let path = one.sync_lock_path().unwrap();
    assert_eq!(path.parent(), db.parent());
    assert_eq!(path.file_name().unwrap(), "keyward.db.sync-prod.lock");
    let held = one.try_lock_sync().unwrap().expect("free");
    assert!(two.try_lock_sync().unwrap().is_none());
    assert!(
        other_profile.try_lock_sync().unwrap().is_some(),
        "one lock per profile"
    );
    drop(held);
    assert!(two.try_lock_sync().unwrap().is_some());
}

/// A `running` row with no sync holding the lock is a dead process's run: `runs` says
/// `interrupted` (and records it); while the lock is held it stays `running`.
#[test]
fn running_runs_without_the_lock_are_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DB_FILE);
    let s = SqliteStore::open(&db, "p").unwrap();
    let dead = s.run_start("incremental", t0()).unwrap();
    let other = SqliteStore::open(&db, "p").unwrap();
    let held = other.try_lock_sync().unwrap().unwrap();
    let live = other
        .run_start("full", t0() + Duration::seconds(5))
        .unwrap();
    // Someone holds the lock: the rows may be alive, nothing changes.
    let runs = s.runs(10).unwrap();
    assert!(runs.iter().all(|r| r.status == "running"), "{runs:?}");
    other
        .run_update(
            live,
            &RunProgress::default(),
            Some(("ok", t0() + Duration::seconds(6), 1000)),
        )
        .unwrap();
    drop(held);
    let runs = s.runs(10).unwrap();
    let status = |id| runs.iter().find(|r| r.id == id).unwrap().status.clone();
    assert_eq!(status(dead), INTERRUPTED);
    assert_eq!(status(live), "ok");
    let dead_row = runs.iter().find(|r| r.id == dead).unwrap();
    assert_eq!(dead_row.finished_at, None, "when it died is not known");
    // Recorded, not only shown.
    assert_eq!(s.runs_as_recorded(10).unwrap()[1].status, INTERRUPTED);
    // The lock is free again after the look.
    assert!(s.try_lock_sync().unwrap().is_some());
}

/// The rev of key `id` (its row's change cursor).
fn rev_of(s: &SqliteStore, id: &str) -> i64 {
    s.with_conn(|c| {
        c.query_row(
            "SELECT rev FROM keys WHERE profile = ?1 AND id = ?2",
            rusqlite::params![s.profile, id],
            |r| r.get(0),
        )
    })
    .unwrap()
}

#[test]
fn every_visible_change_gives_the_row_a_new_rev_and_nothing_else_does() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    assert_eq!(s.current_rev().unwrap(), 0);
    let out = s
        .apply_listing(Some(1), t0(), &[listed(key("a", None, None)).key], false)
        .unwrap();
    assert_eq!(out.new, 1);
    let r1 = rev_of(&s, "a");
    assert!(r1 > 0);
    assert_eq!(out.rev, r1);
    let v = s.get_key("a", t0()).unwrap().unwrap();
    assert!(v.details_owed, "listed, details owed");
    assert_eq!(v.key.verification_count, None, "never a made-up 0");

    // The same listing again (an idle sync): no new rev.
    let a = listed(key("a", None, None)).key;
    s.apply_listing(Some(2), t0(), std::slice::from_ref(&a), false)
        .unwrap();
    assert_eq!(rev_of(&s, "a"), r1);
    assert_eq!(s.current_rev().unwrap(), r1);

    // Each visible change moves it, and the store's cursor with it.
    let mut last = r1;
    let mut step = |what: &str, f: &dyn Fn(&SqliteStore)| {
        f(&s);
        let r = rev_of(&s, "a");
        assert!(r > last, "{what}: {r} after {last}");
        assert_eq!(s.current_rev().unwrap(), r, "{what}");
        last = r;
    };
    step("detail", &|s| {
        let o = s.apply_details(t0(), &[key("a", Some(3), None)]).unwrap();
        assert_eq!(o.history_rows, 1);
    });
    step("names", &|s| {
        s.set_names(&[("a".into(), Some("Org A".into()), None)])
            .unwrap();
    });
    step("rename in the listing", &|s| {
        let mut k = listed(key("a", None, None)).key;
        k.name = "renamed".into();
        s.apply_listing(Some(3), t0(), &[k], false).unwrap();
    });
    step("rotated", &|s| {
        s.set_rotated_on("a", t0()).unwrap();
    });
    step("status", &|s| {
        s.set_status("a", KeyStatus::Revoked, t0()).unwrap();
    });
    step("gone", &|s| {
        s.mark_gone_ids(&["a".into()]).unwrap();
    });
    step("owed again (full sync)", &|s| {
        let mut k = listed(key("a", None, None)).key;
        k.name = "renamed".into();
        k.status = KeyStatus::Revoked;
        s.apply_listing(Some(4), t0(), &[k], true).unwrap();
    });
    // Another key's write moves the cursor but not this row.
    let before = rev_of(&s, "a");
    s.apply_listing(Some(5), t0(), &[listed(key("b", None, None)).key], false)
        .unwrap();
    assert_eq!(rev_of(&s, "a"), before);
    assert!(rev_of(&s, "b") > before);
}

#[test]
fn keys_changed_since_gives_the_changed_rows_gone_ones_included() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    s.apply_page(
        Some(1),
        t0(),
        &[
            detail(key("a", Some(1), None)),
            detail(key("b", Some(1), None)),
            detail(key("c", Some(1), None)),
        ],
    )
    .unwrap();
    let (rev, all) = s.keys_changed_since(0, t0()).unwrap();
    assert_eq!(all.len(), 3, "since 0: every key");
    assert_eq!(rev, s.current_rev().unwrap());
    assert!(all.iter().all(|k| !k.details_owed));
    let (same, none) = s.keys_changed_since(rev, t0()).unwrap();
    assert_eq!((same, none.len()), (rev, 0));

    // b verified, c gone: exactly those two come back, c with gone = true.
    s.apply_page(
        Some(2),
        t0() + Duration::minutes(5),
        &[
            detail(key("a", Some(1), None)),
            detail(key("b", Some(4), Some(t0()))),
        ],
    )
    .unwrap();
    s.mark_gone(2).unwrap();
    let (rev2, changed) = s.keys_changed_since(rev, t0()).unwrap();
    assert!(rev2 > rev);
    let ids: Vec<(&str, bool)> = changed
        .iter()
        .map(|k| (k.key.id.as_str(), k.gone))
        .collect();
    assert_eq!(ids, [("b", false), ("c", true)]);
    assert_eq!(changed[0].key.verification_count, Some(4));
    assert_eq!(changed[0].spark_7d.iter().sum::<i64>(), 3);
}

#[test]
fn a_schema_3_database_gets_revs_for_its_keys() {
    let mut c = Connection::open_in_memory().unwrap();
    for m in &MIGRATIONS[..3] {
        c.execute_batch(m).unwrap();
    }
    c.execute_batch(
        "PRAGMA user_version = 3; \
         INSERT INTO keys (kid, profile, id, name, key_type, status, key_prefix, first_seen, \
         last_synced) VALUES (1, 'p', 'k1', 'n', 'user', 'active', 'kk', 0, 0), \
         (2, 'p', 'k2', 'n', 'user', 'active', 'kk', 0, 0);",
    )
    .unwrap();
    migrate(&mut c).unwrap();
    let s = store_over(c);
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    let (rev, keys) = s.keys_changed_since(0, t0()).unwrap();
    assert_eq!(keys.len(), 2, "existing rows are above 0");
    assert_eq!(rev, 2);
    assert!(rev_of(&s, "k1") != rev_of(&s, "k2"));
    s.set_names(&[("k1".into(), Some("x".into()), None)])
        .unwrap();
    assert_eq!(
        rev_of(&s, "k1"),
        3,
        "the counter continues after the old rows"
    );
}

#[test]
fn audit_rows_written_as_migration_close_read_as_handover_close() {
    let mut c = Connection::open_in_memory().unwrap();
    for m in &MIGRATIONS[..4] {
        c.execute_batch(m).unwrap();
    }
    c.execute_batch(
        "PRAGMA user_version = 4; \
         INSERT INTO audit (at, profile, action, key_id, outcome, details) \
         VALUES (1, 'p', 'migration_close', 'k1', 'ok', '{}');",
    )
    .unwrap();
    migrate(&mut c).unwrap();
    let s = store_over(c);
    let rows = s.audit_list(&AuditFilter::default()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].action, AuditAction::HandoverClose);
    assert_eq!(
        AuditAction::parse("migration_close").unwrap(),
        AuditAction::HandoverClose
    );
    assert_eq!(AuditAction::HandoverClose.as_str(), "handover_close");
}

/// A store over a connection migrated by hand (profile `p`, in memory).
fn store_over(c: Connection) -> SqliteStore {
    SqliteStore {
        conn: Mutex::new(c),
        profile: "p".into(),
        path: None,
        sync_flag: Default::default(),
    }
}
