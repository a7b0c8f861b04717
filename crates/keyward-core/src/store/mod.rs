//! The local SQLite store: cached keys, verification history, audit log, re-issue links and
//! sync runs.
//!
//! - [`Store`] is the contract every capability uses; [`SqliteStore`] fills it. One store per
//!   profile (rows carry the profile, so several profiles may share a file).
//! - WAL, `synchronous=NORMAL`, `busy_timeout` and foreign keys are set in one place
//!   ([`configure`]).
//! - Migrations are embedded (`migrations/*.sql`) and applied in one transaction, guarded by
//!   `PRAGMA user_version`: a database written by a newer Keyward is refused with
//!   [`crate::ErrorCode::DatabaseTooNew`].
//! - Every method is synchronous; async callers use `tokio::task::spawn_blocking`.
//! - Nothing secret is ever written here.
//! - The contract is also a test suite (`contract_suite`, `store_contract_tests!`, behind the
//!   cargo feature `store-contract` for other crates): core runs it on SQLite files,
//!   keyward-server on PostgreSQL.

mod alerts;
mod audit;
mod contract;
#[cfg(any(test, feature = "store-contract"))]
pub mod contract_suite;
mod db;
mod demo;
mod history;
mod keys;
mod lock;
mod reconcile;
mod rows;
mod runs;
mod view;
mod window_cache;
mod window_index;

pub use contract::Store;
pub use db::{
    BUSY_TIMEOUT, DB_FILE, SCHEMA_VERSION, SqliteStore, StoreOwner, configure, db_err, migrate,
    without_waiting,
};
pub use demo::{HistoryAnchor, PrefillOutcome};
pub use history::RawHistoryRow;
pub use keys::{DetailOutcome, KeyState, ListingOutcome, MissingNames, PageEntry, PageOutcome};
pub use lock::{INTERRUPTED, SyncLock, sync_in_progress};
pub use rows::{from_ms, to_ms};
pub use runs::RunProgress;
pub use view::{CachedKey, MAX_WINDOW, check_window, search_terms};

#[cfg(test)]
mod tests;
