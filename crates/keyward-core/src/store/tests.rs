#![allow(
    clippy::disallowed_methods,
    reason = "tests build databases by hand to migrate them"
)]

use chrono::{DateTime, TimeZone, Utc};

use rusqlite::Connection;

use parking_lot::Mutex;

use super::db::MIGRATIONS;
use super::*;
use crate::error::ErrorCode;
use crate::model::audit::{AuditAction, AuditFilter};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
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
fn newer_schema_is_refused() {
    let mut c = Connection::open_in_memory().unwrap();
    c.execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
        .unwrap();
    let e = migrate(&mut c).unwrap_err();
    assert_eq!(e.code, ErrorCode::DatabaseTooNew);
    assert!(e.hint.contains("Upgrade Keyward"));
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<SqliteStore>();
    check::<std::sync::Arc<dyn Store>>();
}

/// The SQLite-only parts of the sync lock (the contract suite checks the rest): an in-memory
/// store's in-process flag, and where a file store's lock file lives.
#[test]
fn sqlite_sync_lock_flag_and_lock_file() {
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
        window_index: Default::default(),
    }
}

/// The store contract (store/contract_suite.rs) on SQLite: real files in a temporary directory,
/// every handle a new connection to the same file, as two processes would have.
mod contract {
    use std::sync::Arc;

    use super::super::contract_suite::ContractDb;
    use super::super::{DB_FILE, SqliteStore, Store};

    struct FileDb {
        dir: tempfile::TempDir,
    }

    impl FileDb {
        fn fresh() -> FileDb {
            FileDb {
                dir: tempfile::tempdir().unwrap(),
            }
        }
    }

    impl ContractDb for FileDb {
        fn open(&self, profile: &str) -> Arc<dyn Store> {
            Arc::new(SqliteStore::open(&self.dir.path().join(DB_FILE), profile).unwrap())
        }
    }

    crate::store_contract_tests!(FileDb::fresh());
}
