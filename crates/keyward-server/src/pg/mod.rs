//! The store on PostgreSQL: [`PgStore`] fills keyward-core's [`Store`] contract, so that
//! keyward-core's sync, alert rules, keys and audit run unchanged on a server's database.
//!
//! - The SQL is the SQLite store's (crates/keyward-core/src/store), ported statement by
//!   statement: same tables and columns, times as BIGINT milliseconds, one listed page = one
//!   transaction. Where SQLite takes its write lock (`BEGIN IMMEDIATE`), a write transaction
//!   here takes a transaction-scoped advisory lock on its profile, so that two writers of one
//!   profile (two replicas, a sync and a revoke) run one after the other as they do on SQLite.
//! - Connections come from an r2d2 pool ([`Pool`], [`pool`]), tested on check-out, so that a
//!   restarted PostgreSQL costs no failed call: a dead connection is replaced.
//! - Migrations ([`migrate`]) are embedded at build time from `migrations/NNNN_name.sql`,
//!   recorded in `schema_migrations`, applied one transaction each under an advisory lock; a
//!   database written by a newer server is refused.
//! - The sync lock is a session-level advisory lock on a connection of its own, held by the
//!   [`SyncLock`]'s guard: two replicas never sync one profile at once, and a replica that dies
//!   releases it with its connection.
//! - Every method blocks (core runs them on tokio's blocking pool).

mod alerts;
mod audit;
mod batch;
mod conn;
mod history;
mod keys;
mod migrate;
mod runs;
mod view;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use keyward_core::error::{Error, ErrorCode, Result};
use keyward_core::model::alert::{
    Alert, AlertEval, AlertFilter, AlertList, AlertRules, KeyMeta, Mute, MuteTarget, Policy,
};
use keyward_core::model::audit::{AuditClose, AuditEntry, AuditFilter, NewAudit};
use keyward_core::model::history::{
    Bucket, BucketCount, HistoryPoint, HistoryTotals, KeyHistory, ReissueLink, RollupSummary,
};
use keyward_core::model::key::{ApiKey, KeyFilter, KeyStatus, KeyView, KeyWindow, KeyWindowQuery};
use keyward_core::model::sync::SyncRunRecord;
use keyward_core::store::{
    CachedKey, DetailOutcome, HistoryAnchor, KeyState, ListingOutcome, MissingNames, PageEntry,
    PageOutcome, PrefillOutcome, RawHistoryRow, RunProgress, Store, SyncLock,
};
use postgres::{Statement, Transaction};

pub use conn::{
    CONNECT_TIMEOUT, Conn, DEAD_AFTER, POOL_SIZE, Pool, connect_err, connect_once, db_err, get,
    lock_ns, parse_url, pool, redacted,
};
pub use migrate::{MigrateReport, SCHEMA_VERSION, migrate, migrate_pool};

/// An error inside the store: PostgreSQL's, or Keyward's (the alert rules, a refused plan).
#[derive(Debug)]
pub(crate) enum E {
    Pg(postgres::Error),
    Core(Error),
}

impl From<postgres::Error> for E {
    fn from(e: postgres::Error) -> Self {
        E::Pg(e)
    }
}

impl From<Error> for E {
    fn from(e: Error) -> Self {
        E::Core(e)
    }
}

impl From<E> for Error {
    fn from(e: E) -> Self {
        match e {
            E::Pg(e) => db_err(e),
            E::Core(e) => e,
        }
    }
}

pub(crate) type R<T> = std::result::Result<T, E>;

/// Statements prepared once per transaction (a page writes hundreds of rows).
#[derive(Default)]
pub(crate) struct Stmts(HashMap<&'static str, Statement>);

impl Stmts {
    pub(crate) fn get(&mut self, tx: &mut Transaction<'_>, sql: &'static str) -> R<Statement> {
        if let Some(s) = self.0.get(sql) {
            return Ok(s.clone());
        }
        let s = tx.prepare(sql)?;
        self.0.insert(sql, s.clone());
        Ok(s)
    }
}

/// Drops `v`, which owns PostgreSQL connections, where blocking is allowed. The sync
/// `postgres::Client` closes its connection on its own small runtime, which panics on a tokio
/// worker thread ("Cannot start a runtime from within a runtime"): an `Arc<dyn Store>` or a
/// sync lock dropped in async code would abort the process. Inside a runtime the drop runs on
/// a scoped thread (joined: when this returns, the connections are closed).
pub fn drop_off_runtime<T: Send>(v: T) {
    off_runtime(move || drop(v));
}

/// Runs `f` (blocking PostgreSQL work) where blocking is allowed: on a scoped thread when
/// called on an async runtime, else right here. Returns when `f` has run.
pub fn off_runtime<F: FnOnce() + Send>(f: F) {
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(f);
        });
    } else {
        f();
    }
}

/// The store of one profile on PostgreSQL. `Send + Sync`; all methods are blocking. It may be
/// dropped anywhere, async code included (see [`drop_off_runtime`]).
pub struct PgStore {
    /// `None` only while dropping.
    pool: Option<Pool>,
    pub(crate) config: postgres::Config,
    pub(crate) profile: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("database", &redacted(&self.config))
            .field("profile", &self.profile)
            .finish()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            drop_off_runtime(pool);
        }
    }
}

impl PgStore {
    /// Connects to `url`, migrates the database (refusing a newer one) and opens `profile`.
    pub fn open(url: &str, profile: &str) -> Result<PgStore> {
        let config = parse_url(url)?;
        let mut first = connect_once(&config)?;
        migrate::migrate_client(&mut first)?;
        drop(first);
        let pool = conn::pool_of(config.clone())?;
        Ok(PgStore {
            pool: Some(pool),
            config,
            profile: profile.to_string(),
        })
    }

    /// A store over a pool that is already migrated (the server shares one pool).
    pub fn with_pool(pool: Pool, url: &str, profile: &str) -> Result<PgStore> {
        let config = parse_url(url)?;
        let store = PgStore {
            pool: Some(pool),
            config,
            profile: profile.to_string(),
        };
        let found = store.schema_version()?;
        if found != SCHEMA_VERSION {
            return Err(migrate::version_err(found));
        }
        Ok(store)
    }

    /// The pool this store uses (a clone shares it). Drop a clone with [`drop_off_runtime`]
    /// in async code: the last one closes the connections.
    pub fn pool(&self) -> &Pool {
        self.pool
            .as_ref()
            .expect("the pool is there until the store is dropped")
    }

    pub(crate) fn conn(&self) -> Result<Conn> {
        get(self.pool())
    }

    /// Runs `f` with a connection (reads, or single-statement writes).
    pub(crate) fn with_conn<T>(&self, f: impl FnOnce(&mut postgres::Client) -> R<T>) -> Result<T> {
        let mut c = self.conn()?;
        Ok(f(&mut c)?)
    }

    /// Runs `f` in one transaction that first takes this profile's write lock (as SQLite's
    /// `BEGIN IMMEDIATE`), committed when `f` succeeds.
    pub(crate) fn with_tx<T>(&self, f: impl FnOnce(&mut Transaction<'_>) -> R<T>) -> Result<T> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(db_err)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&lock_ns::STORE_TX, &self.profile],
        )
        .map_err(db_err)?;
        let out = f(&mut tx)?;
        tx.commit().map_err(db_err)?;
        Ok(out)
    }

    pub fn profile_name(&self) -> &str {
        &self.profile
    }

    fn integrity(&self) -> Result<()> {
        let version = self.schema_version()?;
        if version != SCHEMA_VERSION {
            return Err(migrate::version_err(version));
        }
        let missing: Vec<String> = self.with_conn(|c| {
            let rows = c.query(
                "SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NULL",
                &[&migrate::STORE_TABLES.to_vec()],
            )?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })?;
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::Database,
                format!("the server's database lacks tables: {}", missing.join(", ")),
                "Someone dropped them. Restore the database from a backup (pg_restore), or \
                 start from an empty database and run `keyward-server migrate`.",
            ))
        }
    }

    fn version(&self) -> Result<i64> {
        self.with_conn(|c| Ok(migrate::current_version(c)?))
    }
}

/// Every `Store` method, forwarded to the `PgStore` method of the same name (the SQL is in
/// this module's files, one per capability as in core).
macro_rules! forward {
    ($( fn $name:ident (&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty; )*) => {
        impl Store for PgStore {
            $(
                fn $name(&self $(, $arg: $ty)*) -> $ret {
                    PgStore::$name(self $(, $arg)*)
                }
            )*
            fn sync_lock_path(&self) -> Option<PathBuf> {
                None
            }
            fn profile(&self) -> &str {
                &self.profile
            }
            fn path(&self) -> Option<&Path> {
                None
            }
            fn integrity_check(&self) -> Result<()> {
                self.integrity()
            }
            fn schema_version(&self) -> Result<i64> {
                self.version()
            }
        }
    };
}

forward! {
    fn key_states(&self) -> Result<HashMap<String, KeyState>>;
    fn apply_page(&self, run_id: Option<i64>, now: DateTime<Utc>, entries: &[PageEntry]) -> Result<PageOutcome>;
    fn mark_gone(&self, run_id: i64) -> Result<usize>;
    fn apply_listing(&self, run_id: Option<i64>, now: DateTime<Utc>, keys: &[ApiKey], owe_all: bool) -> Result<ListingOutcome>;
    fn apply_details(&self, now: DateTime<Utc>, details: &[ApiKey]) -> Result<DetailOutcome>;
    fn owed_details(&self) -> Result<Vec<String>>;
    fn mark_gone_ids(&self, ids: &[String]) -> Result<usize>;
    fn current_rev(&self) -> Result<i64>;
    fn set_rotated_on(&self, key_id: &str, at: DateTime<Utc>) -> Result<bool>;
    fn set_status(&self, key_id: &str, status: KeyStatus, at: DateTime<Utc>) -> Result<bool>;
    fn keys_missing_names(&self) -> Result<Vec<MissingNames>>;
    fn set_names(&self, names: &[(String, Option<String>, Option<String>)]) -> Result<()>;
    fn list_keys(&self, filter: &KeyFilter, now: DateTime<Utc>) -> Result<Vec<KeyView>>;
    fn get_key(&self, id: &str, now: DateTime<Utc>) -> Result<Option<KeyView>>;
    fn keys_changed_since(&self, since_rev: i64, now: DateTime<Utc>) -> Result<(i64, Vec<KeyView>)>;
    fn keys_window(&self, q: &KeyWindowQuery, offset: u32, limit: u32, flag_days: (u32, u32), now: DateTime<Utc>) -> Result<KeyWindow>;
    fn keys_matching_ids(&self, q: &KeyWindowQuery, revocable_only: bool, flag_days: (u32, u32), now: DateTime<Utc>, cap: u32) -> Result<Vec<String>>;
    fn all_keys(&self) -> Result<Vec<CachedKey>>;
    fn spark_7d(&self, now: DateTime<Utc>) -> Result<HashMap<i64, Vec<i64>>>;
    fn last_sync_at(&self) -> Result<Option<DateTime<Utc>>>;
    fn kid_of(&self, key_id: &str) -> Result<Option<i64>>;
    fn key_history(&self, key_id: &str, bucket: Bucket, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<KeyHistory>;
    fn chart(&self, kid: i64, bucket: Bucket, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Vec<BucketCount>>;
    fn recent_verifications(&self, since: DateTime<Utc>) -> Result<HashMap<i64, i64>>;
    fn daily_totals(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Vec<BucketCount>>;
    fn verifications_after(&self, key_id: &str, after: DateTime<Utc>) -> Result<i64>;
    fn all_history(&self) -> Result<Vec<(String, HistoryPoint)>>;
    fn history_len(&self) -> Result<i64>;
    fn bulk_insert_history(&self, rows: &[RawHistoryRow]) -> Result<()>;
    fn roll_up_history(&self, now: DateTime<Utc>, keep_raw_days: u32, batch: u32, between: &dyn Fn(&RollupSummary) -> bool) -> Result<RollupSummary>;
    fn history_totals(&self) -> Result<HashMap<i64, HistoryTotals>>;
    fn prefill_demo_history(&self, cutoff: DateTime<Utc>, plan: &dyn Fn(&[HistoryAnchor]) -> Vec<RawHistoryRow>) -> Result<PrefillOutcome>;
    fn demo_history_len(&self) -> Result<i64>;
    fn audit_append(&self, at: DateTime<Utc>, a: &NewAudit<'_>) -> Result<i64>;
    fn audit_close(&self, id: i64, c: &AuditClose<'_>) -> Result<bool>;
    fn audit_list(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>>;
    fn reissue_open(&self, old_id: &str, new_id: &str, at: DateTime<Utc>, old_count_at_open: Option<i64>) -> Result<()>;
    fn reissue_close(&self, old_id: &str, at: DateTime<Utc>) -> Result<Vec<ReissueLink>>;
    fn reissues(&self, open_only: bool) -> Result<Vec<ReissueLink>>;
    fn reissue_set_deadline(&self, old_id: &str, new_id: &str, old_expires_at: Option<DateTime<Utc>>) -> Result<bool>;
    fn ambiguous_pending(&self) -> Result<Vec<AuditEntry>>;
    fn reconcile_from_cache(&self, now: DateTime<Utc>) -> Result<Vec<AuditEntry>>;
    fn evaluate_alerts(&self, rules: &dyn AlertRules, now: DateTime<Utc>) -> Result<AlertEval>;
    fn alerts_list(&self, f: &AlertFilter) -> Result<AlertList>;
    fn alert_ack(&self, id: i64, at: DateTime<Utc>) -> Result<Alert>;
    fn alert_mute(&self, t: &MuteTarget, at: DateTime<Utc>) -> Result<usize>;
    fn alert_unmute(&self, t: &MuteTarget) -> Result<bool>;
    fn alert_mutes(&self) -> Result<Vec<Mute>>;
    fn policy(&self) -> Result<Option<Policy>>;
    fn set_policy(&self, p: &Policy) -> Result<()>;
    fn set_canary(&self, key_id: &str, canary: bool) -> Result<KeyMeta>;
    fn set_expires_on(&self, key_id: &str, on: Option<DateTime<Utc>>) -> Result<KeyMeta>;
    fn key_meta_of(&self, key_id: &str) -> Result<KeyMeta>;
    fn key_metas(&self) -> Result<Vec<KeyMeta>>;
    fn run_start(&self, mode: &str, at: DateTime<Utc>) -> Result<i64>;
    fn run_listed(&self, id: i64, at: DateTime<Utc>) -> Result<()>;
    fn run_update(&self, id: i64, p: &RunProgress, finished: Option<(&str, DateTime<Utc>, i64)>) -> Result<()>;
    fn runs(&self, limit: u32) -> Result<Vec<SyncRunRecord>>;
    fn runs_as_recorded(&self, limit: u32) -> Result<Vec<SyncRunRecord>>;
    fn try_lock_sync(&self) -> Result<Option<SyncLock>>;
    fn runs_interrupt_dead(&self, held: &SyncLock) -> Result<usize>;
}

pub(crate) const DAY_MS: i64 = 86_400_000;

pub(crate) fn parse_status(s: &str) -> KeyStatus {
    match s {
        "active" => KeyStatus::Active,
        "inactive" => KeyStatus::Inactive,
        _ => KeyStatus::Revoked,
    }
}

pub(crate) fn parse_type(s: &str) -> keyward_core::model::key::KeyType {
    use keyward_core::model::key::KeyType;
    match s {
        "organization" => KeyType::Organization,
        "environment" => KeyType::Environment,
        _ => KeyType::User,
    }
}

pub(crate) fn opt_time(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(keyward_core::store::from_ms)
}
