//! The keys window's in-memory index (store/window_index.rs) and `keys::rules::Search`, the
//! one search rule, find the same keys for every shared search case, and the window through the
//! index equals the window through SQL alone (`keys_window_sql`) in every sort and direction.

use chrono::{Duration, TimeZone, Utc};
use keyward_core::keys::rules::Search;
use keyward_core::model::key::{
    ApiKey, KeySortKey, KeyStatus, KeyType, KeyWindow, KeyWindowQuery, SortDir,
};
use keyward_core::store::{PageEntry, SqliteStore};

const DAYS: (u32, u32) = (30, 90);

fn store(n: usize) -> (tempfile::TempDir, SqliteStore) {
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("keyward.db"), "p").unwrap();
    let words = [
        "Billing",
        "reconciler",
        "Payroll",
        "ACME",
        "sync",
        "qa",
        "B",
        "zeta_ab",
        "ngx",
    ];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 16) as usize
    };
    let mut entries = Vec::new();
    let mut names = Vec::new();
    for i in 0..n {
        let id = format!(
            "{}{:04x}{i}",
            ["api_key_", "key_"][next() % 2],
            next() % 65536
        );
        let key = ApiKey {
            id: id.clone(),
            name: format!(
                "{} {}",
                words[next() % words.len()],
                words[next() % words.len()]
            ),
            key_type: [KeyType::User, KeyType::Organization][next() % 2],
            status: [KeyStatus::Active, KeyStatus::Inactive, KeyStatus::Revoked][next() % 3],
            key_prefix: format!(
                "{}{}",
                ["k_live_", "K_TEST_"][next() % 2],
                ["Ab", "q1"][next() % 2]
            ),
            key_suffix: [None, Some("wXyZ".to_string()), Some("0a1b".to_string())][next() % 3]
                .clone(),
            created_on: Some(now - Duration::days((next() % 300) as i64)),
            last_verified_on: None,
            last_verified_ip: None,
            created_by: None,
            api_ids: vec![],
            scopes: vec![],
            verification_count: Some((next() % 40) as i64),
            user_id: None,
            org_code: None,
        };
        entries.push(PageEntry { key, detail: true });
        names.push((
            id,
            [
                None,
                Some("Acme Corp".to_string()),
                Some("Hooli".to_string()),
            ][next() % 3]
                .clone(),
            [
                None,
                Some("Billing API".to_string()),
                Some("Payments".to_string()),
            ][next() % 3]
                .clone(),
        ));
    }
    s.apply_page(Some(1), now, &entries).unwrap();
    s.set_names(&names).unwrap();
    (dir, s)
}

#[test]
fn the_index_finds_what_the_search_rule_finds_for_every_shared_case() {
    #[derive(serde::Deserialize)]
    struct Case {
        query: String,
    }
    let cases: Vec<Case> =
        serde_json::from_str(include_str!("../../src/keys/search_cases.json")).unwrap();
    assert!(cases.len() >= 25);
    let (_dir, s) = store(2000);
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let all = s.all_keys().unwrap();
    let mut some = 0;
    // A search first, so that the index is built and whole-list windows are its too.
    s.keys_window(
        &KeyWindowQuery {
            search: Some("zzzz".into()),
            ..KeyWindowQuery::default()
        },
        0,
        1,
        DAYS,
        now,
    )
    .unwrap();
    for c in &cases {
        let rule = Search::parse(Some(&c.query));
        let mut want: Vec<String> = all
            .iter()
            .filter(|k| rule.matches(&k.view))
            .map(|k| k.view.key.id.clone())
            .collect();
        want.sort();
        for sort in [
            KeySortKey::Name,
            KeySortKey::Created,
            KeySortKey::Verifications,
        ] {
            for dir in [SortDir::Asc, SortDir::Desc] {
                let q = KeyWindowQuery {
                    search: Some(c.query.clone()),
                    sort,
                    dir,
                    ..KeyWindowQuery::default()
                };
                let ix = s.keys_window(&q, 0, 1000, DAYS, now).unwrap();
                let sql = s.keys_window_sql(&q, 0, 1000, DAYS, now).unwrap();
                let ids = |w: &KeyWindow| -> Vec<String> {
                    w.rows.iter().map(|v| v.key.id.clone()).collect()
                };
                assert_eq!(ids(&ix), ids(&sql), "{:?} {sort:?} {dir:?}", c.query);
                assert_eq!(ix.total, sql.total, "{:?}", c.query);
                assert_eq!(ix.counts, sql.counts, "{:?}", c.query);
                assert_eq!(
                    ix.total as usize,
                    want.len(),
                    "{:?}: the rule's count",
                    c.query
                );
                if want.len() <= 1000 {
                    let mut got = ids(&ix);
                    got.sort();
                    assert_eq!(got, want, "{:?}: the rule's keys", c.query);
                }
            }
        }
        if !want.is_empty() && want.len() < all.len() {
            some += 1;
        }
    }
    assert!(some >= 10, "only {some} cases found some keys but not all");
}
