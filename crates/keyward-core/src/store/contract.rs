//! The store's contract: everything a capability may ask of the record, as one trait.
//!
//! The SQLite store ([`SqliteStore`]) fills it for the app and the CLI; a server fills it with
//! PostgreSQL. Capabilities hold an `Arc<dyn Store>` and never see SQL. Every method blocks:
//! async callers run it on the blocking pool (`ctx::blocking`).
//!
//! The list below is declared once: the macro makes the trait and the SQLite implementation
//! (which forwards each method to the `SqliteStore` method of the same name) from it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::db::SqliteStore;
use super::demo::{HistoryAnchor, PrefillOutcome};
use super::history::RawHistoryRow;
use super::keys::{DetailOutcome, KeyState, ListingOutcome, MissingNames, PageEntry, PageOutcome};
use super::lock::SyncLock;
use super::runs::RunProgress;
use super::view::CachedKey;
use crate::error::Result;
use crate::model::alert::{
    Alert, AlertEval, AlertFilter, AlertList, AlertRules, KeyMeta, Mute, MuteTarget, Policy,
};
use crate::model::audit::{AuditClose, AuditEntry, AuditFilter, NewAudit};
use crate::model::history::{
    Bucket, BucketCount, HistoryPoint, HistoryTotals, KeyHistory, ReissueLink, RollupSummary,
};
use crate::model::key::{ApiKey, KeyFilter, KeyStatus, KeyView, KeyWindow, KeyWindowQuery};
use crate::model::sync::SyncRunRecord;

macro_rules! contract {
    (
        $(
            $(#[doc = $doc:literal])*
            fn $name:ident (&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty;
        )*
    ) => {
        /// The record of one profile: cached keys, history, audit, re-issues, alerts and sync
        /// runs (see the module docs).
        pub trait Store: Send + Sync + std::fmt::Debug {
            $(
                $(#[doc = $doc])*
                fn $name(&self $(, $arg: $ty)*) -> $ret;
            )*
        }

        impl Store for SqliteStore {
            $(
                fn $name(&self $(, $arg: $ty)*) -> $ret {
                    SqliteStore::$name(self $(, $arg)*)
                }
            )*
        }
    };
}

contract! {
    /// All known keys of this profile, by key id.
    fn key_states(&self) -> Result<HashMap<String, KeyState>>;
    /// Writes one listed page in one transaction: upserts every key, a history row for each
    /// key whose counters changed (never one when nothing changed), and `seen_run`.
    fn apply_page(&self, run_id: Option<i64>, now: DateTime<Utc>, entries: &[PageEntry]) -> Result<PageOutcome>;
    /// After run `run_id`'s complete listing: keys that nothing observed since the run
    /// started are marked gone. A key is kept when this run saw it, when a later run saw it
    /// (`seen_run` is the last run that listed it, so an overlapping run may have overwritten
    /// this run's mark), or when anything else wrote it after this run started (a create or
    /// a re-read while the listing was under way). Only a key that was last seen by an
    /// earlier run, and not touched since this run started, is gone.
    fn mark_gone(&self, run_id: i64) -> Result<usize>;
    /// Writes one listed page in one transaction (see `list_one`): every key with what the
    /// listing carries, a new or changed key marked as owing its details (every key when
    /// `owe_all`, a full sync). No history row: those come with the details.
    fn apply_listing(&self, run_id: Option<i64>, now: DateTime<Utc>, keys: &[ApiKey], owe_all: bool) -> Result<ListingOutcome>;
    /// Writes detail answers in one transaction (see `detail_one`).
    fn apply_details(&self, now: DateTime<Utc>, details: &[ApiKey]) -> Result<DetailOutcome>;
    /// Ids of the keys whose details are owed (listed, not gone, detail not fetched since the
    /// listing changed), in id order.
    fn owed_details(&self) -> Result<Vec<String>>;
    /// Marks these keys gone (Kinde answered 404 to their detail after listing them).
    fn mark_gone_ids(&self, ids: &[String]) -> Result<usize>;
    /// The store's change cursor: the newest `rev` given to any key row (0: none yet).
    fn current_rev(&self) -> Result<i64>;
    /// Records that Keyward rotated a key at `at` (Kinde keeps only the creation date).
    fn set_rotated_on(&self, key_id: &str, at: DateTime<Utc>) -> Result<bool>;
    /// Sets the cached status of a key (after a revoke), without a detail fetch.
    /// The next sync sees the status unchanged and records nothing twice; the history row for
    /// the revoke is written now. Revoking the old key of a re-issue closes that handover
    /// (audited as `handover_close`), in the same transaction.
    fn set_status(&self, key_id: &str, status: KeyStatus, at: DateTime<Utc>) -> Result<bool>;
    /// Key ids whose owner or API name has not been resolved yet.
    fn keys_missing_names(&self) -> Result<Vec<MissingNames>>;
    /// Sets resolved owner and API names (`None` leaves a name as it is).
    fn set_names(&self, names: &[(String, Option<String>, Option<String>)]) -> Result<()>;
    /// The cached keys matching `filter`, newest first, gone keys last, with
    /// `spark_7d` filled (the flags and the search are the keys rules', applied above the store).
    fn list_keys(&self, filter: &KeyFilter, now: DateTime<Utc>) -> Result<Vec<KeyView>>;
    /// One cached key, if known.
    fn get_key(&self, id: &str, now: DateTime<Utc>) -> Result<Option<KeyView>>;
    /// Every key of this profile whose `rev` is above `since_rev` (gone ones included), in
    /// `rev` order, with `spark_7d` filled; and the store's change
    /// cursor, read first, so that a write racing this read is seen again next time rather
    /// than missed.
    fn keys_changed_since(&self, since_rev: i64, now: DateTime<Utc>) -> Result<(i64, Vec<KeyView>)>;
    /// One window of the keys table: the rows `offset..offset + limit` (at most
    /// [`super::view::MAX_WINDOW`]) of the keys matching `q` in its order, ties by id in the
    /// same direction, with `spark_7d` filled; how many match; the change cursor, read first;
    /// the per-status counts. The search is the one rule of `keys::rules`; the flags are its
    /// rules with `flag_days` = (stale days, rotation days). Flags on the rows are left false
    /// (the caller applies the rules).
    fn keys_window(&self, q: &KeyWindowQuery, offset: u32, limit: u32, flag_days: (u32, u32), now: DateTime<Utc>) -> Result<KeyWindow>;
    /// The ids of the keys matching `q` (search and filters; `revocable_only`: not revoked),
    /// in id order, at most `cap`.
    fn keys_matching_ids(&self, q: &KeyWindowQuery, revocable_only: bool, flag_days: (u32, u32), now: DateTime<Utc>, cap: u32) -> Result<Vec<String>>;
    /// All cached keys with row ids (insights, export).
    fn all_keys(&self) -> Result<Vec<CachedKey>>;
    /// Verifications per UTC day over the last 7 days (oldest first) of every key, one query.
    fn spark_7d(&self, now: DateTime<Utc>) -> Result<HashMap<i64, Vec<i64>>>;
    /// When the cache last held Kinde's whole listing: the end of the last successful sync,
    /// or the end of the listing of a later run (cancelled or killed in its details), if any.
    fn last_sync_at(&self) -> Result<Option<DateTime<Utc>>>;
    /// The row id of a cached key.
    fn kid_of(&self, key_id: &str) -> Result<Option<i64>>;
    /// A key's history since `since`: the observed points and verifications per bucket
    /// (every bucket from `since` to `now`, zeros included).
    fn key_history(&self, key_id: &str, bucket: Bucket, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<KeyHistory>;
    /// Verifications per bucket for row id `kid`, from `since` to `now` (zeros filled).
    /// Days come from the daily roll-up; hours from the history deltas.
    fn chart(&self, kid: i64, bucket: Bucket, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Vec<BucketCount>>;
    /// Verifications of every key since `since` (from the daily roll-up), by row id.
    fn recent_verifications(&self, since: DateTime<Utc>) -> Result<std::collections::HashMap<i64, i64>>;
    /// Verifications of all keys of this profile per UTC day, from `since` to `now` (zeros
    /// filled; from the daily roll-up).
    fn daily_totals(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Vec<BucketCount>>;
    /// Verifications of one key after `after` (sum of history deltas).
    fn verifications_after(&self, key_id: &str, after: DateTime<Utc>) -> Result<i64>;
    /// The whole history of this profile, in key then time order (export).
    fn all_history(&self) -> Result<Vec<(String, HistoryPoint)>>;
    /// Number of history rows of this profile (tests, benches).
    fn history_len(&self) -> Result<i64>;
    fn bulk_insert_history(&self, rows: &[RawHistoryRow]) -> Result<()>;
    /// Rolls up history older than `keep_raw_days` in transactions of about `batch` raw rows
    /// each: a key's raw rows of whole UTC days (never the day of its newest row, which the
    /// next observation is compared with) become verifications per hour with the day's last
    /// verification and distinct addresses; rolled days older than a year are folded into
    /// per-day counts. Charts, insights, the alert evidence and [`Store::history_totals`] read
    /// the same before and after; a process killed during it loses nothing. `between` is
    /// called after each committed transaction but the last, and stops the roll-up by
    /// answering false (the next one goes on). Nothing runs when the last complete roll-up
    /// reached the same days.
    fn roll_up_history(&self, now: DateTime<Utc>, keep_raw_days: u32, batch: u32, between: &dyn Fn(&RollupSummary) -> bool) -> Result<RollupSummary>;
    /// Every key's verifications over all history kept (raw, per hour, per day) and its
    /// newest last verification, by row id (tests and benches).
    fn history_totals(&self) -> Result<HashMap<i64, HistoryTotals>>;
    /// In one IMMEDIATE transaction: when no history row of this profile is older than
    /// `cutoff` and none is a demo row, reads every key's [`HistoryAnchor`] (keys first seen
    /// with `verification_count > 0`), asks `plan` for the rows to write, checks that each
    /// lies strictly before its key's first observed row, and inserts them (with their daily
    /// roll-up) as `source = 'demo'`.
    ///
    /// Only for the demo sandbox's store; see the module docs.
    fn prefill_demo_history(&self, cutoff: DateTime<Utc>, plan: &dyn Fn(&[HistoryAnchor]) -> Vec<RawHistoryRow>) -> Result<PrefillOutcome>;
    /// Number of synthesized demo history rows of this profile (tests).
    fn demo_history_len(&self) -> Result<i64>;
    /// Appends one audit row. `details` must never carry a secret (callers pass ids, names,
    /// scopes and what a reconcile found).
    fn audit_append(&self, at: DateTime<Utc>, a: &NewAudit<'_>) -> Result<i64>;
    /// Closes the `pending` audit row `id` (an intent written before a request to Kinde) with
    /// the answer's `outcome`; `key_id` and `key_name` fill in what the intent did not know
    /// (kept when `None`), `details` replaces the intent's when given. `false` when no pending
    /// row `id` of this profile exists (already closed, or unknown).
    fn audit_close(&self, id: i64, c: &AuditClose<'_>) -> Result<bool>;
    /// Audit rows matching `f`, newest first.
    fn audit_list(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>>;
    /// Records an old → new re-issue (idempotent).
    fn reissue_open(&self, old_id: &str, new_id: &str, at: DateTime<Utc>, old_count_at_open: Option<i64>) -> Result<()>;
    /// Closes every open re-issue whose old key is `old_id`; returns the closed links.
    fn reissue_close(&self, old_id: &str, at: DateTime<Utc>) -> Result<Vec<ReissueLink>>;
    /// Re-issue links, oldest first (`open_only`: those not closed yet).
    fn reissues(&self, open_only: bool) -> Result<Vec<ReissueLink>>;
    /// Sets (or clears) when the old key of the open re-issue `old_id` → `new_id` is revoked
    /// by the first sync after it; `false` when no such open re-issue exists.
    fn reissue_set_deadline(&self, old_id: &str, new_id: &str, old_expires_at: Option<DateTime<Utc>>) -> Result<bool>;
    /// Ambiguous and pending audit rows that no `reconcile` row answers yet, oldest first (a
    /// `pending` row left open is Keyward's own action whose answer was lost).
    fn ambiguous_pending(&self) -> Result<Vec<AuditEntry>>;
    /// Answers every pending ambiguous row from the cache, which the caller has just synced.
    /// Returns the `reconcile` rows written.
    fn reconcile_from_cache(&self, now: DateTime<Utc>) -> Result<Vec<AuditEntry>>;
    /// Runs `rules` over what was added to the store since the last evaluation, key by key,
    /// and stores what they raise, each alert once (by fingerprint), in one transaction. The
    /// rules are told the evaluation cursor (`None` the first time: the baseline).
    fn evaluate_alerts(&self, rules: &dyn AlertRules, now: DateTime<Utc>) -> Result<AlertEval>;
    /// Alerts matching `f`, newest first, with the open counts.
    fn alerts_list(&self, f: &AlertFilter) -> Result<AlertList>;
    /// Acknowledges one alert (idempotent); `NotFound` when the id is unknown.
    fn alert_ack(&self, id: i64, at: DateTime<Utc>) -> Result<Alert>;
    /// Mutes a key or a kind from now on; also mutes its open alerts. Returns how many.
    fn alert_mute(&self, t: &MuteTarget, at: DateTime<Utc>) -> Result<usize>;
    /// Lifts a mute (alerts raised while it was in force stay muted). `false`: there was none.
    fn alert_unmute(&self, t: &MuteTarget) -> Result<bool>;
    /// The mutes in force.
    fn alert_mutes(&self) -> Result<Vec<Mute>>;
    /// The stored policy of this profile, if one was set.
    fn policy(&self) -> Result<Option<Policy>>;
    /// Stores the policy of this profile.
    fn set_policy(&self, p: &Policy) -> Result<()>;
    /// Marks (or unmarks) a key as a canary. The key need not be cached yet.
    fn set_canary(&self, key_id: &str, canary: bool) -> Result<KeyMeta>;
    /// Sets (or clears) a key's local "expires on" date.
    fn set_expires_on(&self, key_id: &str, on: Option<DateTime<Utc>>) -> Result<KeyMeta>;
    /// A key's local metadata (defaults when none is kept).
    fn key_meta_of(&self, key_id: &str) -> Result<KeyMeta>;
    /// Every key with a canary mark or an expiry date.
    fn key_metas(&self) -> Result<Vec<KeyMeta>>;
    /// Starts a run (`status = running`); returns its id.
    fn run_start(&self, mode: &str, at: DateTime<Utc>) -> Result<i64>;
    /// Records that run `id` listed every key at `at` (see [`Store::last_sync_at`]).
    fn run_listed(&self, id: i64, at: DateTime<Utc>) -> Result<()>;
    /// Updates a run's counters (and, when `finished` is given, its final status).
    fn run_update(&self, id: i64, p: &RunProgress, finished: Option<(&str, DateTime<Utc>, i64)>) -> Result<()>;
    /// The most recent runs, newest first. A `running` run is reported (and recorded)
    /// `interrupted` when no sync holds the profile's sync lock: its process died (killed,
    /// crashed, powered off) before it could finish the run.
    fn runs(&self, limit: u32) -> Result<Vec<SyncRunRecord>>;
    /// The most recent runs as the table holds them (a dead run may still say `running`).
    fn runs_as_recorded(&self, limit: u32) -> Result<Vec<SyncRunRecord>>;
    /// The lock file of this profile's syncs (`None` for an in-memory store).
    fn sync_lock_path(&self) -> Option<PathBuf>;
    /// Takes this profile's sync lock if nobody holds it; `None` when a sync is running (in
    /// this process or another).
    fn try_lock_sync(&self) -> Result<Option<SyncLock>>;
    /// Marks every `running` run of this profile `interrupted` (their process is gone: the
    /// caller holds the lock, so none of them is alive). `finished_at` stays NULL: when the
    /// process died is not known. Returns how many.
    fn runs_interrupt_dead(&self, held: &SyncLock) -> Result<usize>;
    fn profile(&self) -> &str;
    fn path(&self) -> Option<&Path>;
    /// `PRAGMA integrity_check`: `Ok(())` when the database is sound.
    fn integrity_check(&self) -> Result<()>;
    /// The schema version recorded in the database.
    fn schema_version(&self) -> Result<i64>;
}
