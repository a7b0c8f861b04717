//! One sync per profile at a time, across processes (the app, any number of `keyward`s).
//!
//! - A file store's lock is an OS file lock (`flock` on Unix, `LockFileEx` on Windows) on
//!   `<database>.sync-<profile>.lock` beside the database. The OS releases it when the holder
//!   exits, however it exits (a kill included), so a lock is never left behind. Two handles
//!   in one process exclude each other too (the lock belongs to the open file).
//! - An in-memory store (tests, demo without persistence) has an in-process flag instead.
//! - Another backend (the server's PostgreSQL store) hands in its own guard
//!   ([`SyncLock::from_guard`]): a session-level advisory lock on a connection that the guard
//!   holds, released when the guard drops or its connection ends.
//! - Only sync takes the lock. It also tells which `running` sync runs are alive: while nobody
//!   holds it, no sync is running, so a `running` row belongs to a process that died.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::params;

use super::db::{SqliteStore, safe_name};
use crate::error::{Error, ErrorCode, Result};

/// Held while a sync runs; dropping it (or the process ending) releases the lock.
pub struct SyncLock {
    _file: Option<File>,
    flag: Option<Arc<AtomicBool>>,
    /// Another backend's lock: released when dropped (a `Mutex` only to make it `Sync`).
    _guard: Option<std::sync::Mutex<Box<dyn Send>>>,
}

impl std::fmt::Debug for SyncLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self._file.is_some() {
            "file"
        } else if self.flag.is_some() {
            "in-process"
        } else {
            "backend"
        };
        f.debug_struct("SyncLock").field("kind", &kind).finish()
    }
}

impl SyncLock {
    /// A lock held by another backend's `guard`, which releases it when dropped.
    pub fn from_guard(guard: Box<dyn Send>) -> SyncLock {
        SyncLock {
            _file: None,
            flag: None,
            _guard: Some(std::sync::Mutex::new(guard)),
        }
    }
}

impl Drop for SyncLock {
    fn drop(&mut self) {
        if let Some(f) = &self.flag {
            f.store(false, Ordering::Release);
        }
        // A file lock goes with the file handle.
    }
}

/// The status that a sync run gets when its process died before finishing it.
pub const INTERRUPTED: &str = "interrupted";

impl SqliteStore {
    /// The lock file of this profile's syncs (`None` for an in-memory store).
    pub fn sync_lock_path(&self) -> Option<PathBuf> {
        let db = self.path.as_ref()?;
        let file = db.file_name()?.to_string_lossy().into_owned();
        Some(db.with_file_name(format!("{file}.sync-{}.lock", safe_name(&self.profile))))
    }

    /// Takes this profile's sync lock if nobody holds it; `None` when a sync is running (in
    /// this process or another).
    pub fn try_lock_sync(&self) -> Result<Option<SyncLock>> {
        let Some(path) = self.sync_lock_path() else {
            let flag = Arc::clone(&self.sync_flag);
            return Ok(flag
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
                .then(|| SyncLock {
                    _file: None,
                    flag: Some(flag),
                    _guard: None,
                }));
        };
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(crate::fsutil::PRIVATE_FILE_MODE);
        }
        let file = options.open(&path).map_err(|e| lock_err(&path, &e))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(SyncLock {
                _file: Some(file),
                flag: None,
                _guard: None,
            })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(lock_err(&path, &e)),
        }
    }

    /// Marks every `running` run of this profile `interrupted` (their process is gone: the
    /// caller holds the lock, so none of them is alive). `finished_at` stays NULL: when the
    /// process died is not known. Returns how many.
    pub fn runs_interrupt_dead(&self, _held: &SyncLock) -> Result<usize> {
        self.with_conn(|c| {
            c.execute(
                "UPDATE sync_runs SET status = ?2 WHERE profile = ?1 AND status = 'running'",
                params![self.profile, INTERRUPTED],
            )
        })
    }
}

fn lock_err(path: &std::path::Path, e: &std::io::Error) -> Error {
    Error::new(
        ErrorCode::Io,
        format!("cannot use the sync lock {}: {e}", path.display()),
        "Check that Keyward's data directory exists and that you may write to it \
         (KEYWARD_HOME overrides it).",
    )
}

/// `sync_in_progress`: another sync of `profile` holds the lock.
pub fn sync_in_progress(profile: &str) -> Error {
    Error::new(
        ErrorCode::SyncInProgress,
        format!("another sync of profile {profile:?} is running (in the app or another `keyward`)"),
        "Wait for it to finish: its keys appear as it goes. `keyward sync --wait` starts as \
         soon as it ends. Nothing was changed.",
    )
}
