//! The store contract as one test suite, run against every backend: SQLite here (real files
//! in a temporary directory), PostgreSQL in keyward-server (a real throwaway cluster).
//!
//! Each test is a function over a [`ContractDb`], a fresh database that hands out store
//! handles; [`store_contract_tests!`](crate::store_contract_tests) turns every one of them
//! into a `#[test]` of the crate that invokes it:
//!
//! ```ignore
//! keyward_core::store_contract_tests!(MyDb::fresh());
//! ```
//!
//! The tests speak only through the [`Store`] trait. Compiled for core's own tests and, with
//! the cargo feature `store-contract`, for other crates' tests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test suite: a failure is a panic"
)]

use std::cell::RefCell;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use super::{
    INTERRUPTED, PageEntry, PageOutcome, PrefillOutcome, RawHistoryRow, RunProgress, Store, to_ms,
};
use crate::error::{Error, ErrorCode};
use crate::model::alert::{AlertFilter, AlertKind, MuteTarget, Policy};
use crate::model::audit::{AuditAction, AuditClose, AuditFilter, AuditOutcome, NewAudit};
use crate::model::history::Bucket;
use crate::model::key::{
    ApiKey, KeyFilter, KeyFlag, KeySortKey, KeyStatus, KeyType, KeyWindow, KeyWindowQuery, SortDir,
};

/// A fresh, empty database for one contract test. Every `open` is a new handle on the same
/// database (as another process, or another replica, would have), for `profile`.
pub trait ContractDb {
    fn open(&self, profile: &str) -> Arc<dyn Store>;
}

/// Makes one `#[test]` per contract test, each over a fresh database from `$make` (an
/// expression giving a [`ContractDb`], evaluated once per test).
#[macro_export]
macro_rules! store_contract_tests {
    ($make:expr) => {
        $crate::store_contract_tests!(@each $make;
            no_history_row_when_nothing_changed,
            listing_change_without_detail_is_remembered,
            counter_reset_counts_as_zero_and_buckets_fill,
            gone_keys_are_marked_and_come_back,
            list_filters_and_sparkline,
            audit_and_reissues_round_trip,
            runs_are_recorded,
            overlapping_runs_never_mark_a_listed_key_gone,
            a_key_written_during_a_run_is_not_gone_for_it,
            sync_lock_excludes_a_second_holder_and_is_released_on_drop,
            running_runs_without_the_lock_are_interrupted,
            every_visible_change_gives_the_row_a_new_rev_and_nothing_else_does,
            keys_changed_since_gives_the_changed_rows_gone_ones_included,
            demo_prefill_writes_marked_rows_once_and_only_before_real_history,
            set_status_revoked_closes_the_handover_and_writes_one_history_row,
            mutes_acks_policy_and_key_meta_round_trip,
            reissue_deadline_is_kept_on_the_open_link,
            ambiguous_create_is_reconciled_once_from_the_cache,
            a_pending_intent_is_closed_once_with_the_answer,
            a_pending_intent_never_closed_is_reconciled_as_keywards_own,
            a_fresh_store_is_sound_and_empty,
            roll_up_keeps_every_total_and_chart,
            the_alert_evidence_outlives_the_raw_rows,
            keys_window_pages_in_order_with_ties_by_id,
            keys_window_search_is_the_search_rule,
            keys_window_filters_flags_and_counts,
            keys_window_follows_a_change_with_its_rev,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let db = $make;
                $crate::store::contract_suite::$name(&db);
            }
        )*
    };
}

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

fn keys_named(prefix: &str, range: std::ops::Range<usize>) -> Vec<PageEntry> {
    range
        .map(|i| listed(key(&format!("{prefix}{i:05}"), Some(1), None)))
        .collect()
}

fn gone_count(s: &dyn Store) -> usize {
    s.key_states().unwrap().values().filter(|k| k.gone).count()
}

/// Ids of the keys changed since `since` (by the change cursor), in rev order.
fn changed_ids(s: &dyn Store, since: i64) -> (i64, Vec<String>) {
    let (rev, keys) = s.keys_changed_since(since, t0()).unwrap();
    (rev, keys.into_iter().map(|k| k.key.id).collect())
}

pub fn no_history_row_when_nothing_changed(db: &dyn ContractDb) {
    let s = db.open("p");
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
    assert_eq!(s.verifications_after("a", t0()).unwrap(), 4);
    let all = s.all_history().unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|(id, _)| id == "a"));
}

pub fn listing_change_without_detail_is_remembered(db: &dyn ContractDb) {
    let s = db.open("p");
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
    assert_eq!(s.owed_details().unwrap(), vec!["a".to_string()]);
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
    assert!(s.owed_details().unwrap().is_empty());
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

pub fn counter_reset_counts_as_zero_and_buckets_fill(db: &dyn ContractDb) {
    let s = db.open("p");
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
    let totals = s.daily_totals(t0() - Duration::days(2), t0()).unwrap();
    assert_eq!(
        totals.iter().map(|b| b.verifications).collect::<Vec<_>>(),
        vec![0, 0, 10]
    );
    let kid = s.kid_of("a").unwrap().unwrap();
    assert_eq!(
        s.recent_verifications(t0() - Duration::days(1))
            .unwrap()
            .get(&kid),
        Some(&10)
    );
    assert_eq!(s.kid_of("nope").unwrap(), None);
    let e = s
        .key_history("nope", Bucket::Day, t0() - Duration::days(1), t0())
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
}

pub fn gone_keys_are_marked_and_come_back(db: &dyn ContractDb) {
    let s = db.open("p");
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
    assert_eq!(all.last().unwrap().key.id, "b", "gone keys last");
    s.apply_page(Some(3), t0(), &[listed(key("b", Some(1), None))])
        .unwrap();
    assert!(!s.get_key("b", t0()).unwrap().unwrap().gone);
    assert_eq!(s.mark_gone_ids(&["a".into(), "zz".into()]).unwrap(), 1);
    assert!(s.get_key("a", t0()).unwrap().unwrap().gone);
}

pub fn list_filters_and_sparkline(db: &dyn ContractDb) {
    let s = db.open("p");
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
    let both = s.list_keys(&f, now).unwrap();
    assert_eq!(both.len(), 2);
    assert_eq!(both[0].key.id, "b_100%", "newest first");
    let f = KeyFilter {
        api_id: Some("api_2".into()),
        ..Default::default()
    };
    assert_eq!(s.list_keys(&f, now).unwrap().len(), 0);
    let f = KeyFilter {
        org_code: Some("org_a".into()),
        status: Some(KeyStatus::Active),
        key_type: Some(KeyType::Organization),
        ..Default::default()
    };
    assert_eq!(s.list_keys(&f, now).unwrap().len(), 2);
    let f = KeyFilter {
        user_id: Some("u_1".into()),
        ..Default::default()
    };
    assert_eq!(s.list_keys(&f, now).unwrap().len(), 0);
    let spark = s.spark_7d(now).unwrap();
    assert_eq!(
        spark
            .get(&s.kid_of("a").unwrap().unwrap())
            .unwrap()
            .iter()
            .sum::<i64>(),
        3
    );
    let all = s.all_keys().unwrap();
    assert_eq!(
        all.iter()
            .map(|k| k.view.key.id.as_str())
            .collect::<Vec<_>>(),
        ["a", "b_100%"],
        "by id"
    );
    // Names: what is missing, then set.
    let missing = s.keys_missing_names().unwrap();
    assert_eq!(missing.len(), 2);
    assert_eq!(missing[0].api_ids, vec!["api_1".to_string()]);
    s.set_names(&[("a".into(), Some("Org A".into()), Some("API one".into()))])
        .unwrap();
    let a = s.get_key("a", now).unwrap().unwrap();
    assert_eq!(
        (a.owner_name.as_deref(), a.api_name.as_deref()),
        (Some("Org A"), Some("API one"))
    );
    assert_eq!(s.keys_missing_names().unwrap().len(), 1);
}

pub fn audit_and_reissues_round_trip(db: &dyn ContractDb) {
    let s = db.open("prod");
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
            actor: None,
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
            actor: Some("bob@example.com"),
        },
    )
    .unwrap();
    s.audit_append(
        t0() + Duration::seconds(2),
        &NewAudit {
            action: AuditAction::Reissue,
            key_id: Some("k0"),
            key_name: None,
            outcome: AuditOutcome::Ok,
            error: None,
            details: json!({"new_id": "k1"}),
            actor: None,
        },
    )
    .unwrap();
    let all = s.audit_list(&AuditFilter::default()).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].action, AuditAction::Reissue);
    assert_eq!(all[1].action, AuditAction::Revoke);
    assert_eq!(all[1].details, json!({}));
    // The member who did it (a Keyward Server request), and no one for the others.
    assert_eq!(all[1].actor.as_deref(), Some("bob@example.com"));
    assert_eq!(
        (all[0].actor.as_deref(), all[2].actor.as_deref()),
        (None, None)
    );
    assert_eq!(all[2].error_code.as_deref(), Some("missing_scope"));
    assert_eq!(
        all[2].error_message.as_deref(),
        Some("needs create:api_keys")
    );
    assert_eq!(all[2].details["scopes"][0], "read");
    let failed = s
        .audit_list(&AuditFilter {
            outcome: Some(AuditOutcome::Failed),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(failed.len(), 1);
    // A key's rows include the re-issue that made it.
    let k1 = s
        .audit_list(&AuditFilter {
            key_id: Some("k1".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(k1.len(), 2);
    let limited = s
        .audit_list(&AuditFilter {
            since: Some(t0() + Duration::seconds(1)),
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].action, AuditAction::Reissue);
    // Another profile sees none of it.
    let other = db.open("dev");
    assert!(
        other
            .audit_list(&AuditFilter::default())
            .unwrap()
            .is_empty()
    );

    other.reissue_open("old", "new", t0(), Some(7)).unwrap();
    other.reissue_open("old", "new", t0(), Some(7)).unwrap();
    let open = other.reissues(true).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].old_count_at_open, Some(7));
    assert!(s.reissues(false).unwrap().is_empty());
    assert_eq!(other.reissue_close("old", t0()).unwrap().len(), 1);
    assert!(other.reissues(true).unwrap().is_empty());
    assert_eq!(other.reissues(false).unwrap().len(), 1);
    assert_eq!(other.reissues(false).unwrap()[0].closed_at, Some(t0()));
}

pub fn runs_are_recorded(db: &dyn ContractDb) {
    let s = db.open("p");
    assert_eq!(s.last_sync_at().unwrap(), None);
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
    assert_eq!(r.errors, vec!["boom".to_string()]);
    assert_eq!(r.duration_ms, Some(2000));
    assert_eq!(s.last_sync_at().unwrap(), Some(t0() + Duration::seconds(2)));
    // A later run that listed everything, then failed in its details, counts as listed.
    let later = s.run_start("full", t0() + Duration::seconds(10)).unwrap();
    s.run_listed(later, t0() + Duration::seconds(11)).unwrap();
    s.run_update(
        later,
        &RunProgress::default(),
        Some(("failed", t0() + Duration::seconds(12), 2000)),
    )
    .unwrap();
    assert_eq!(
        s.last_sync_at().unwrap(),
        Some(t0() + Duration::seconds(11))
    );
    assert_eq!(s.runs_as_recorded(1).unwrap()[0].id, later, "newest first");
}

/// Two runs whose listings interleave (what two syncs at once did): each run's pages overwrite
/// the other's `seen_run`. Neither may mark a listed key gone; a key neither saw still is.
pub fn overlapping_runs_never_mark_a_listed_key_gone(db: &dyn ContractDb) {
    let s = db.open("p");
    let s = s.as_ref();
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
    assert_eq!(s.mark_gone(a).unwrap(), 1, "only the deleted key");
    assert_eq!(s.mark_gone(b).unwrap(), 0);
    assert_eq!(gone_count(s), 1);
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
    assert_eq!(gone_count(s), 1);
}

/// A key written while a run lists (a create, a re-read) is not gone for that run, even
/// though its listing passed before the key existed.
pub fn a_key_written_during_a_run_is_not_gone_for_it(db: &dyn ContractDb) {
    let s = db.open("p");
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

/// One sync per profile at a time, across handles (processes, replicas): the second
/// `try_lock_sync` gets `None`; dropping the guard releases the lock; profiles are apart.
pub fn sync_lock_excludes_a_second_holder_and_is_released_on_drop(db: &dyn ContractDb) {
    let one = db.open("prod");
    let two = db.open("prod");
    let other_profile = db.open("staging");
    let held = one.try_lock_sync().unwrap().expect("free");
    assert!(two.try_lock_sync().unwrap().is_none());
    assert!(one.try_lock_sync().unwrap().is_none(), "not re-entrant");
    let staging = other_profile.try_lock_sync().unwrap();
    assert!(staging.is_some(), "one lock per profile");
    drop(held);
    let again = two.try_lock_sync().unwrap();
    assert!(again.is_some(), "released on drop");
    assert!(one.try_lock_sync().unwrap().is_none());
    drop(again);
    drop(staging);
    assert!(other_profile.try_lock_sync().unwrap().is_some());
}

/// A `running` row with no sync holding the lock is a dead process's run: `runs` says
/// `interrupted` (and records it); while the lock is held it stays `running`.
pub fn running_runs_without_the_lock_are_interrupted(db: &dyn ContractDb) {
    let s = db.open("p");
    let dead = s.run_start("incremental", t0()).unwrap();
    let other = db.open("p");
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
    let lock = s.try_lock_sync().unwrap().expect("free after the look");
    // Held: marking the dead is the holder's to do, and touches no other profile.
    let elsewhere = db.open("q");
    let q_run = elsewhere.run_start("full", t0()).unwrap();
    assert_eq!(s.runs_interrupt_dead(&lock).unwrap(), 0);
    assert_eq!(elsewhere.runs_as_recorded(1).unwrap()[0].id, q_run);
    assert_eq!(elsewhere.runs_as_recorded(1).unwrap()[0].status, "running");
}

pub fn every_visible_change_gives_the_row_a_new_rev_and_nothing_else_does(db: &dyn ContractDb) {
    let s = db.open("p");
    let s = s.as_ref();
    assert_eq!(s.current_rev().unwrap(), 0);
    let out = s
        .apply_listing(Some(1), t0(), &[listed(key("a", None, None)).key], false)
        .unwrap();
    assert_eq!(out.new, 1);
    let r1 = s.current_rev().unwrap();
    assert!(r1 > 0);
    assert_eq!(out.rev, r1);
    assert_eq!(changed_ids(s, 0), (r1, vec!["a".to_string()]));
    let v = s.get_key("a", t0()).unwrap().unwrap();
    assert!(v.details_owed, "listed, details owed");
    assert_eq!(v.key.verification_count, None, "never a made-up 0");

    // The same listing again (an idle sync): no new rev.
    let a = listed(key("a", None, None)).key;
    s.apply_listing(Some(2), t0(), std::slice::from_ref(&a), false)
        .unwrap();
    assert_eq!(changed_ids(s, r1), (r1, vec![]));

    // Each visible change moves it, and the store's cursor with it.
    let step = |what: &str, f: &dyn Fn(&dyn Store)| {
        let before = s.current_rev().unwrap();
        f(s);
        let (after, ids) = changed_ids(s, before);
        assert!(after > before, "{what}: {after} after {before}");
        assert_eq!(ids, vec!["a".to_string()], "{what}");
    };
    step("detail", &|s| {
        let o = s.apply_details(t0(), &[key("a", Some(3), None)]).unwrap();
        assert_eq!(o.history_rows, 1);
        assert_eq!(o.rev, s.current_rev().unwrap());
    });
    step("names", &|s| {
        s.set_names(&[("a".into(), Some("Org A".into()), None)])
            .unwrap();
    });
    step("rename in the listing", &|s| {
        let mut k = listed(key("a", None, None)).key;
        k.name = "renamed".into();
        let o = s.apply_listing(Some(3), t0(), &[k], false).unwrap();
        assert_eq!(o.new, 0);
    });
    step("rotated", &|s| {
        assert!(s.set_rotated_on("a", t0()).unwrap());
    });
    step("status", &|s| {
        assert!(s.set_status("a", KeyStatus::Revoked, t0()).unwrap());
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
    // Writes that change nothing visible give no rev.
    let before = s.current_rev().unwrap();
    s.set_names(&[("a".into(), Some("Org A".into()), None)])
        .unwrap();
    assert!(!s.set_rotated_on("missing", t0()).unwrap());
    assert_eq!(changed_ids(s, before), (before, vec![]));
    // Another key's write moves the cursor but not this row.
    s.apply_listing(Some(5), t0(), &[listed(key("b", None, None)).key], false)
        .unwrap();
    let (after, ids) = changed_ids(s, before);
    assert!(after > before);
    assert_eq!(ids, vec!["b".to_string()]);
}

pub fn keys_changed_since_gives_the_changed_rows_gone_ones_included(db: &dyn ContractDb) {
    let s = db.open("p");
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

pub fn demo_prefill_writes_marked_rows_once_and_only_before_real_history(db: &dyn ContractDb) {
    const DAY_MS: i64 = 86_400_000;
    let s = db.open("p");
    let now = t0();
    let lvo = Some(now - Duration::minutes(5));
    s.apply_page(Some(1), now, &[detail(key("a", Some(50), lvo))])
        .unwrap();
    s.apply_page(Some(1), now, &[detail(key("zero", Some(0), None))])
        .unwrap();
    let kid = s.kid_of("a").unwrap().unwrap();
    let seen = RefCell::new(Vec::new());
    let out = s
        .prefill_demo_history(now - Duration::days(1), &|anchors| {
            *seen.borrow_mut() = anchors.to_vec();
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
    let seen = seen.into_inner();
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
        .prefill_demo_history(now + Duration::days(2), &|_| panic!("not asked"))
        .unwrap();
    assert_eq!(again, PrefillOutcome::HasHistory);
    assert_eq!(
        s.history_len().unwrap(),
        3,
        "two observed rows and one demo row"
    );

    // A row at or after a key's first real row is refused, and nothing is written.
    let t = db.open("p2");
    t.apply_page(Some(1), now, &[detail(key("a", Some(50), lvo))])
        .unwrap();
    let kid = t.kid_of("a").unwrap().unwrap();
    let e = t
        .prefill_demo_history(now - Duration::days(1), &|_| {
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
    let u = db.open("p3");
    let none = u.prefill_demo_history(now, &|_| Vec::new()).unwrap();
    assert_eq!(none, PrefillOutcome::NothingToAnchor);
}

/// A revoke seen by Keyward: one history row now, the handover of a re-issue closed and
/// audited in the same write, and the next sync's identical status records nothing twice.
pub fn set_status_revoked_closes_the_handover_and_writes_one_history_row(db: &dyn ContractDb) {
    let s = db.open("p");
    s.apply_page(Some(1), t0(), &[detail(key("old", Some(3), None))])
        .unwrap();
    s.reissue_open("old", "new", t0(), Some(3)).unwrap();
    assert!(
        s.set_status("old", KeyStatus::Revoked, t0() + Duration::minutes(1))
            .unwrap()
    );
    assert_eq!(s.history_len().unwrap(), 2);
    assert!(s.reissues(true).unwrap().is_empty());
    let closes = s
        .audit_list(&AuditFilter {
            action: Some(AuditAction::HandoverClose),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].key_id.as_deref(), Some("old"));
    assert_eq!(closes[0].details["new_id"], "new");
    // Again: nothing new.
    assert!(
        s.set_status("old", KeyStatus::Revoked, t0() + Duration::minutes(2))
            .unwrap()
    );
    assert_eq!(s.history_len().unwrap(), 2);
    // The sync that then sees it revoked writes no second row either.
    let mut revoked = key("old", Some(3), None);
    revoked.status = KeyStatus::Revoked;
    let out = s
        .apply_page(Some(2), t0() + Duration::minutes(5), &[detail(revoked)])
        .unwrap();
    assert_eq!(out.history_rows, 0);
    assert!(!s.set_status("unknown", KeyStatus::Revoked, t0()).unwrap());
}

pub fn mutes_acks_policy_and_key_meta_round_trip(db: &dyn ContractDb) {
    let s = db.open("p");
    assert_eq!(s.policy().unwrap(), None);
    let p = Policy {
        max_key_age_days: 90,
        warning_days: 14,
        stale_days: 30,
        dormant_days: 60,
        spike_factor: 2.5,
        spike_floor: 100,
    };
    s.set_policy(&p).unwrap();
    assert_eq!(s.policy().unwrap(), Some(p));
    let p2 = Policy {
        spike_factor: 4.0,
        ..p
    };
    s.set_policy(&p2).unwrap();
    assert_eq!(s.policy().unwrap(), Some(p2));
    assert_eq!(db.open("other").policy().unwrap(), None);

    assert!(!s.key_meta_of("k1").unwrap().canary);
    assert!(s.set_canary("k1", true).unwrap().canary);
    let on = t0() + Duration::days(30);
    assert_eq!(
        s.set_expires_on("k2", Some(on)).unwrap().expires_on,
        Some(on)
    );
    let metas = s.key_metas().unwrap();
    assert_eq!(
        metas.iter().map(|m| m.key_id.as_str()).collect::<Vec<_>>(),
        ["k1", "k2"]
    );
    s.set_canary("k1", false).unwrap();
    s.set_expires_on("k2", None).unwrap();
    assert!(s.key_metas().unwrap().is_empty());

    let kind = MuteTarget::Kind {
        kind: AlertKind::Drift,
    };
    let key = MuteTarget::Key {
        key_id: "k1".into(),
    };
    assert_eq!(s.alert_mute(&kind, t0()).unwrap(), 0);
    assert_eq!(s.alert_mute(&kind, t0()).unwrap(), 0, "idempotent");
    s.alert_mute(&key, t0() + Duration::seconds(1)).unwrap();
    let mutes = s.alert_mutes().unwrap();
    assert_eq!(mutes.len(), 2);
    assert_eq!(mutes[0].target, kind);
    assert_eq!(mutes[1].target, key);
    assert!(s.alert_unmute(&kind).unwrap());
    assert!(!s.alert_unmute(&kind).unwrap());
    assert_eq!(s.alert_mutes().unwrap().len(), 1);

    let list = s.alerts_list(&AlertFilter::default()).unwrap();
    assert!(list.alerts.is_empty());
    assert_eq!((list.open_high, list.open_total), (0, 0));
    let e = s.alert_ack(12345, t0()).unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
}

pub fn reissue_deadline_is_kept_on_the_open_link(db: &dyn ContractDb) {
    let s = db.open("p");
    s.reissue_open("old", "new", t0(), None).unwrap();
    let at = t0() + Duration::hours(24);
    assert!(s.reissue_set_deadline("old", "new", Some(at)).unwrap());
    assert_eq!(s.reissues(true).unwrap()[0].old_expires_at, Some(at));
    assert!(!s.reissue_set_deadline("old", "other", Some(at)).unwrap());
    assert!(s.reissue_set_deadline("old", "new", None).unwrap());
    assert_eq!(s.reissues(true).unwrap()[0].old_expires_at, None);
    s.reissue_close("old", t0()).unwrap();
    assert!(
        !s.reissue_set_deadline("old", "new", Some(at)).unwrap(),
        "closed: no deadline"
    );
}

/// An ambiguous create (the answer was lost) is answered once from the synced cache.
pub fn ambiguous_create_is_reconciled_once_from_the_cache(db: &dyn ContractDb) {
    let s = db.open("p");
    let at = t0();
    let id = s
        .audit_append(
            at,
            &NewAudit {
                action: AuditAction::Create,
                key_id: None,
                key_name: Some("name made"),
                outcome: AuditOutcome::Ambiguous,
                error: None,
                details: json!({}),
                actor: None,
            },
        )
        .unwrap();
    s.audit_append(
        at,
        &NewAudit {
            action: AuditAction::Revoke,
            key_id: Some("gone_key"),
            key_name: None,
            outcome: AuditOutcome::Ambiguous,
            error: None,
            details: json!({}),
            actor: None,
        },
    )
    .unwrap();
    assert_eq!(s.ambiguous_pending().unwrap().len(), 2);
    assert_eq!(s.ambiguous_pending().unwrap()[0].id, id, "oldest first");
    let mut made = key("made", Some(0), None);
    made.created_on = Some(at + Duration::seconds(1));
    s.apply_page(Some(1), at + Duration::minutes(1), &[detail(made)])
        .unwrap();
    let rows = s.reconcile_from_cache(at + Duration::minutes(2)).unwrap();
    assert_eq!(rows.len(), 2);
    let create = rows
        .iter()
        .find(|r| r.details["reconciles"] == json!(id))
        .unwrap();
    assert_eq!(create.details["found"], "created");
    assert_eq!(create.details["key_ids"], json!(["made"]));
    assert_eq!(create.key_id.as_deref(), Some("made"));
    let revoke = rows.iter().find(|r| r.details["of"] == "revoke").unwrap();
    assert_eq!(revoke.details["found"], "unknown");
    assert!(s.ambiguous_pending().unwrap().is_empty());
    assert!(
        s.reconcile_from_cache(at + Duration::minutes(3))
            .unwrap()
            .is_empty(),
        "answered once"
    );
}

fn pending<'a>(action: AuditAction, key_id: Option<&'a str>, name: &'a str) -> NewAudit<'a> {
    NewAudit {
        action,
        key_id,
        key_name: Some(name),
        outcome: AuditOutcome::Pending,
        error: None,
        details: json!({"api_id": "api_1"}),
        actor: None,
    }
}

/// An intent (`pending`) becomes `ok` with what Kinde returned, or `failed` with the error;
/// only a pending row of this profile can be closed, and only once.
pub fn a_pending_intent_is_closed_once_with_the_answer(db: &dyn ContractDb) {
    let s = db.open("p");
    let other = db.open("q");
    let create = s
        .audit_append(t0(), &pending(AuditAction::Create, None, "ci"))
        .unwrap();
    let rotate = s
        .audit_append(t0(), &pending(AuditAction::Rotate, Some("k1"), "old"))
        .unwrap();
    let rows = s
        .audit_list(&AuditFilter {
            outcome: Some(AuditOutcome::Pending),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        !other
            .audit_close(
                create,
                &AuditClose {
                    outcome: AuditOutcome::Ok,
                    key_id: Some("x"),
                    key_name: None,
                    error: None,
                    details: None,
                },
            )
            .unwrap(),
        "another profile's row is not closed"
    );
    assert!(
        s.audit_close(
            create,
            &AuditClose {
                outcome: AuditOutcome::Ok,
                key_id: Some("k_new"),
                key_name: None,
                error: None,
                details: Some(json!({"api_id": "api_1", "suffix": "ab12"})),
            },
        )
        .unwrap()
    );
    let err = Error::new(ErrorCode::NotFound, "no such key", "Sync.");
    assert!(
        s.audit_close(
            rotate,
            &AuditClose {
                outcome: AuditOutcome::Failed,
                key_id: None,
                key_name: None,
                error: Some(&err),
                details: None,
            },
        )
        .unwrap()
    );
    assert!(
        !s.audit_close(
            rotate,
            &AuditClose {
                outcome: AuditOutcome::Ok,
                key_id: None,
                key_name: None,
                error: None,
                details: None,
            },
        )
        .unwrap(),
        "closed once"
    );
    let all = s.audit_list(&AuditFilter::default()).unwrap();
    assert_eq!(all.len(), 2, "closing writes no new row");
    let c = all.iter().find(|r| r.id == create).unwrap();
    assert_eq!(c.outcome, AuditOutcome::Ok);
    assert_eq!(c.key_id.as_deref(), Some("k_new"));
    assert_eq!(c.key_name.as_deref(), Some("ci"), "kept when not given");
    assert_eq!(c.details["suffix"], "ab12");
    assert_eq!(c.error_code, None);
    let r = all.iter().find(|r| r.id == rotate).unwrap();
    assert_eq!(r.outcome, AuditOutcome::Failed);
    assert_eq!(r.key_id.as_deref(), Some("k1"));
    assert_eq!(r.error_code.as_deref(), Some(ErrorCode::NotFound.as_str()));
    assert_eq!(r.error_message.as_deref(), Some("no such key"));
    assert_eq!(r.details["api_id"], "api_1", "kept when not given");
    assert!(s.ambiguous_pending().unwrap().is_empty());
}

/// A pending row left open (the process died while Kinde answered) is reconciled once, as
/// an ambiguous one is.
pub fn a_pending_intent_never_closed_is_reconciled_as_keywards_own(db: &dyn ContractDb) {
    let s = db.open("p");
    let at = t0();
    let id = s
        .audit_append(at, &pending(AuditAction::Rotate, Some("k1"), "web"))
        .unwrap();
    let amb = s
        .audit_append(
            at + Duration::seconds(1),
            &NewAudit {
                outcome: AuditOutcome::Ambiguous,
                ..pending(AuditAction::Revoke, Some("k2"), "api")
            },
        )
        .unwrap();
    let open = s.ambiguous_pending().unwrap();
    assert_eq!(
        open.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![id, amb],
        "pending and ambiguous, oldest first"
    );
    s.apply_page(
        Some(1),
        at + Duration::minutes(1),
        &[detail(key("k1", Some(0), None))],
    )
    .unwrap();
    let rows = s.reconcile_from_cache(at + Duration::minutes(2)).unwrap();
    assert_eq!(rows.len(), 2);
    let r = rows
        .iter()
        .find(|r| r.details["reconciles"] == json!(id))
        .unwrap();
    assert_eq!(r.action, AuditAction::Reconcile);
    assert_eq!(r.details["of"], "rotate");
    assert!(s.ambiguous_pending().unwrap().is_empty());
    assert!(
        s.reconcile_from_cache(at + Duration::minutes(3))
            .unwrap()
            .is_empty(),
        "answered once"
    );
}

pub fn a_fresh_store_is_sound_and_empty(db: &dyn ContractDb) {
    let s = db.open("p");
    s.integrity_check().unwrap();
    assert!(s.schema_version().unwrap() > 0);
    assert_eq!(s.profile(), "p");
    assert!(s.key_states().unwrap().is_empty());
    assert!(s.list_keys(&KeyFilter::default(), t0()).unwrap().is_empty());
    assert_eq!(s.get_key("a", t0()).unwrap().map(|k| k.key.id), None);
    assert_eq!(s.history_len().unwrap(), 0);
    assert_eq!(s.current_rev().unwrap(), 0);
    assert!(s.runs(5).unwrap().is_empty());
    assert_eq!(s.last_sync_at().unwrap(), None);
    assert!(s.owed_details().unwrap().is_empty());
    fn check<T: Send + Sync>() {}
    check::<Arc<dyn Store>>();
}

/// Keys `a` (verified from three addresses in turn), `b` (one address) and `c` (never
/// verified; a status change only) with a sample every 2 hours (17 minutes past) from `days`
/// days before [`t0`] up to it, after a first sync an hour before. Returns that sync's time
/// (every key's first sample).
fn seed_old_history(s: &dyn Store, days: i64) -> i64 {
    let start = t0() - Duration::days(days);
    s.apply_page(
        Some(1),
        start - Duration::hours(1),
        &[
            detail(key("a", Some(0), None)),
            detail(key("b", Some(0), None)),
            detail(key("c", Some(0), None)),
        ],
    )
    .unwrap();
    let (a, b, c) = (
        s.kid_of("a").unwrap().unwrap(),
        s.kid_of("b").unwrap().unwrap(),
        s.kid_of("c").unwrap().unwrap(),
    );
    let first = to_ms(start) + 17 * 60_000;
    let mut rows = Vec::new();
    let (mut na, mut nb) = (0i64, 0i64);
    for i in 0..days * 12 {
        let at = first + i * 2 * 3_600_000;
        let da = (i * 7) % 5;
        na += da;
        rows.push(RawHistoryRow {
            kid: a,
            at,
            verification_count: Some(na),
            last_verified_on: Some(at - 60_000),
            last_verified_ip: Some(format!("198.51.100.{}", (i / 100) % 3)),
            status: KeyStatus::Active,
            delta: da,
        });
        if i % 5 == 0 {
            nb += 3;
            rows.push(RawHistoryRow {
                kid: b,
                at,
                verification_count: Some(nb),
                last_verified_on: Some(at - 1_000),
                last_verified_ip: Some("203.0.113.9".into()),
                status: KeyStatus::Active,
                delta: 3,
            });
        }
    }
    rows.push(RawHistoryRow {
        kid: c,
        at: first,
        verification_count: Some(0),
        last_verified_on: None,
        last_verified_ip: None,
        status: KeyStatus::Inactive,
        delta: 0,
    });
    for chunk in rows.chunks(2000) {
        s.bulk_insert_history(chunk).unwrap();
    }
    to_ms(start - Duration::hours(1))
}

/// Everything a chart, the insights or a total reads of history, at [`t0`].
#[derive(Debug, PartialEq)]
struct HistoryReads {
    totals: Vec<(i64, crate::model::history::HistoryTotals)>,
    days: Vec<Vec<i64>>,
    hours: Vec<Vec<i64>>,
    profile_days: Vec<i64>,
    recent: Vec<(i64, i64)>,
    after: Vec<i64>,
}

/// Asserts two [`HistoryReads`] equal, naming the first difference (not printing them whole);
/// the hourly series from bucket `hours_from` on (days folded into one count have no hours).
fn assert_same_reads(got: &HistoryReads, want: &HistoryReads, hours_from: usize) {
    assert_eq!(got.totals, want.totals, "totals");
    assert_eq!(got.recent, want.recent, "recent verifications");
    assert_eq!(got.after, want.after, "verifications after");
    let series = |name: &str, g: &[i64], w: &[i64]| {
        assert_eq!(g.len(), w.len(), "{name}: length");
        if let Some(i) = (0..g.len()).find(|&i| g[i] != w[i]) {
            panic!(
                "{name}: bucket {i} of {} is {} where it was {}",
                g.len(),
                g[i],
                w[i]
            );
        }
    };
    series("profile days", &got.profile_days, &want.profile_days);
    for k in 0..want.days.len() {
        series(&format!("key {k} days"), &got.days[k], &want.days[k]);
        series(
            &format!("key {k} hours"),
            &got.hours[k][hours_from..],
            &want.hours[k][hours_from..],
        );
    }
}

fn history_reads(s: &dyn Store) -> HistoryReads {
    let now = t0();
    let kids: Vec<i64> = ["a", "b", "c"]
        .iter()
        .map(|k| s.kid_of(k).unwrap().unwrap())
        .collect();
    let counts = |v: Vec<crate::model::history::BucketCount>| -> Vec<i64> {
        v.into_iter().map(|b| b.verifications).collect()
    };
    let mut totals: Vec<_> = s.history_totals().unwrap().into_iter().collect();
    totals.sort_by_key(|t| t.0);
    let mut recent: Vec<_> = s
        .recent_verifications(now - Duration::days(30))
        .unwrap()
        .into_iter()
        .collect();
    recent.sort();
    HistoryReads {
        totals,
        days: kids
            .iter()
            .map(|&k| {
                counts(
                    s.chart(k, Bucket::Day, now - Duration::days(500), now)
                        .unwrap(),
                )
            })
            .collect(),
        hours: kids
            .iter()
            .map(|&k| {
                counts(
                    s.chart(k, Bucket::Hour, now - Duration::days(200), now)
                        .unwrap(),
                )
            })
            .collect(),
        profile_days: counts(s.daily_totals(now - Duration::days(500), now).unwrap()),
        recent,
        // Whole days and hours (what the rules ask of old history), and one mid-hour.
        after: [400, 200, 95, 30, 0]
            .iter()
            .map(|d| now - Duration::days(*d) - Duration::hours(12))
            .chain([now - Duration::days(150) + Duration::minutes(17)])
            .map(|t| s.verifications_after("a", t).unwrap())
            .collect(),
    }
}

pub fn roll_up_keeps_every_total_and_chart(db: &dyn ContractDb) {
    let s = db.open("p");
    seed_old_history(s.as_ref(), 200);
    let before = history_reads(s.as_ref());
    assert!(before.totals.iter().all(|(_, t)| t.verifications >= 0));
    assert!(before.after[0] > before.after[2] && before.after[2] > 0);
    let rows_before = s.history_len().unwrap();
    let calls = RefCell::new(0u64);
    let sum = s
        .roll_up_history(t0(), 90, 100, &|p| {
            *calls.borrow_mut() = p.transactions;
            true
        })
        .unwrap();
    assert!(sum.ran);
    // 110 days of `a` (12 a day) and `b` (every fifth), whole days, 100 samples a batch.
    assert!(sum.samples_rolled > 1500, "{sum:?}");
    assert!(sum.transactions > 10, "{sum:?}");
    assert_eq!(*calls.borrow(), sum.transactions - 1);
    assert_eq!(sum.days_folded, 0);
    let rows_after = s.history_len().unwrap();
    assert_eq!(rows_after, rows_before - sum.samples_rolled as i64);
    assert_same_reads(&history_reads(s.as_ref()), &before, 0);
    // Raw points stay for the retention period; older ones are gone from the points.
    let h = s
        .key_history("a", Bucket::Day, t0() - Duration::days(150), t0())
        .unwrap();
    assert!(
        h.points[0].at >= t0() - Duration::days(91),
        "{:?}",
        h.points[0]
    );
    // `c`'s samples are all on the day of its newest: kept raw, so the next observation is
    // compared with it.
    let c = s
        .key_history("c", Bucket::Day, t0() - Duration::days(300), t0())
        .unwrap();
    assert_eq!(c.points.len(), 2);
    assert_eq!(c.points[1].status, "inactive");
    // Done for today: nothing runs again.
    let again = s.roll_up_history(t0(), 90, 100, &|_| true).unwrap();
    assert!(!again.ran);
    // 300 days on, the days older than a year (before t0 - 65 days) are folded into one count
    // each: the same reads, hours only where they are kept.
    let later = s
        .roll_up_history(t0() + Duration::days(300), 90, 1000, &|_| true)
        .unwrap();
    assert!(later.days_folded > 100, "{later:?}");
    let mut after_fold = history_reads(s.as_ref());
    // The mid-hour window (150 days back) now counts whole days only.
    assert!(after_fold.after.pop() < before.after.last().copied());
    let mut before = before;
    before.after.pop();
    assert_same_reads(&after_fold, &before, (200 - 64) * 24);
}

/// What the rules were told of key `a`: its addresses, where its history starts, and a
/// week's verifications 150 days back.
type Told = (std::collections::HashSet<String>, Option<i64>, i64);

/// What the alert rules are told about key `a` by a store, recorded by a probe.
struct EvidenceProbe {
    seen: RefCell<Vec<Told>>,
}

impl crate::model::alert::AlertRules for EvidenceProbe {
    fn raise(
        &self,
        key: &crate::model::alert::RuleKey,
        _meta: Option<&crate::model::alert::RuleMeta>,
        _cursor: Option<i64>,
        now: i64,
        ev: &dyn crate::model::alert::AlertEvidence,
    ) -> crate::error::Result<Vec<crate::model::alert::Raise>> {
        if key.id == "a" {
            let week = 7 * 86_400_000;
            let start = now - 150 * 86_400_000;
            self.seen.borrow_mut().push((
                ev.ips_until(now)?,
                ev.first_row_at()?,
                ev.verifications_between(start - start.rem_euclid(3_600_000), start + week)?,
            ));
        }
        Ok(Vec::new())
    }
}

pub fn the_alert_evidence_outlives_the_raw_rows(db: &dyn ContractDb) {
    let s = db.open("p");
    let first = seed_old_history(s.as_ref(), 200);
    let probe = EvidenceProbe {
        seen: RefCell::new(Vec::new()),
    };
    s.evaluate_alerts(&probe, t0()).unwrap();
    s.roll_up_history(t0(), 90, 500, &|_| true).unwrap();
    s.evaluate_alerts(&probe, t0()).unwrap();
    let seen = probe.seen.into_inner();
    assert_eq!(seen.len(), 2);
    let (ips, first_at, week) = &seen[0];
    // Every address `a` was verified from, the oldest only in rows rolled up since.
    assert_eq!(ips.len(), 3, "{ips:?}");
    assert_eq!(*first_at, Some(first));
    assert!(*week > 0);
    // After the roll-up: the same addresses, the history starts the same day, and a week's
    // verifications 150 days ago (hour-aligned) are the same.
    assert_eq!(&seen[1].0, ips);
    let day = 86_400_000;
    assert_eq!(seen[1].1, Some(first - first.rem_euclid(day)));
    assert_eq!(seen[1].2, *week);
}

/// The flag windows of the window tests: 30 days stale, 90 days rotation.
const FLAG_DAYS: (u32, u32) = (30, 90);

fn window(s: &dyn Store, q: &KeyWindowQuery, offset: u32, limit: u32) -> KeyWindow {
    s.keys_window(q, offset, limit, FLAG_DAYS, t0()).unwrap()
}

fn window_ids(s: &dyn Store, q: &KeyWindowQuery, offset: u32, limit: u32) -> Vec<String> {
    window(s, q, offset, limit)
        .rows
        .into_iter()
        .map(|k| k.key.id)
        .collect()
}

fn sorted(sort: KeySortKey, dir: SortDir) -> KeyWindowQuery {
    KeyWindowQuery {
        sort,
        dir,
        ..Default::default()
    }
}

/// 25 keys whose names, counts and dates tie in groups; another profile's keys never show.
fn window_fixture(db: &dyn ContractDb) -> Arc<dyn Store> {
    let s = db.open("p");
    let entries: Vec<PageEntry> = (0..25)
        .map(|i| {
            let mut k = key(
                &format!("k{:02}", (i * 7) % 25),
                Some(i64::from(i % 4)),
                (i % 3 != 0).then(|| t0() - Duration::days(i64::from(i % 5))),
            );
            k.name = format!("{} group", ["Beta", "alpha", "Gamma"][i as usize % 3]);
            detail(k)
        })
        .collect();
    s.apply_page(Some(1), t0(), &entries).unwrap();
    let names: Vec<(String, Option<String>, Option<String>)> = (0..25)
        .map(|i| {
            (
                format!("k{i:02}"),
                (i % 2 == 0).then(|| format!("Owner {}", i % 3)),
                Some(["API b", "api A"][i % 2].to_string()),
            )
        })
        .collect();
    s.set_names(&names).unwrap();
    db.open("other")
        .apply_page(Some(1), t0(), &keys_named("o", 0..5))
        .unwrap();
    s
}

pub fn keys_window_pages_in_order_with_ties_by_id(db: &dyn ContractDb) {
    let s = window_fixture(db);
    let sorts = [
        KeySortKey::Name,
        KeySortKey::Owner,
        KeySortKey::Api,
        KeySortKey::Status,
        KeySortKey::Created,
        KeySortKey::LastVerified,
        KeySortKey::Verifications,
        KeySortKey::Activity,
    ];
    for sort in sorts {
        let asc = sorted(sort, SortDir::Asc);
        let whole = window_ids(&*s, &asc, 0, 1000);
        assert_eq!(whole.len(), 25, "{sort:?}");
        let mut uniq = whole.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), 25, "{sort:?}: every key once");
        // Pages of 10 put together are the whole list: the order is total and stable.
        let mut paged = Vec::new();
        for off in [0, 10, 20] {
            let w = window(&*s, &asc, off, 10);
            assert_eq!((w.total, w.offset), (25, off));
            paged.extend(w.rows.into_iter().map(|k| k.key.id));
        }
        assert_eq!(paged, whole, "{sort:?}: pages in order");
        // Ties by id in the same direction: descending is ascending reversed, exactly.
        let mut desc = window_ids(&*s, &sorted(sort, SortDir::Desc), 0, 1000);
        desc.reverse();
        assert_eq!(desc, whole, "{sort:?}: descending is ascending reversed");
    }
    // The name sort ignores case; ties are by id.
    let by_name = window(&*s, &sorted(KeySortKey::Name, SortDir::Asc), 0, 1000);
    let names: Vec<&str> = by_name.rows.iter().map(|k| k.key.name.as_str()).collect();
    assert!(names[..8].iter().all(|n| *n == "alpha group"), "{names:?}");
    assert!(names[8..17].iter().all(|n| *n == "Beta group"), "{names:?}");
    let alpha: Vec<&str> = by_name.rows[..8]
        .iter()
        .map(|k| k.key.id.as_str())
        .collect();
    let mut alpha_sorted = alpha.clone();
    alpha_sorted.sort_unstable();
    assert_eq!(alpha, alpha_sorted, "ties by id");
    // The count sort is by count; the rows carry their sparkline.
    let by_count = window(&*s, &sorted(KeySortKey::Verifications, SortDir::Desc), 0, 5);
    assert!(
        by_count
            .rows
            .iter()
            .all(|k| k.key.verification_count == Some(3)),
        "the highest counts first"
    );
    assert!(by_count.rows.iter().all(|k| k.spark_7d.len() == 7));
    // Past the end: no rows, the total still right. Too many rows at once: refused in words.
    let w = window(&*s, &asc_name(), 30, 10);
    assert_eq!((w.rows.len(), w.total), (0, 25));
    let w = window(&*s, &asc_name(), 0, 0);
    assert_eq!((w.rows.len(), w.total, w.counts.all), (0, 25, 25));
    let e = s
        .keys_window(&asc_name(), 0, 5000, FLAG_DAYS, t0())
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e:?}");
    assert!(e.message.contains("5000"), "{e:?}");
}

fn asc_name() -> KeyWindowQuery {
    sorted(KeySortKey::Name, SortDir::Asc)
}

/// The search rule's key (keys::rules::tests::view) and a decoy that no non-blank shared
/// case finds.
fn search_fixture(db: &dyn ContractDb) -> Arc<dyn Store> {
    let s = db.open("p");
    let mut k = key("api_key_0a1b2c", Some(1), None);
    k.name = "Billing reconciler".into();
    k.key_prefix = "k_live_Ab".into();
    k.key_suffix = Some("wXyZ".into());
    k.org_code = Some("org_acme".into());
    let mut d = key("key_9f8e7d", Some(1), None);
    d.name = "Payroll sync".into();
    d.key_prefix = "k_test_Qq".into();
    d.key_suffix = Some("mnop".into());
    d.org_code = Some("org_globex".into());
    s.apply_page(Some(1), t0(), &[detail(k), detail(d)])
        .unwrap();
    s.set_names(&[
        (
            "api_key_0a1b2c".into(),
            Some("Acme Corp".into()),
            Some("Billing API".into()),
        ),
        (
            "key_9f8e7d".into(),
            Some("Hooli".into()),
            Some("Payments".into()),
        ),
    ])
    .unwrap();
    s
}

pub fn keys_window_search_is_the_search_rule(db: &dyn ContractDb) {
    #[derive(serde::Deserialize)]
    struct Case {
        query: String,
        matches: bool,
    }
    let cases: Vec<Case> = serde_json::from_str(include_str!("../keys/search_cases.json")).unwrap();
    assert!(cases.len() >= 20);
    let s = search_fixture(db);
    for c in &cases {
        let q = KeyWindowQuery {
            search: Some(c.query.clone()),
            ..asc_name()
        };
        let ids = window_ids(&*s, &q, 0, 100);
        let blank = c.query.trim().is_empty();
        let want: Vec<&str> = match (c.matches, blank) {
            (true, true) => vec!["api_key_0a1b2c", "key_9f8e7d"],
            (true, false) => vec!["api_key_0a1b2c"],
            (false, _) => vec![],
        };
        assert_eq!(ids, want, "query {:?}: {}", c.query, "the shared case");
        assert_eq!(
            window(&*s, &q, 0, 0).total as usize,
            want.len(),
            "query {:?}: the total",
            c.query
        );
        let mut revocable = s
            .keys_matching_ids(&q, true, FLAG_DAYS, t0(), 1000)
            .unwrap();
        revocable.sort();
        assert_eq!(revocable, want, "query {:?}: matching ids", c.query);
    }
    // The decoy is found by its own fields, and a renamed key by its new name only.
    let q = |t: &str| KeyWindowQuery {
        search: Some(t.into()),
        ..asc_name()
    };
    assert_eq!(window_ids(&*s, &q("HOOLI pay"), 0, 10), ["key_9f8e7d"]);
    s.set_names(&[("key_9f8e7d".into(), Some("Initech".into()), None)])
        .unwrap();
    assert!(window_ids(&*s, &q("hooli"), 0, 10).is_empty());
    assert_eq!(window_ids(&*s, &q("initech"), 0, 10), ["key_9f8e7d"]);
}

pub fn keys_window_filters_flags_and_counts(db: &dyn ContractDb) {
    let s = db.open("p");
    let now = t0();
    // a: created 100 days ago, never verified: stale and due. b: verified yesterday, created
    // 100 days ago: due only. c: like a, but rotated by Keyward 3 days ago: stale only.
    // d: like a but revoked: never flagged. e: like a but a user key of another API.
    let a = key("a", Some(0), None);
    let b = key("b", Some(2), Some(now - Duration::days(1)));
    let c = key("c", Some(0), None);
    let d = key("d", Some(0), None);
    let mut e = key("e", Some(0), None);
    e.key_type = KeyType::User;
    e.user_id = Some("u_1".into());
    e.org_code = None;
    e.api_ids = vec!["api_2".into()];
    s.apply_page(Some(1), now, &[a, b, c, d, e].map(detail))
        .unwrap();
    s.set_rotated_on("c", now - Duration::days(3)).unwrap();
    s.set_status("d", KeyStatus::Revoked, now).unwrap();
    let ids = |q: KeyWindowQuery| -> Vec<String> {
        let mut v = window_ids(&*s, &q, 0, 100);
        v.sort();
        v
    };
    let base = asc_name;
    let flag = |f| KeyWindowQuery {
        flag: Some(f),
        ..base()
    };
    assert_eq!(ids(flag(KeyFlag::Stale)), ["a", "c", "e"]);
    assert_eq!(ids(flag(KeyFlag::RotationDue)), ["a", "b", "e"]);
    let q = KeyWindowQuery {
        status: Some(KeyStatus::Revoked),
        ..base()
    };
    assert_eq!(ids(q), ["d"]);
    let q = KeyWindowQuery {
        key_type: Some(KeyType::User),
        ..base()
    };
    assert_eq!(ids(q), ["e"]);
    let q = KeyWindowQuery {
        api_id: Some("api_1".into()),
        ..base()
    };
    assert_eq!(ids(q), ["a", "b", "c", "d"]);
    let q = KeyWindowQuery {
        org_code: Some("org_a".into()),
        flag: Some(KeyFlag::Stale),
        ..base()
    };
    assert_eq!(ids(q), ["a", "c"]);
    let q = KeyWindowQuery {
        user_id: Some("u_1".into()),
        ..base()
    };
    assert_eq!(ids(q), ["e"]);
    let w = window(&*s, &base(), 0, 1);
    assert_eq!(w.rows.len(), 1);
    assert_eq!(
        (
            w.counts.all,
            w.counts.active,
            w.counts.inactive,
            w.counts.revoked
        ),
        (5, 4, 0, 1)
    );
    // "Every key matching" for a bulk revoke leaves the revoked one out.
    assert_eq!(
        s.keys_matching_ids(&base(), true, FLAG_DAYS, now, 1000)
            .unwrap(),
        ["a", "b", "c", "e"]
    );
    assert_eq!(
        s.keys_matching_ids(&base(), false, FLAG_DAYS, now, 2)
            .unwrap(),
        ["a", "b"]
    );
}

pub fn keys_window_follows_a_change_with_its_rev(db: &dyn ContractDb) {
    let s = db.open("p");
    s.apply_page(Some(1), t0(), &keys_named("k", 0..12))
        .unwrap();
    let q = sorted(KeySortKey::Verifications, SortDir::Desc);
    let before = window(&*s, &q, 0, 5);
    assert_eq!(before.rev, s.current_rev().unwrap());
    // One key's count changes: the delta names it, and the window shows it first.
    let mut k = key("k00007", Some(50), Some(t0()));
    k.name = "name k00007".into();
    s.apply_page(Some(2), t0() + Duration::minutes(1), &[detail(k)])
        .unwrap();
    let (_, changed) = changed_ids(&*s, before.rev);
    assert_eq!(changed, ["k00007"]);
    let after = window(&*s, &q, 0, 5);
    assert!(after.rev > before.rev);
    assert_eq!(after.rows[0].key.id, "k00007");
    assert_eq!(after.rows[0].key.verification_count, Some(50));
    assert_eq!(after.total, 12);
}
