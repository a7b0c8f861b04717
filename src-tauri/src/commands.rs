//! Keyward's IPC commands: the shell's own (session, sync channel, dialogs, clipboard, desktop)
//! here, then every operation of `keyward_core::operations`, which declares them once for every
//! front end. `declare_commands!` turns both into the commands, the invoke handler, the
//! TypeScript wrappers and the capability; `build.rs` reads the `fn name(` lines of this file
//! and of the core's list for the permissions.

use keyward_core::export::{ExportFormat, ExportSummary, ExportWhat};
use keyward_core::leaks::scan::ScanOptions;
use keyward_core::model::doctor::DoctorReport;
use keyward_core::model::key::{CachedKeys, KeyFilter};
use keyward_core::model::leak::ScanReport;
use keyward_core::model::sync::{SyncProgress, SyncSummary};
use keyward_core::profiles::{ProfileDraft, ProfileUpdate};
use keyward_core::remote::Me;
use keyward_core::{export, leaks, profiles};

use crate::declare::declare_commands;
use crate::team::{NewTeamProfile, TeamDraft, TeamEdit, TeamStatus};
use crate::types::{AboutInfo, AppStatus, NewProfile, NotifyState, SyncState};

keyward_core::operations!(declare_commands {
    /// What the window shows: the welcome screen, a profile or the demo.
    fn app_status(app, shell) -> AppStatus { shell.status().await }
    /// Saves a profile (the secret goes to the OS keyring) and opens it.
    fn profile_add(app, shell, input: NewProfile) -> AppStatus { let name = profiles::add(&shell.base()?, input.profile, Some(input.client_secret)).await?.info.profile.name; shell.open_profile(&name).await?; shell.status().await }
    /// Edits a profile in one step (domain, client id, environment, a new secret into the OS keyring; the default stays the default) and re-opens it if it is open.
    fn profile_update(app, shell, name: String, update: ProfileUpdate) -> AppStatus { profiles::update(&shell.base()?, &name, update).await?; if shell.status().await?.profile.as_deref() == Some(name.as_str()) { shell.open_profile(&name).await?; } shell.status().await }
    /// Opens another profile.
    fn profile_select(app, shell, name: String) -> AppStatus { shell.open_profile(&name).await?; shell.status().await }
    /// Removes a profile and its keyring entry.
    fn profile_remove(app, shell, name: String) -> AppStatus { profiles::remove(&shell.base()?, &name).await?; shell.profile_removed(&name).await?; shell.status().await }
    /// The connection doctor on credentials typed in the Connect form (nothing saved).
    fn profile_test(app, shell, draft: ProfileDraft) -> DoctorReport { profiles::test(&shell.base()?, Some(draft)).await }
    /// "Test connection" of a Keyward Server: the member and role its token belongs to (nothing saved).
    fn team_check(app, shell, draft: TeamDraft) -> Me { keyward_core::api::team_check(&shell.base()?, &draft.server, &draft.token).await }
    /// Saves a team profile (its server; the member's token goes to the OS keyring, after `/api/v1/me` accepted it) and opens it.
    fn team_profile_add(app, shell, input: NewTeamProfile) -> AppStatus { let name = profiles::add_team(&shell.base()?, &input.name, &input.server, Some(input.token), None, true).await?.0.info.profile.name; shell.open_profile(&name).await?; shell.status().await }
    /// Edits a team profile (its server, a new token into the OS keyring; checked with the server first) and re-opens it if it is open.
    fn team_profile_update(app, shell, name: String, edit: TeamEdit) -> AppStatus { keyward_core::api::team_update(&shell.base()?, &name, edit.server.as_deref(), edit.token).await?; if shell.status().await?.profile.as_deref() == Some(name.as_str()) { shell.open_profile(&name).await?; } shell.status().await }
    /// The open team profile's member and role, and the least role of every operation (the UI disables what the role may not do).
    fn team_status(app, shell) -> TeamStatus { Ok(crate::team::status(&shell).await) }
    /// Starts the embedded demo sandbox and opens it.
    fn demo_start(app, shell) -> AppStatus { shell.start_demo().await?; shell.status().await }
    /// Leaves the demo (one click): back to the default profile or the welcome screen.
    fn demo_leave(app, shell) -> AppStatus { shell.leave_demo().await?; shell.status().await }
    /// Saves the app settings (sync interval, stale and rotation windows).
    fn settings_set(app, shell, settings: keyward_core::config::Settings) -> AppStatus { shell.settings_set(settings).await?; shell.status().await }
    /// Every key: from the local store, after an incremental sync unless `offline`; on a team profile, the team's list from its Keyward Server (the last one kept here when it is unreachable).
    fn keys_list(app, shell, filter: KeyFilter, offline: bool) -> CachedKeys { shell.keys_list(&filter, offline).await }
    /// Syncs the open profile; progress arrives on the channel; `sync_cancel` stops it.
    fn sync_start(app, shell, full: bool; channel on_progress: SyncProgress) -> SyncSummary { shell.sync(&app, full, Some(on_progress)).await }
    /// Stops the running sync, if any.
    fn sync_cancel(app, shell) -> () { shell.cancel_sync(); Ok(()) }
    /// The sync status line.
    fn sync_state(app, shell) -> SyncState { Ok(shell.sync_state_full().await) }
    /// Asks where to save (a native dialog), then exports there; `null` when cancelled.
    fn export_to(app, shell, what: ExportWhat, format: ExportFormat) -> Option<ExportSummary> { match crate::dialogs::save_path(&app, what, format).await { Some(p) => export::to_file(&*shell.ctx().await?, what, format, &p).await.map(Some), None => Ok(None) } }
    /// Copies a one-time secret; the clipboard is cleared after the returned number of seconds.
    fn clipboard_copy(app, shell, text: String) -> u32 { crate::clipboard::copy_secret(&app, &shell, text) }
    /// Clears the clipboard now if it still holds the copied secret.
    fn clipboard_clear(app, shell) -> () { crate::clipboard::clear(&app, &shell) }
    /// Copies non-secret text, such as a key id.
    fn copy_text(app, shell, text: String) -> () { crate::clipboard::copy_text(&app, text) }
    /// Desktop notifications this session: how many went to the desktop, the last one.
    fn notify_state(app, shell) -> NotifyState { Ok(shell.notify_state()) }
    /// Sends a test desktop notification (Settings).
    fn notify_test(app, shell) -> NotifyState { shell.notify(&app, "Keyward notifications work", "Alerts of the kinds you chose will appear like this."); Ok(shell.notify_state()) }
    /// Asks for a folder to scan; `None` when the user cancels.
    fn scan_pick_folder(app, shell) -> Option<String> { Ok(crate::dialogs::pick_folder(&app).await.map(|p| p.to_string_lossy().into_owned())) }
    /// Scans folders or files for Kinde key secrets (never verified; shown masked).
    fn scan_paths(app, shell, paths: Vec<String>) -> ScanReport { let paths = crate::dialogs::scan_targets(paths)?; leaks::scan(&*shell.ctx().await?, paths, ScanOptions::default()).await }
    /// The About dialog: version, data, config and log folders.
    fn about(app, shell) -> AboutInfo { crate::about::about(&app, &shell).await }
    /// Opens the session's data folder (and only that) in the file manager; returns its path.
    fn open_data_folder(app, shell) -> String { crate::about::open_data_folder(&shell).await }
});
