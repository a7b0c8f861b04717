//! App-wide settings (plain data and its checks): the sync interval and concurrency, the stale and rotation windows, the
//! handover quiet period, the default profile, the alerts announced on the desktop and whether
//! the app keeps watching with its window closed.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, Result};
use crate::model::alert::AlertKind;
use crate::model::sync::{CONCURRENCY_LIMIT, DEFAULT_MAX_CONCURRENCY};

/// App-wide settings (the Settings screen and `[settings]` in config.toml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
#[ts(export)]
pub struct Settings {
    /// Background sync interval of the app, in minutes (0 = off).
    pub sync_interval_minutes: u32,
    /// A key with no verification in this many days is stale.
    pub stale_days: u32,
    /// A key older than this many days (since creation or last rotation) is due for rotation.
    pub rotation_days: u32,
    /// A re-issued key's predecessor is "safe to revoke" after this many quiet days.
    #[serde(alias = "migration_quiet_days")]
    pub handover_quiet_days: u32,
    /// The profile used when none is named and there are several.
    pub default_profile: Option<String>,
    /// The alert kinds that the app announces with a desktop notification.
    pub notify_kinds: Vec<AlertKind>,
    /// The cap of the sync's adaptive detail concurrency (1..=256, default 64).
    pub sync_max_concurrency: u32,
    /// Pins the sync's detail concurrency (1..=256); absent: adaptive (the default).
    pub sync_concurrency: Option<u32>,
    /// Keep watching when the window is closed (off by default): the app shows a tray icon
    /// (last sync, open alerts; Open, Sync now, Quit), closing the window only hides it so that
    /// background syncs and alert notifications go on, and the app starts at login, hidden.
    pub keep_watching: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sync_interval_minutes: 15,
            stale_days: 30,
            rotation_days: 90,
            handover_quiet_days: 7,
            default_profile: None,
            notify_kinds: AlertKind::NOTIFY_DEFAULT.to_vec(),
            sync_max_concurrency: DEFAULT_MAX_CONCURRENCY,
            sync_concurrency: None,
            keep_watching: false,
        }
    }
}

impl Settings {
    /// Checks the sync concurrency settings (a hand-edited config.toml included).
    pub fn check_sync(&self) -> Result<()> {
        let limit = CONCURRENCY_LIMIT;
        let check = |field: &str, v: u32| {
            if v == 0 || v > limit {
                return Err(Error::invalid_input(
                    field,
                    format!("{v} is outside 1..={limit}"),
                    format!(
                        "Give a whole number from 1 to {limit} in the settings (or \
                         [settings] in config.toml); leave sync_concurrency out to let the \
                         sync find its own."
                    ),
                ));
            }
            Ok(())
        };
        check("sync_max_concurrency", self.sync_max_concurrency)?;
        if let Some(c) = self.sync_concurrency {
            check("sync_concurrency", c)?;
        }
        Ok(())
    }
}
