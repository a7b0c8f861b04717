//! The store on real files: WAL, persistence, the schema guard, a reader during writes.

#![allow(
    clippy::disallowed_methods,
    reason = "tests read and damage the database file behind the store"
)]

use chrono::{Duration, TimeZone, Utc};
use keyward_core::ErrorCode;
use keyward_core::model::key::{ApiKey, KeyFilter, KeyStatus, KeyType};
use keyward_core::store::{PageEntry, SCHEMA_VERSION, SqliteStore};

fn key(i: usize, count: i64) -> ApiKey {
    let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    ApiKey {
        id: format!("api_key_{i:032x}"),
        name: format!("key {i}"),
        key_type: KeyType::User,
        status: KeyStatus::Active,
        key_prefix: "k_live".into(),
        key_suffix: Some(format!("{:04}", i % 10_000)),
        created_on: Some(t),
        last_verified_on: (count > 0).then(|| t + Duration::seconds(count)),
        last_verified_ip: None,
        created_by: None,
        api_ids: vec!["api_a".into()],
        scopes: vec![],
        verification_count: Some(count),
        user_id: Some(format!("kp_{i}")),
        org_code: None,
    }
}

#[test]
fn file_store_persists_and_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = SqliteStore::path_for(dir.path(), "prod/eu");
    assert!(path.starts_with(dir.path()));
    assert!(!path.to_string_lossy().contains("prod/eu"));
    {
        let s = SqliteStore::open(&path, "prod/eu").unwrap();
        let page: Vec<PageEntry> = (0..50)
            .map(|i| PageEntry {
                key: key(i, 1),
                detail: true,
            })
            .collect();
        s.apply_page(Some(1), Utc::now(), &page).unwrap();
        s.integrity_check().unwrap();
    }
    let s = SqliteStore::open(&path, "prod/eu").unwrap();
    let keys = s.list_keys(&KeyFilter::default(), Utc::now()).unwrap();
    assert_eq!(keys.len(), 50);
    assert_eq!(keys[0].key.verification_count, Some(1));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // Another profile in the same file sees nothing of it.
    let other = SqliteStore::open(&path, "dev").unwrap();
    assert!(
        other
            .list_keys(&KeyFilter::default(), Utc::now())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn database_from_a_newer_keyward_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    drop(SqliteStore::open(&path, "p").unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 3))
        .unwrap();
    drop(conn);
    let e = SqliteStore::open(&path, "p").unwrap_err();
    assert_eq!(e.code, ErrorCode::DatabaseTooNew);
    assert!(e.message.contains(&(SCHEMA_VERSION + 3).to_string()));
    assert!(!e.hint.is_empty());
    // Nothing was changed by the refusal.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION + 3);
}

#[test]
fn reader_sees_whole_pages_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let writer = SqliteStore::open(&path, "p").unwrap();
    let reader = SqliteStore::open(&path, "p").unwrap();
    const PAGE: usize = 200;
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for round in 1..=10i64 {
                let page: Vec<PageEntry> = (0..PAGE)
                    .map(|i| PageEntry {
                        key: key(i, round),
                        detail: true,
                    })
                    .collect();
                writer.apply_page(Some(round), Utc::now(), &page).unwrap();
            }
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut reads = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) || reads == 0 {
            let keys = reader.list_keys(&KeyFilter::default(), Utc::now()).unwrap();
            if !keys.is_empty() {
                assert_eq!(keys.len(), PAGE);
                let first = keys[0].key.verification_count;
                assert!(
                    keys.iter().all(|k| k.key.verification_count == first),
                    "a reader saw half a page"
                );
            }
            reads += 1;
        }
    });
    assert_eq!(writer.history_len().unwrap(), (PAGE * 10) as i64);
}

#[test]
fn a_damaged_file_is_a_database_error_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
    let e = SqliteStore::open(&path, "p").unwrap_err();
    assert_eq!(e.code, ErrorCode::Database);
    assert!(e.hint.contains("keyward sync"), "{}", e.hint);
}
