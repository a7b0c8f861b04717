//! THE list of Keyward's IPC commands. Each body adapts arguments and calls one operation.
//! `declare_commands!` turns this list into the commands, the invoke handler, the TypeScript
//! wrappers and the capability; `build.rs` reads the `fn name(` lines for the permissions.

use chrono::{DateTime, Duration, Utc};
use keyward_core::alerts::{Alert, AlertFilter, AlertList, KeyMeta, Mute, MuteTarget, Policy};
use keyward_core::doctor::{DoctorKeyInput, DoctorReport};
use keyward_core::export::{ExportFormat, ExportSummary, ExportWhat};
use keyward_core::insights::Insights;
use keyward_core::model::{Api, KeyFilter, KeyView, Org, User};
use keyward_core::ops::{
    self, CachedKeys, CreateKeyInput, KeyChanges, Migration, NewKey, ProfileDraft, Reissued,
    RevokeSummary,
};
use keyward_core::ops::{LeakAction, LeakRemediation, PolicyView, ScanReport};
use keyward_core::scan::{ScanOptions, SecretHit};
use keyward_core::store::{AuditEntry, AuditFilter, Bucket, KeyHistory};
use keyward_core::sync::{SyncProgress, SyncSummary};

use crate::declare::declare_commands;
use crate::types::{AboutInfo, AppStatus, NewProfile, NotifyState, SyncState};

declare_commands! {
    /// What the window shows: the welcome screen, a profile or the demo.
    fn app_status(app, shell) -> AppStatus { shell.status().await }
    /// Saves a profile (the secret goes to the OS keyring) and opens it.
    fn profile_add(app, shell, input: NewProfile) -> AppStatus { let name = ops::profile_add(&shell.base()?, input.profile, Some(input.client_secret)).await?.info.profile.name; shell.open_profile(&name).await?; shell.status().await }
    /// Opens another profile.
    fn profile_select(app, shell, name: String) -> AppStatus { shell.open_profile(&name).await?; shell.status().await }
    /// Removes a profile and its keyring entry.
    fn profile_remove(app, shell, name: String) -> AppStatus { ops::profile_remove(&shell.base()?, &name).await?; shell.profile_removed(&name).await?; shell.status().await }
    /// The connection doctor on credentials typed in the Connect form (nothing saved).
    fn profile_test(app, shell, draft: ProfileDraft) -> DoctorReport { ops::profile_test(&shell.base()?, Some(draft)).await }
    /// Starts the embedded demo sandbox and opens it.
    fn demo_start(app, shell) -> AppStatus { shell.start_demo().await?; shell.status().await }
    /// Leaves the demo (one click): back to the default profile or the welcome screen.
    fn demo_leave(app, shell) -> AppStatus { shell.leave_demo().await?; shell.status().await }
    /// Saves the app settings (sync interval, stale and rotation windows).
    fn settings_set(app, shell, settings: keyward_core::config::Settings) -> AppStatus { shell.settings_set(settings).await?; shell.status().await }
    /// Every key from the local store, after an incremental sync unless `offline`.
    fn keys_list(app, shell, filter: KeyFilter, offline: bool) -> CachedKeys { let c = ops::keys_list_cached(&*shell.ctx().await?, &filter, offline).await?; shell.note_cache(&c); Ok(c) }
    /// One key, fresh from Kinde.
    /// Keys changed since a change cursor (0: all), from the cache, with the current cursor: a
    /// sync's delta for the table.
    fn keys_changed_since(app, shell, since_rev: f64) -> KeyChanges { let since = if since_rev.is_finite() && since_rev > 0.0 { since_rev.min(9.0e15) as i64 } else { 0 }; ops::keys_changed_since(&*shell.ctx().await?, since).await }

    fn key_show(app, shell, id: String) -> KeyView { ops::key_show(&*shell.ctx().await?, &id).await }
    /// Creates a key; its secret is in the answer, once.
    fn key_create(app, shell, input: CreateKeyInput) -> NewKey { ops::key_create(&*shell.ctx().await?, input).await }
    /// Rotates a key: the old secret stops working at once.
    fn key_rotate(app, shell, id: String) -> NewKey { ops::key_rotate(&*shell.ctx().await?, &id).await }
    /// Re-issues a key (same or new scopes); the old one keeps working until revoked.
    fn key_reissue(app, shell, id: String, scopes: Option<Vec<String>>) -> Reissued { ops::key_reissue(&*shell.ctx().await?, &id, scopes).await }
    /// Revokes one or many keys; every key gets an outcome.
    fn keys_revoke(app, shell, ids: Vec<String>) -> RevokeSummary { ops::keys_revoke(&*shell.ctx().await?, &ids).await }
    /// The APIs with their scopes.
    fn apis_list(app, shell) -> Vec<Api> { ops::apis_list(&*shell.ctx().await?).await }
    /// Organizations, optionally searched.
    fn orgs_list(app, shell, search: Option<String>) -> Vec<Org> { ops::orgs_list(&*shell.ctx().await?, search.as_deref()).await }
    /// Users, optionally searched.
    fn users_list(app, shell, search: Option<String>) -> Vec<User> { ops::users_list(&*shell.ctx().await?, search.as_deref()).await }
    /// The Key doctor on a pasted key (it counts as one verification).
    fn doctor_key(app, shell, input: DoctorKeyInput) -> DoctorReport { ops::doctor_key(&*shell.ctx().await?, &input).await }
    /// The connection doctor for the open profile.
    fn doctor_connection(app, shell) -> DoctorReport { ops::doctor_connection(&*shell.ctx().await?).await }
    /// Syncs the open profile; progress arrives on the channel; `sync_cancel` stops it.
    fn sync_start(app, shell, full: bool; channel on_progress: SyncProgress) -> SyncSummary { shell.sync(&app, full, Some(on_progress)).await }
    /// Stops the running sync, if any.
    fn sync_cancel(app, shell) -> () { shell.cancel_sync(); Ok(()) }
    /// The sync status line.
    fn sync_state(app, shell) -> SyncState { Ok(shell.sync_state_full().await) }
    /// A key's verifications per hour or day over the last `since_days` days.
    fn key_history(app, shell, id: String, bucket: Bucket, since_days: u32) -> KeyHistory { ops::key_history(&*shell.ctx().await?, &id, bucket, Some(Utc::now() - Duration::days(i64::from(since_days.max(1))))).await }
    /// Totals per org and API, top keys over `recent_days`, stale keys, rotation due.
    fn insights(app, shell, recent_days: u32) -> Insights { let ctx = shell.ctx().await?; let opts = ops::insights_options(&ctx).await?; ops::insights(&ctx, keyward_core::insights::InsightsOptions { recent_days, ..opts }).await }
    /// The audit log, newest first.
    fn audit_list(app, shell, filter: AuditFilter) -> Vec<AuditEntry> { ops::audit_list(&*shell.ctx().await?, filter).await }
    /// Open re-issues and whether their old keys are safe to revoke.
    fn migrations_list(app, shell) -> Vec<Migration> { ops::migrations_list(&*shell.ctx().await?).await }
    /// Asks where to save (a native dialog), then exports there; `null` when cancelled.
    fn export_to(app, shell, what: ExportWhat, format: ExportFormat) -> Option<ExportSummary> { match crate::dialogs::save_path(&app, what, format).await { Some(p) => ops::export(&*shell.ctx().await?, what, format, &p).await.map(Some), None => Ok(None) } }
    /// Copies a one-time secret; the clipboard is cleared after the returned number of seconds.
    fn clipboard_copy(app, shell, text: String) -> u32 { crate::clipboard::copy_secret(&app, &shell, text) }
    /// Clears the clipboard now if it still holds the copied secret.
    fn clipboard_clear(app, shell) -> () { crate::clipboard::clear(&app, &shell) }
    /// Copies non-secret text, such as a key id.
    fn copy_text(app, shell, text: String) -> () { crate::clipboard::copy_text(&app, text) }

    /// Alerts (newest first) and the open counts that the navigation shows.
    fn alerts_list(app, shell, filter: AlertFilter) -> AlertList { ops::alerts_list(&*shell.ctx().await?, filter).await }

    /// Acknowledges alerts; returns them as acknowledged.
    fn alerts_ack(app, shell, ids: Vec<u32>) -> Vec<Alert> { let ctx = shell.ctx().await?; let mut out = Vec::with_capacity(ids.len()); for id in ids { out.push(ops::alert_ack(&ctx, i64::from(id)).await?); } Ok(out) }

    /// Mutes a key or a kind; returns how many open alerts it muted.
    fn alerts_mute(app, shell, target: MuteTarget) -> u32 { ops::alerts_mute(&*shell.ctx().await?, target).await }

    /// Lifts a mute.
    fn alerts_unmute(app, shell, target: MuteTarget) -> bool { ops::alerts_unmute(&*shell.ctx().await?, target).await }

    /// The mutes in force.
    fn alert_mutes(app, shell) -> Vec<Mute> { ops::alert_mutes(&*shell.ctx().await?).await }

    /// Desktop notifications this session: how many went to the desktop, the last one.
    fn notify_state(app, shell) -> NotifyState { Ok(shell.notify_state()) }

    /// Sends a test desktop notification (Settings).
    fn notify_test(app, shell) -> NotifyState { shell.notify(&app, "Keyward notifications work", "Alerts of the kinds you chose will appear like this."); Ok(shell.notify_state()) }

    /// The profile's policy and the keys' local expiry dates and canary marks.
    fn policy_show(app, shell) -> PolicyView { ops::policy_show(&*shell.ctx().await?).await }

    /// Stores the profile's policy.
    fn policy_set(app, shell, policy: Policy) -> PolicyView { ops::policy_set(&*shell.ctx().await?, policy).await }

    /// Sets or clears a key's local "expires on" date.
    fn key_expires_set(app, shell, id: String, on: Option<DateTime<Utc>>) -> KeyMeta { ops::key_expires_set(&*shell.ctx().await?, &id, on).await }

    /// Marks or unmarks a key as a canary.
    fn canary_mark(app, shell, id: String, canary: bool) -> KeyMeta { ops::canary_mark(&*shell.ctx().await?, &id, canary).await }

    /// Creates a key marked as a canary; the secret is shown once.
    fn canary_create(app, shell, input: CreateKeyInput) -> NewKey { ops::canary_create(&*shell.ctx().await?, input).await }

    /// Asks for a folder to scan; `None` when the user cancels.
    fn scan_pick_folder(app, shell) -> Option<String> { Ok(crate::dialogs::pick_folder(&app).await.map(|p| p.to_string_lossy().into_owned())) }

    /// Scans folders or files for Kinde key secrets (never verified; shown masked).
    fn scan_paths(app, shell, paths: Vec<String>) -> ScanReport { let paths = crate::dialogs::scan_targets(paths)?; ops::scan(&*shell.ctx().await?, paths, ScanOptions::default()).await }

    /// Rotates or re-issues a leaked key and records the leak; the new secret is shown once.
    fn leak_remediate(app, shell, key_id: String, action: LeakAction, found: Vec<SecretHit>) -> LeakRemediation { ops::leak_remediate(&*shell.ctx().await?, &key_id, action, &found).await }

    /// The About dialog: version, data, config and log folders.
    fn about(app, shell) -> AboutInfo { crate::about::about(&app, &shell).await }

    /// Opens the session's data folder (and only that) in the file manager; returns its path.
    fn open_data_folder(app, shell) -> String { crate::about::open_data_folder(&shell).await }
}
