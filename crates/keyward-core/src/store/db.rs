//! The database: one `SqliteStore` per profile, opened with its pragmas and migrated.

use std::path::{Path, PathBuf};
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, ErrorCode, Result};

/// How long a writer waits for another writer before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Embedded migrations, in order. `user_version` is the number of migrations applied (not the
/// number in a file's name): the number 0003 was never used, so a database at version 3 has
/// 0001, 0002 and 0004, and one at version 4 also has 0005. A new migration is appended at the
/// end, never inserted.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_history_source.sql"),
    include_str!("migrations/0004_alerts.sql"),
    include_str!("migrations/0005_rev.sql"),
    include_str!("migrations/0006_handover.sql"),
    include_str!("migrations/0007_alert_summaries.sql"),
    include_str!("migrations/0008_handover_deadline.sql"),
    include_str!("migrations/0009_audit_actor.sql"),
    include_str!("migrations/0011_keys_window.sql"),
    include_str!("migrations/0010_history_compact.sql"),
    include_str!("migrations/0012_store_owner.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The file name of the database inside a profile's data directory.
pub const DB_FILE: &str = "keyward.db";

/// The local store of one profile. `Send + Sync`; all methods are blocking.
pub struct SqliteStore {
    pub(super) conn: Mutex<Connection>,
    pub(super) profile: String,
    pub(super) path: Option<PathBuf>,
    /// The sync lock of an in-memory store (a file store locks a file: see `store/lock.rs`).
    pub(super) sync_flag: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The keys window's in-memory index of this store (`store/window_index.rs`).
    pub(super) window_index: std::sync::Arc<super::window_index::IndexCache>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("profile", &self.profile)
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` for `profile`, and migrates it.
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place the database is opened"
    )]
    pub fn open(path: &Path, profile: &str) -> Result<SqliteStore> {
        // Private from the first byte: the folder 0700, the file 0600 before SQLite opens it
        // (SQLite gives the -wal and -shm files the database file's mode).
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::fsutil::private_dir(dir)?;
        }
        crate::fsutil::private_file(path)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| file_err(path, e))?;
        match Self::init(conn, profile, Some(path.to_path_buf())) {
            Err(e) if e.code == ErrorCode::Database && no_space_left(path) => {
                Self::open_on_full_disk(path, profile).map_err(|_| disk_full(path))
            }
            other => other,
        }
    }

    /// The database on a full disk: SQLite cannot grow the WAL's shared-memory index there, so
    /// every ordinary open fails with "disk I/O error". The file is opened read-only and
    /// `immutable` (no lock, no `-shm`), so reads answer from what the file holds (everything
    /// but the frames of a WAL left behind by a crash), and every write fails with `disk_full`.
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place the database is opened"
    )]
    fn open_on_full_disk(path: &Path, profile: &str) -> Result<SqliteStore> {
        let uri = immutable_uri(path).ok_or_else(|| disk_full(path))?;
        let conn = Connection::open_with_flags(
            uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_err)?;
        conn.execute_batch("PRAGMA query_only=ON;")
            .map_err(db_err)?;
        if user_version(&conn)? != SCHEMA_VERSION {
            // A migration would have to write.
            return Err(disk_full(path));
        }
        tracing::warn!(
            "the disk holding {} is full: the local database is open read-only",
            path.display()
        );
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            profile: profile.to_string(),
            path: Some(path.to_path_buf()),
            sync_flag: Default::default(),
            window_index: Default::default(),
        })
    }

    /// An in-memory store (tests, demo mode without persistence).
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place the database is opened"
    )]
    pub fn open_in_memory(profile: &str) -> Result<SqliteStore> {
        let conn = Connection::open_in_memory().map_err(db_err)?;
        Self::init(conn, profile, None)
    }

    /// The conventional database path of a profile under Keyward's data directory.
    pub fn path_for(data_dir: &Path, profile: &str) -> PathBuf {
        Self::dir_for(data_dir, profile).join(DB_FILE)
    }

    /// Configures and, when its schema is older than this build's, migrates. A database that
    /// is current is only read here (`user_version`): opening never waits on another process's
    /// write.
    fn init(mut conn: Connection, profile: &str, path: Option<PathBuf>) -> Result<SqliteStore> {
        configure(&conn)?;
        let current = user_version(&conn)?;
        if current > SCHEMA_VERSION {
            return Err(too_new(current));
        }
        if current < SCHEMA_VERSION {
            migrate(&mut conn)?;
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            profile: profile.to_string(),
            path,
            sync_flag: Default::default(),
            window_index: Default::default(),
        })
    }

    pub fn profile(&self) -> &str {
        &self.profile
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A SQLite error of this store as Keyward's: a full disk says which disk.
    pub(crate) fn err(&self, e: rusqlite::Error) -> Error {
        match &self.path {
            Some(p) => file_err(p, e),
            None => db_err(e),
        }
    }

    /// [`SqliteStore::err`] for an error already converted (by `?` inside a transaction).
    fn err_of(&self, e: Error) -> Error {
        match &self.path {
            Some(p) if e.code == ErrorCode::Database && no_space_left(p) => disk_full(p),
            Some(p) if e.code == ErrorCode::DiskFull => disk_full(p),
            _ => e,
        }
    }

    /// Runs `f` with the connection (reads, or writes that manage their own transaction).
    /// A second, read-only connection to this store's file, for reads in the background that
    /// must not wait for (or hold) the store's own connection; `None` for an in-memory store or
    /// when the file cannot be opened so (the caller skips its background work).
    #[allow(
        clippy::disallowed_methods,
        reason = "a read-only reader of the store's own, already opened and migrated, file"
    )]
    pub(super) fn open_reader(&self) -> Option<Connection> {
        let path = self.path.as_ref()?;
        let c = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        c.busy_timeout(BUSY_TIMEOUT).ok()?;
        Some(c)
    }

    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let conn = self.conn.lock();
        // A write outside a transaction waits as long as a transaction would.
        let wait = if NO_WAIT.get() {
            Duration::ZERO
        } else {
            BUSY_TIMEOUT
        };
        conn.busy_timeout(wait).map_err(db_err)?;
        f(&conn).map_err(|e| self.err(e))
    }

    /// BEGIN IMMEDIATE: waits up to [`BUSY_TIMEOUT`] for another writer, or not at all inside
    /// [`without_waiting`].
    fn begin<'c>(&self, conn: &'c mut Connection) -> Result<Transaction<'c>> {
        let wait = if NO_WAIT.get() {
            Duration::ZERO
        } else {
            BUSY_TIMEOUT
        };
        conn.busy_timeout(wait).map_err(db_err)?;
        conn.transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))
    }

    /// Runs `f` in one IMMEDIATE transaction, committed when `f` succeeds.
    pub(crate) fn with_tx<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut conn = self.conn.lock();
        let tx = self.begin(&mut conn)?;
        let out = f(&tx).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// [`SqliteStore::with_tx`] for work that also calls out of the store (the alert rules): `f`
    /// answers Keyward's errors, SQLite's converting with `?`.
    pub(crate) fn with_tx_result<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.conn.lock();
        let tx = self.begin(&mut conn)?;
        let out = f(&tx).map_err(|e| self.err_of(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// `PRAGMA integrity_check`: `Ok(())` when the database is sound.
    pub fn integrity_check(&self) -> Result<()> {
        let rows: Vec<String> = self.with_conn(|c| {
            let mut st = c.prepare("PRAGMA integrity_check")?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect()
        })?;
        if rows.len() == 1 && rows[0] == "ok" {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::Database,
                format!("integrity check failed: {}", rows.join("; ")),
                "Move the database file aside and run `keyward sync` to rebuild the cache.",
            ))
        }
    }

    /// The schema version recorded in the database.
    pub fn schema_version(&self) -> Result<i64> {
        self.with_conn(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
    }
}

/// The business a profile's store belongs to: its Kinde domain, or a team profile's server.
/// Recorded in the store (`store_owner`); a store is never used for another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOwner {
    /// The Kinde base URL (`https://mybiz.kinde.com`); empty on a team profile.
    pub domain: String,
    /// A team profile's Keyward Server.
    pub server: Option<String>,
}

impl StoreOwner {
    /// "mybiz.kinde.com" or "the Keyward Server https://…", for messages.
    pub fn describe(&self) -> String {
        match &self.server {
            Some(s) => format!("the Keyward Server {s}"),
            None => self.domain.clone(),
        }
    }
}

impl SqliteStore {
    /// The business this profile's rows belong to (`None`: not recorded yet, a store from
    /// before the record or a new one).
    pub fn owner(&self) -> Result<Option<StoreOwner>> {
        use rusqlite::OptionalExtension;
        self.with_conn(|c| {
            c.query_row(
                "SELECT domain, server FROM store_owner WHERE profile = ?1",
                [&self.profile],
                |r| {
                    Ok(StoreOwner {
                        domain: r.get(0)?,
                        server: r.get(1)?,
                    })
                },
            )
            .optional()
        })
    }

    /// Records the business this profile's rows belong to.
    pub fn bind_owner(&self, owner: &StoreOwner, at: chrono::DateTime<chrono::Utc>) -> Result<()> {
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO store_owner (profile, domain, server, bound_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (profile) DO UPDATE SET \
                 domain = excluded.domain, server = excluded.server, bound_at = excluded.bound_at",
                rusqlite::params![
                    self.profile,
                    owner.domain,
                    owner.server,
                    super::rows::to_ms(at)
                ],
            )
            .map(|_| ())
        })
    }
}

impl SqliteStore {
    /// The folder that holds the store of `profile` under `data_dir` (see [`Self::path_for`]).
    pub fn dir_for(data_dir: &Path, profile: &str) -> PathBuf {
        data_dir.join("profiles").join(safe_name(profile))
    }

    /// Moves the store of `profile` (its whole folder: the database, its WAL and lock files)
    /// to `data_dir/archive/<profile>-<UTC time>/`, so that nothing of it is used again and
    /// nothing is lost. `None` when the profile has no store.
    pub fn archive(data_dir: &Path, profile: &str) -> Result<Option<PathBuf>> {
        let dir = Self::dir_for(data_dir, profile);
        match std::fs::symlink_metadata(&dir) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&format!("checking {}", dir.display()), &e)),
        }
        let root = data_dir.join("archive");
        crate::fsutil::private_dir(&root)?;
        let base = format!(
            "{}-{}",
            safe_name(profile),
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        );
        for n in 1..100 {
            let to = if n == 1 {
                root.join(&base)
            } else {
                root.join(format!("{base}-{n}"))
            };
            if std::fs::symlink_metadata(&to).is_ok() {
                continue;
            }
            std::fs::rename(&dir, &to).map_err(|e| {
                Error::io(&format!("moving {} to {}", dir.display(), to.display()), &e)
            })?;
            return Ok(Some(to));
        }
        Err(Error::internal(format!(
            "no free archive folder name under {}",
            root.display()
        )))
    }
}

thread_local! {
    /// Set by [`without_waiting`] on the thread that runs it.
    static NO_WAIT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every write transaction it opens on this thread failing at once (`database`,
/// "database is locked") instead of waiting up to [`BUSY_TIMEOUT`] while another connection
/// writes. For a write that a read does on the side and may skip (the alert evaluation before
/// `keyward alerts` lists them): a read never waits on a writer. Call it inside the blocking
/// closure, where the store runs.
pub fn without_waiting<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            NO_WAIT.set(self.0);
        }
    }
    let _restore = Restore(NO_WAIT.replace(true));
    f()
}

/// A profile name as a file name: `[A-Za-z0-9._-]`, anything else as `_`.
pub(crate) fn safe_name(profile: &str) -> String {
    profile
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Connection settings, in one place: WAL, `synchronous=NORMAL`, `busy_timeout`, foreign keys.
/// WAL is set only on a database that is not in it yet (setting it takes a lock; a database
/// stays in WAL once set), so opening a current database writes nothing.
pub fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
    // Read first: the mode of a database in WAL is known once its header has been read.
    user_version(conn)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(db_err)?;
    // In-memory databases answer "memory"; that is fine.
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        let _mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(db_err)?;
    }
    conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
        .map_err(db_err)?;
    Ok(())
}

/// Applies the pending migrations in one transaction; refuses a database from a newer Keyward.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let current: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db_err)?;
    if current > SCHEMA_VERSION {
        return Err(too_new(current));
    }
    for sql in MIGRATIONS.iter().skip(current.max(0) as usize) {
        tx.execute_batch(sql).map_err(db_err)?;
    }
    if current != SCHEMA_VERSION {
        tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
            .map_err(db_err)?;
    }
    tx.commit().map_err(db_err)
}

/// The schema version a database records (a read: no lock beyond a reader's).
fn user_version(conn: &Connection) -> Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db_err)
}

fn too_new(found: i64) -> Error {
    Error::new(
        ErrorCode::DatabaseTooNew,
        format!(
            "the local database has schema version {found}, newer than this Keyward \
             understands ({SCHEMA_VERSION})"
        ),
        "It was written by a newer Keyward. Upgrade Keyward, or set KEYWARD_HOME to another \
         directory to start a fresh cache.",
    )
}

/// Maps a SQLite error to `Error { code: Database, .. }` with a hint.
pub fn db_err(e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode as C;
    let hint = match e.sqlite_error_code() {
        Some(C::DatabaseBusy) | Some(C::DatabaseLocked) => {
            "Another Keyward (app or CLI) is writing to the database. Wait and try again."
        }
        Some(C::DatabaseCorrupt) | Some(C::NotADatabase) => {
            "The local database is damaged. Move it aside and run `keyward sync` to rebuild \
             the cache (the audit log lives in the same file)."
        }
        Some(C::DiskFull) => return disk_full_unnamed(),
        Some(C::ReadOnly) | Some(C::CannotOpen) | Some(C::PermissionDenied) => {
            "Check that Keyward's data directory exists and that you may write to it \
             (KEYWARD_HOME overrides it)."
        }
        _ => "This is probably a bug in Keyward. Please report it with the steps that led here.",
    };
    Error::new(ErrorCode::Database, format!("local database: {e}"), hint)
}

/// A SQLite error on the database at `path`: SQLITE_FULL, and the "disk I/O error" or
/// "readonly" that a full disk also gives (SQLite cannot grow the WAL's shared-memory index),
/// are `disk_full` naming the disk; anything else as [`db_err`].
fn file_err(path: &Path, e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::DiskFull) => disk_full(path),
        Some(C::SystemIoFailure) | Some(C::ReadOnly) if no_space_left(path) => disk_full(path),
        _ => db_err(e),
    }
}

/// `disk_full`: the disk holding the database at `path` is full.
pub(crate) fn disk_full(path: &Path) -> Error {
    let dir = path.parent().unwrap_or(path);
    Error::new(
        ErrorCode::DiskFull,
        format!("the disk holding {} is full", dir.display()),
        format!(
            "Free some space on the disk that holds {} (or set KEYWARD_HOME to a folder on \
             another disk), then try again. Reading the local data keeps working meanwhile; \
             nothing was written.",
            dir.display()
        ),
    )
}

fn disk_full_unnamed() -> Error {
    Error::new(
        ErrorCode::DiskFull,
        "the disk holding the local database is full",
        "Free some space on the disk that holds Keyward's data directory (KEYWARD_HOME \
         overrides it), then try again.",
    )
}

/// True when the file system holding `path` has no room for a small write: a probe (a
/// temporary file beside it, 64 KiB, synced, then deleted). Only asked after an error.
fn no_space_left(path: &Path) -> bool {
    use std::io::Write;
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return false;
    };
    let full = |e: &std::io::Error| e.kind() == std::io::ErrorKind::StorageFull;
    match tempfile::tempfile_in(dir) {
        Err(e) => full(&e),
        Ok(mut f) => f
            .write_all(&[0u8; 64 * 1024])
            .and_then(|()| f.sync_all())
            .is_err_and(|e| full(&e)),
    }
}

/// `file:<path>?mode=ro&immutable=1` with the path percent-encoded (`None`: not UTF-8).
fn immutable_uri(path: &Path) -> Option<String> {
    let raw = path.to_str()?;
    let mut out = String::from("file:");
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str("?mode=ro&immutable=1");
    Some(out)
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        db_err(e)
    }
}
