//! App-wide settings (plain data and its checks): the sync interval and concurrency, the stale and rotation windows, the
//! handover quiet period, the default profile, the alerts announced on the desktop, whether
//! the app keeps watching with its window closed and how long raw history is kept.

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
    /// Days a raw history sample is kept before it is rolled up into verifications per hour
    /// (the day's last verification and addresses kept; per day after a year). Absent: 90.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub history_raw_days: Option<u32>,
}

/// Raw history retention when [`Settings::history_raw_days`] is absent, in days.
pub const HISTORY_RAW_DAYS: u32 = 90;

/// The shortest raw history retention: the spike rule's baseline reads a week before the
/// newest rows, and a week more keeps every alert rule on raw rows.
pub const HISTORY_RAW_DAYS_MIN: u32 = 14;

/// The longest raw history retention (ten years).
pub const HISTORY_RAW_DAYS_MAX: u32 = 3650;

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
            history_raw_days: None,
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
        self.check_history()
    }

    /// Checks the raw history retention (called with the sync settings, which save it).
    pub fn check_history(&self) -> Result<()> {
        let (min, max) = (HISTORY_RAW_DAYS_MIN, HISTORY_RAW_DAYS_MAX);
        match self.history_raw_days {
            Some(d) if !(min..=max).contains(&d) => Err(Error::invalid_input(
                "history_raw_days",
                format!("{d} is outside {min}..={max}"),
                format!(
                    "Give a whole number of days from {min} to {max} in [settings] in \
                     config.toml, or leave history_raw_days out to keep {HISTORY_RAW_DAYS}."
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Days raw history is kept: the setting within its bounds, or the default.
    pub fn history_raw_days(&self) -> u32 {
        self.history_raw_days
            .unwrap_or(HISTORY_RAW_DAYS)
            .clamp(HISTORY_RAW_DAYS_MIN, HISTORY_RAW_DAYS_MAX)
    }
}
