//! The store contract (keyward-core's store::contract_suite) on PostgreSQL, one fresh
//! database per test on one shared throwaway cluster; then what only PostgreSQL has:
//! versioned, guarded migrations, concurrent migrators, and connection errors in words.

mod support;

use keyward_core::error::ErrorCode;
use keyward_core::store::Store;
use keyward_server::pg::{self, PgStore, SCHEMA_VERSION};
use support::{PgDb, cluster, fresh_db};

keyward_core::store_contract_tests!(PgDb::fresh());

fn db_name(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

#[test]
fn migrate_records_every_migration_once_and_is_idempotent() {
    let url = fresh_db();
    let first = pg::migrate(&url).unwrap();
    assert_eq!(first.from, 0);
    assert_eq!(first.to, SCHEMA_VERSION);
    assert!(first.applied.len() >= 2, "{first:?}");
    assert!(first.applied[0].starts_with("0001_"));
    let again = pg::migrate(&url).unwrap();
    assert_eq!((again.from, again.to), (SCHEMA_VERSION, SCHEMA_VERSION));
    assert!(again.applied.is_empty());
    let rows = cluster()
        .psql(
            &db_name(&url),
            "SELECT count(*), max(version) FROM schema_migrations",
        )
        .unwrap();
    assert_eq!(
        rows.trim(),
        format!("{}|{SCHEMA_VERSION}", first.applied.len())
    );
    let s = PgStore::open(&url, "p").unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    s.integrity_check().unwrap();
}

#[test]
fn a_newer_schema_is_refused() {
    let url = fresh_db();
    pg::migrate(&url).unwrap();
    let newer = SCHEMA_VERSION + 1;
    cluster()
        .psql(
            &db_name(&url),
            &format!("INSERT INTO schema_migrations (version, name) VALUES ({newer}, '{newer:04}_future.sql')"),
        )
        .unwrap();
    let e = PgStore::open(&url, "p").unwrap_err();
    assert_eq!(e.code, ErrorCode::DatabaseTooNew, "{e:?}");
    assert!(e.message.contains(&newer.to_string()), "{}", e.message);
    assert!(e.hint.contains("Upgrade"), "{}", e.hint);
    let e = pg::migrate(&url).unwrap_err();
    assert_eq!(e.code, ErrorCode::DatabaseTooNew);
}

#[test]
fn a_dropped_table_fails_the_integrity_check() {
    let url = fresh_db();
    let s = PgStore::open(&url, "p").unwrap();
    s.integrity_check().unwrap();
    cluster()
        .psql(&db_name(&url), "DROP TABLE policies")
        .unwrap();
    let e = s.integrity_check().unwrap_err();
    assert_eq!(e.code, ErrorCode::Database);
    assert!(e.message.contains("policies"), "{}", e.message);
}

/// Two replicas starting at once: both migrate, one after the other; each migration runs once.
#[test]
fn concurrent_migrators_take_turns() {
    let url = fresh_db();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || pg::migrate(&url))
        })
        .collect();
    let reports: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    let applied: usize = reports.iter().map(|r| r.applied.len()).sum();
    let total = cluster()
        .psql(&db_name(&url), "SELECT count(*) FROM schema_migrations")
        .unwrap();
    assert_eq!(
        applied.to_string(),
        total.trim(),
        "each migration applied once: {reports:?}"
    );
    assert_eq!(reports.iter().filter(|r| !r.applied.is_empty()).count(), 1);
}

#[test]
fn a_bad_url_says_so_without_the_password() {
    let e = PgStore::open("postgres://user:s3cr3t-pw@127.0.0.1:notaport/db", "p").unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e:?}");
    assert!(e.message.contains("database URL"), "{}", e.message);
    assert!(!format!("{e:?}").contains("s3cr3t-pw"));
    let e = PgStore::open("mysql://x", "p").unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e:?}");
}

#[test]
fn an_unreachable_database_says_so() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = PgStore::open(
        &format!("postgres://postgres:s3cr3t-pw@127.0.0.1:{port}/x"),
        "p",
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::ConnectionRefused, "{e:?}");
    assert!(
        e.message.contains(&format!("127.0.0.1:{port}")),
        "{}",
        e.message
    );
    assert!(!format!("{e:?}").contains("s3cr3t-pw"));
}

#[test]
fn a_refused_login_and_a_missing_database_say_so() {
    let c = cluster();
    c.psql("postgres", "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kw_pw') THEN CREATE ROLE kw_pw LOGIN PASSWORD 'right-pw'; END IF; END $$").unwrap();
    // The cluster trusts every login (initdb -A trust), so a refused login is a role that
    // may not log in.
    c.psql("postgres", "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kw_nologin') THEN CREATE ROLE kw_nologin NOLOGIN; END IF; END $$").unwrap();
    let e = PgStore::open(
        &format!(
            "postgres://kw_nologin:wrong-pw@127.0.0.1:{}/postgres",
            c.port()
        ),
        "p",
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::Database, "{e:?}");
    assert!(e.message.contains("refused the login"), "{}", e.message);
    assert!(!format!("{e:?}").contains("wrong-pw"));
    let e = PgStore::open(
        &format!("postgres://postgres@127.0.0.1:{}/no_such_db", c.port()),
        "p",
    )
    .unwrap_err();
    assert!(e.message.contains("no such database"), "{}", e.message);
    assert!(e.hint.contains("createdb"), "{}", e.hint);
}

/// The sync lock lives in PostgreSQL: a replica that dies (its connection cut) releases it.
#[test]
fn the_sync_lock_goes_with_its_connection() {
    let url = fresh_db();
    let a = PgStore::open(&url, "p").unwrap();
    let b = PgStore::open(&url, "p").unwrap();
    assert_eq!(a.sync_lock_path(), None);
    let held = a.try_lock_sync().unwrap().unwrap();
    assert!(b.try_lock_sync().unwrap().is_none());
    // Cut every connection that holds an advisory lock, as a dead replica's would be.
    cluster()
        .psql(
            &db_name(&url),
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND pid <> pg_backend_pid()",
        )
        .unwrap();
    let mut got = None;
    for _ in 0..50 {
        got = b.try_lock_sync().unwrap();
        if got.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(got.is_some(), "the lock of a dead connection is released");
    drop(held);
}
