//! Types that only the shell has: the session the window shows and the sync status line.
//! They cross IPC, so they derive their TypeScript (ts-rs, exported to `ui/src/lib/bindings`).

use chrono::{DateTime, Utc};
use keyward_core::Error;
use keyward_core::config::Settings;
use keyward_core::profiles::{ProfileInfo, ProfileInput};
use keyward_core::secret::Secret;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What the window shows: the welcome screen, a Kinde profile, or the embedded demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Mode {
    Welcome,
    Profile,
    Demo,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AppStatus {
    pub mode: Mode,
    /// The open profile (`None` on the welcome screen and in the demo).
    pub profile: Option<String>,
    pub profiles: Vec<ProfileInfo>,
    pub settings: Settings,
}

/// A new profile from the Connect form. The secret goes to the keyring, nowhere else.
#[derive(Debug, Deserialize, TS)]
#[ts(export)]
pub struct NewProfile {
    #[serde(flatten)]
    pub profile: ProfileInput,
    #[ts(type = "string")]
    pub client_secret: Secret,
}

/// The sync status line (also sent as the `sync-state` event after every sync).
#[derive(Debug, Clone, Default, Serialize, TS)]
#[ts(export)]
pub struct SyncState {
    pub last_sync: Option<DateTime<Utc>>,
    pub running: bool,
    /// Kinde was unreachable at the last attempt; the UI shows cached data.
    pub offline: bool,
    pub last_error: Option<Error>,
}

/// Desktop notifications in this session (the Alerts screen and Settings show it).
#[derive(Debug, Clone, Default, Serialize, TS)]
#[ts(export)]
pub struct NotifyState {
    /// Notifications handed to the desktop's notification service.
    pub sent: u32,
    /// The title of the last one.
    pub last_title: Option<String>,
    pub last_at: Option<DateTime<Utc>>,
    /// Why the last one could not be sent (none when it was).
    pub last_error: Option<String>,
}

/// The About dialog: the version and where Keyward keeps its files and logs.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AboutInfo {
    pub name: String,
    pub version: String,
    /// The app identifier (debug builds have their own, so that they never touch real data).
    pub identifier: String,
    /// The data folder of the open session (its SQLite store): the demo's own folder in demo
    /// mode, else the profile's data folder.
    pub data_dir: String,
    /// Where `config.toml` (profiles and settings; never a secret) lives.
    pub config_dir: String,
    /// The platform log folder (rotated, size-capped log files).
    pub log_dir: String,
}
