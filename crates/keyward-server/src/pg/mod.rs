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
mod history;
mod keys;
mod migrate;
mod runs;
mod view;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use keyward_core::error::{Error, ErrorCode, Result};
use keyward_core::model::alert::{
    Alert, AlertEval, AlertFilter, AlertList, AlertRules, KeyMeta, Mute, MuteTarget, Policy,
};
use keyward_core::model::audit::{AuditEntry, AuditFilter, NewAudit};
use keyward_core::model::history::{Bucket, BucketCount, HistoryPoint, KeyHistory, ReissueLink};
use keyward_core::model::key::{ApiKey, KeyFilter, KeyStatus, KeyView};
use keyward_core::model::sync::SyncRunRecord;
use keyward_core::store::{
    CachedKey, DetailOutcome, HistoryAnchor, KeyState, ListingOutcome, MissingNames, PageEntry,
    PageOutcome, PrefillOutcome, RawHistoryRow, RunProgress, Store, SyncLock,
};
use postgres::{NoTls, Statement, Transaction};
use r2d2_postgres::PostgresConnectionManager;

pub use migrate::{MigrateReport, SCHEMA_VERSION, migrate, migrate_pool};

/// The pool of connections to the server's database (shared by the store and the delivery).
pub type Pool = r2d2_postgres::r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// One pooled connection.
pub type Conn = r2d2_postgres::r2d2::PooledConnection<PostgresConnectionManager<NoTls>>;

/// Advisory lock namespaces (the first key of `pg_advisory_lock(int, int)`), one per use, so
/// that no two uses of advisory locks in this database collide. 0x4b57 is "KW".
pub mod lock_ns {
    /// Migrations (second key 0): concurrent migrators run one after the other.
    pub const MIGRATE: i32 = 0x4b57_0001;
    /// A profile's write transactions (second key: `hashtext(profile)`), as SQLite's
    /// `BEGIN IMMEDIATE`.
    pub const STORE_TX: i32 = 0x4b57_0002;
    /// A profile's sync lock (second key: `hashtext(profile)`), session-level.
    pub const SYNC: i32 = 0x4b57_0003;
    /// Free for the server's own uses (leader lease, ...): 0x4b57_0100 and up.
    pub const SERVER_FIRST: i32 = 0x4b57_0100;
}

/// How many connections the pool keeps at most.
pub const POOL_SIZE: u32 = 8;

/// How long an unanswered connection lives (TCP user timeout; keepalives every 5 s after
/// 10 s idle, 3 missed).
pub const DEAD_AFTER: Duration = Duration::from_secs(30);

/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The database URL without its password, for messages (`postgres://user@host:port/db`).
pub fn redacted(config: &postgres::Config) -> String {
    let user = config.get_user().unwrap_or("");
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(h, p)| match h {
            postgres::config::Host::Tcp(h) => format!("{h}:{p}"),
            #[cfg(unix)]
            postgres::config::Host::Unix(d) => format!("{}:{p}", d.display()),
        })
        .collect();
    let db = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{}/{db}", hosts.join(","))
}

/// Parses a database URL (or `key=value` string). The error never repeats the URL (it may
/// hold a password).
pub fn parse_url(url: &str) -> Result<postgres::Config> {
    let mut config = postgres::Config::from_str(url).map_err(|e| {
        Error::new(
            ErrorCode::InvalidInput,
            format!(
                "the database URL is not valid: {}",
                strip_secret(&e.to_string(), url)
            ),
            "Write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE \
             (KEYWARD_SERVER_DATABASE_URL or `database_url` in the configuration).",
        )
    })?;
    if config.get_hosts().is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            "the database URL names no host",
            "Write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE.",
        ));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("keyward-server");
    }
    // A database host that vanishes (no RST: powered off, partitioned) must not hang a query,
    // a sync lock's release or a pool check-out for the kernel's 15 minutes: the connection is
    // declared dead after DEAD_AFTER without an acknowledgement or a keepalive answer.
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(DEAD_AFTER);
    }
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(10))
        .keepalives_interval(Duration::from_secs(5))
        .keepalives_retries(3);
    Ok(config)
}

/// A message without the URL's password, should a driver ever repeat it.
fn strip_secret(msg: &str, url: &str) -> String {
    let password = postgres::Config::from_str(url)
        .ok()
        .and_then(|c| {
            c.get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        })
        .or_else(|| {
            let u = url::Url::parse(url).ok()?;
            u.password().map(str::to_string)
        });
    match password.filter(|p| !p.is_empty()) {
        Some(p) => msg.replace(&p, "****"),
        None => msg.to_string(),
    }
}

/// Connects once, directly, to say in words what is wrong (bad host, refused login, no such
/// database) before a pool is built.
pub fn connect_once(config: &postgres::Config) -> Result<postgres::Client> {
    config.connect(NoTls).map_err(|e| connect_err(config, &e))
}

/// A pool over `url`. Connects once first, so that a bad URL, an unreachable server or a
/// refused login is reported at once, in words.
pub fn pool(url: &str) -> Result<Pool> {
    let config = parse_url(url)?;
    drop(connect_once(&config)?);
    pool_of(config)
}

fn pool_of(config: postgres::Config) -> Result<Pool> {
    let manager = PostgresConnectionManager::new(config, NoTls);
    Ok(r2d2_postgres::r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(Some(1))
        .test_on_check_out(true)
        .connection_timeout(Duration::from_secs(15))
        .error_handler(Box::new(r2d2_postgres::r2d2::NopErrorHandler))
        .build_unchecked(manager))
}

/// A connection from the pool, or the reason there is none in words.
pub fn get(pool: &Pool) -> Result<Conn> {
    pool.get().map_err(|e| {
        Error::new(
            ErrorCode::Database,
            format!("the server's database cannot be reached: {e}"),
            "Check that PostgreSQL is running and reachable at the configured URL \
             (keyward-server check tells more); the server retries on its own.",
        )
    })
}

/// Says in words why connecting failed; never repeats the password.
pub fn connect_err(config: &postgres::Config, e: &postgres::Error) -> Error {
    use postgres::error::SqlState;
    let at = redacted(config);
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        let (what, hint) = if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            (
                "refused the login",
                "Check the user name and password in the database URL.",
            )
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            (
                "has no such database",
                "Create it (createdb), or fix the database name in the URL.",
            )
        } else if *code == SqlState::TOO_MANY_CONNECTIONS {
            (
                "has no connection to spare",
                "Raise max_connections, or run fewer clients.",
            )
        } else {
            (
                "refused the connection",
                "Check the database URL and the server's log.",
            )
        };
        return Error::new(
            ErrorCode::Database,
            format!("PostgreSQL at {at} {what}: {}", db.message()),
            hint,
        );
    }
    let text = e.to_string();
    let source = std::error::Error::source(e)
        .map(|s| s.to_string())
        .unwrap_or_default();
    let (code, what) = if source.contains("refused") {
        (
            ErrorCode::ConnectionRefused,
            "refuses connections (is PostgreSQL running?)",
        )
    } else if text.contains("timed out") || source.contains("timed out") {
        (ErrorCode::Timeout, "did not answer in time")
    } else if source.contains("lookup") || source.contains("resolve") || source.contains("known") {
        (
            ErrorCode::Dns,
            "cannot be found (the host name does not resolve)",
        )
    } else {
        (ErrorCode::Database, "cannot be reached")
    };
    Error::new(
        code,
        format!(
            "PostgreSQL at {at} {what}: {text}{}",
            if source.is_empty() {
                String::new()
            } else {
                format!(" ({source})")
            }
        ),
        "Check the host and port in the database URL, and that PostgreSQL accepts TCP \
         connections from this machine (listen_addresses, pg_hba.conf).",
    )
}

/// Maps a PostgreSQL error met while using the store.
pub fn db_err(e: postgres::Error) -> Error {
    use postgres::error::SqlState;
    if e.is_closed()
        || e.as_db_error().is_none()
            && e.code().is_none()
            && e.to_string().contains("communicating")
    {
        return Error::new(
            ErrorCode::Database,
            format!("the connection to the server's database was lost: {e}"),
            "PostgreSQL restarted or the network dropped; the next try reconnects.",
        );
    }
    let hint = match e.code() {
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            "Another writer got in the way. Try again."
        }
        Some(c) if *c == SqlState::DISK_FULL => "The database server's disk is full.",
        Some(c) if *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CANNOT_CONNECT_NOW => {
            "PostgreSQL is shutting down or starting; the next try reconnects."
        }
        _ => {
            "This is probably a bug in keyward-server. Please report it with the steps that led here."
        }
    };
    let msg = match e.as_db_error() {
        Some(db) => format!("server database: {}", db.message()),
        None => format!("server database: {e}"),
    };
    Error::new(ErrorCode::Database, msg, hint)
}

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
        let pool = pool_of(config.clone())?;
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
    fn prefill_demo_history(&self, cutoff: DateTime<Utc>, plan: &dyn Fn(&[HistoryAnchor]) -> Vec<RawHistoryRow>) -> Result<PrefillOutcome>;
    fn demo_history_len(&self) -> Result<i64>;
    fn audit_append(&self, at: DateTime<Utc>, a: &NewAudit<'_>) -> Result<i64>;
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
