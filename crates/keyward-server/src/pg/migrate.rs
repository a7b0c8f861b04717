//! Guarded, versioned migrations: `migrations/NNNN_name.sql`, embedded at build time (see
//! build.rs), applied in order, one transaction each, recorded in `schema_migrations`.
//! Concurrent migrators (two replicas starting at once) take turns on an advisory lock. A
//! database that records a version this build does not know is refused, as the SQLite store
//! refuses a newer `user_version`.

use keyward_core::error::{Error, ErrorCode, Result};
use serde::Serialize;

use super::conn::{self, db_err, lock_ns};

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The schema version this build writes: the number of its newest migration.
pub const SCHEMA_VERSION: i64 = match MIGRATIONS.last() {
    Some(m) => m.0,
    None => 0,
};

/// The store's tables (checked by `integrity_check`).
pub(crate) const STORE_TABLES: &[&str] = &[
    "keys",
    "history",
    "daily",
    "audit",
    "reissues",
    "sync_runs",
    "alerts",
    "alert_mutes",
    "alert_state",
    "key_meta",
    "policies",
    "keys_rev_seq",
];

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrateReport {
    /// The version before.
    pub from: i64,
    /// The version now ([`SCHEMA_VERSION`]).
    pub to: i64,
    /// The migrations applied now, by file name, in order.
    pub applied: Vec<String>,
}

/// Connects to `url` and applies the pending migrations (`keyward-server migrate`).
pub fn migrate(url: &str) -> Result<MigrateReport> {
    let config = conn::parse_url(url)?;
    let mut client = conn::connect_once(&config)?;
    migrate_client(&mut client)
}

/// [`migrate`] over a connection of `pool`.
pub fn migrate_pool(pool: &conn::Pool) -> Result<MigrateReport> {
    let mut c = conn::get(pool)?;
    migrate_client(&mut c)
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now())";

/// The newest version recorded (0: none, or no `schema_migrations` table yet).
pub(crate) fn current_version(
    c: &mut postgres::Client,
) -> std::result::Result<i64, postgres::Error> {
    let exists: bool = c
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    c.query_one(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        &[],
    )
    .map(|r| r.get(0))
}

pub(crate) fn migrate_client(c: &mut postgres::Client) -> Result<MigrateReport> {
    // Session-level: held across the per-migration transactions, released at the end (or
    // when this connection ends, however it ends).
    c.execute("SELECT pg_advisory_lock($1, 0)", &[&lock_ns::MIGRATE])
        .map_err(db_err)?;
    let out = apply_all(c);
    let unlock = c.execute("SELECT pg_advisory_unlock($1, 0)", &[&lock_ns::MIGRATE]);
    let report = out?;
    unlock.map_err(db_err)?;
    Ok(report)
}

fn apply_all(c: &mut postgres::Client) -> Result<MigrateReport> {
    c.batch_execute(CREATE_TABLE).map_err(db_err)?;
    let from = current_version(c).map_err(db_err)?;
    if from > SCHEMA_VERSION {
        return Err(version_err(from));
    }
    let known: Vec<i64> = c
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .map_err(db_err)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if known.contains(version) {
            continue;
        }
        let mut tx = c.transaction().map_err(db_err)?;
        tx.batch_execute(sql).map_err(|e| {
            let mut err = db_err(e);
            err.message = format!("migration {name}: {}", err.message);
            err
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        applied.push((*name).to_string());
    }
    Ok(MigrateReport {
        from,
        to: SCHEMA_VERSION,
        applied,
    })
}

/// The database's schema is not this build's.
pub(crate) fn version_err(found: i64) -> Error {
    if found > SCHEMA_VERSION {
        Error::new(
            ErrorCode::DatabaseTooNew,
            format!(
                "the server's database has schema version {found}, newer than this \
                 keyward-server understands ({SCHEMA_VERSION})"
            ),
            "It was migrated by a newer keyward-server. Upgrade this one (every replica runs \
             the same version), or point it at another database.",
        )
    } else {
        Error::new(
            ErrorCode::Database,
            format!(
                "the server's database has schema version {found}; this keyward-server needs \
                 {SCHEMA_VERSION}"
            ),
            "Run `keyward-server migrate` first.",
        )
    }
}
