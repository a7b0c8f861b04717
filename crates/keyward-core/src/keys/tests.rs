//! The keys rules over what a real store reads back.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::rules::{Search, Windows, apply};
use crate::model::key::{ApiKey, KeyFilter, KeyStatus, KeyType};
use crate::store::{PageEntry, SqliteStore};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn detail(id: &str, count: Option<i64>, lvo: Option<DateTime<Utc>>) -> PageEntry {
    PageEntry {
        key: ApiKey {
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
        },
        detail: true,
    }
}

#[test]
fn flags_and_search_over_the_store() {
    let s = SqliteStore::open_in_memory("p").unwrap();
    let now = t0();
    s.apply_page(
        Some(1),
        now - Duration::days(3),
        &[detail("a", Some(1), None)],
    )
    .unwrap();
    s.apply_page(
        Some(2),
        now - Duration::days(1),
        &[detail("a", Some(4), Some(now - Duration::days(1)))],
    )
    .unwrap();
    let mut other = detail("b_100%", Some(0), None);
    other.key.name = "Billing_worker".into();
    other.key.created_on = Some(now - Duration::days(2));
    s.apply_page(Some(2), now, &[other]).unwrap();

    let mut a = s.get_key("a", now).unwrap().unwrap();
    apply(&mut a, Windows::default(), now);
    assert!(!a.stale);
    assert!(a.rotation_due, "100 days old");
    let mut b = s.get_key("b_100%", now).unwrap().unwrap();
    apply(&mut b, Windows::default(), now);
    assert!(
        !b.stale && !b.rotation_due,
        "created 2 days ago and never verified: not stale yet"
    );

    let search = |q: &str| {
        let found = Search::parse(Some(q));
        let all = s.list_keys(&KeyFilter::default(), now).unwrap();
        all.iter().filter(|v| found.matches(v)).count()
    };
    assert_eq!(search("billing"), 1);
    assert_eq!(search("100%"), 1);
    assert_eq!(search("g_w"), 1, "underscore is literal");
    assert_eq!(search("gxw"), 0);
}
