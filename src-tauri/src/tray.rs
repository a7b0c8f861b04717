//! "Keep watching when the window is closed" (`settings.keep_watching`): the tray icon (the last
//! sync and the open alerts; Open, Sync now, Quit), closing the window hides it, and start at
//! login (tauri-plugin-autostart, hidden in the tray).
//!
//! The background sync and its alert notifications (`spawn_background_sync`, `Shell::sync`) run
//! whether the window is shown or not: with the setting on, only the window goes away.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Listener, Manager};
use tauri_plugin_autostart::ManagerExt as _;

use crate::shell::Shell;

/// The tray icon's id.
const TRAY_ID: &str = "keyward";
/// The arguments a start at login gives the app: it starts hidden, in the tray.
pub const AUTOSTART_ARG: &str = "--autostart";
/// The same by hand (`keyward-app --hidden`).
pub const HIDDEN_ARG: &str = "--hidden";
/// How often the tray's "Synced N min ago" is brought up to date between syncs.
const REFRESH_EVERY: Duration = Duration::from_secs(30);

const MENU_OPEN: &str = "open";
const MENU_SYNC: &str = "sync";
const MENU_QUIT: &str = "quit";

/// What the tray needs between events: whether the setting is on, and the menu's status line.
#[derive(Default)]
pub struct Watch {
    on: AtomicBool,
    status: Mutex<Option<MenuItem<tauri::Wry>>>,
}

impl Watch {
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::SeqCst)
    }
}

/// "Synced 3 min ago · 2 open alerts": the tray's status line (menu and tooltip).
/// `open_alerts` is `None` when there is no session to count them in.
pub fn status_text(
    last_sync: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    open_alerts: Option<u32>,
) -> String {
    let synced = match last_sync {
        None => "Not synced yet".to_string(),
        Some(t) => {
            let secs = (now - t).num_seconds().max(0);
            let mins = secs / 60;
            if mins < 1 {
                "Synced just now".to_string()
            } else if mins < 60 {
                format!("Synced {mins} min ago")
            } else if mins < 48 * 60 {
                format!("Synced {} h ago", mins / 60)
            } else {
                format!("Synced {} days ago", mins / (24 * 60))
            }
        }
    };
    match open_alerts {
        None => synced,
        Some(0) => format!("{synced} · no open alerts"),
        Some(1) => format!("{synced} · 1 open alert"),
        Some(n) => format!("{synced} · {n} open alerts"),
    }
}

/// The tooltip: the app's name over the status line.
pub fn tooltip_text(status: &str) -> String {
    format!("Keyward\n{status}")
}

/// Whether the app was started to sit in the tray (at login, or `--hidden`).
pub fn started_hidden(args: impl IntoIterator<Item = String>) -> bool {
    args.into_iter()
        .any(|a| a == AUTOSTART_ARG || a == HIDDEN_ARG)
}

/// At start-up: shows the tray if the setting is on, makes closing the window hide it (when on),
/// and keeps the tray's line current. (Whether the window shows at start is `run`'s: hidden
/// when started at login with the setting on, see [`started_hidden`].)
pub fn setup(app: &AppHandle, on: bool) {
    // On a team profile the app follows its server's events (started here, once, with the
    // tray: both watch the open session for as long as the app runs).
    crate::team::spawn_watcher(app.clone());
    app.manage(Watch::default());
    app.state::<Watch>().on.store(on, Ordering::SeqCst);
    if on {
        show_tray(app);
    }
    if let Some(w) = app.get_webview_window("main") {
        let handle = app.clone();
        let window = w.clone();
        w.on_window_event(move |e| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = e
                && handle.state::<Watch>().is_on()
            {
                api.prevent_close();
                let _ = window.hide();
                log::info!("window closed: hidden, Keyward keeps watching from the tray");
            }
        });
    }
    // The tray's line after every sync (the shell emits its state at the start and end).
    let handle = app.clone();
    app.listen_any(crate::tsgen::SYNC_STATE_EVENT, move |_| {
        let handle = handle.clone();
        tauri::async_runtime::spawn(async move { refresh(&handle).await });
    });
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            refresh(&handle).await;
            tokio::time::sleep(REFRESH_EVERY).await;
        }
    });
}

/// The setting was saved: the tray and the start at login follow it (only on a change, so that
/// a start-up entry the user removed by hand is not put back at every save).
pub fn apply(app: &AppHandle, on: bool) {
    let was = app.state::<Watch>().on.swap(on, Ordering::SeqCst);
    if was == on {
        return;
    }
    if on {
        show_tray(app);
        if let Err(e) = app.autolaunch().enable() {
            log::warn!("could not register Keyward to start at login: {e}");
        }
        let handle = app.clone();
        tauri::async_runtime::spawn(async move { refresh(&handle).await });
    } else {
        let _ = app.remove_tray_by_id(TRAY_ID);
        *app.state::<Watch>().status.lock() = None;
        if let Err(e) = app.autolaunch().disable() {
            log::warn!("could not stop Keyward from starting at login: {e}");
        }
    }
    log::info!(
        "keep watching when the window is closed: {}",
        if on { "on" } else { "off" }
    );
}

fn show_tray(app: &AppHandle) {
    if app.tray_by_id(TRAY_ID).is_some() {
        return;
    }
    if !tray_library_found() {
        // tray-icon loads the library at run time and panics without it: no tray instead. The
        // window still hides on close; launching Keyward again shows it.
        log::warn!(
            "no tray icon: libayatana-appindicator3 (or libappindicator3) is not installed; \
             install libayatana-appindicator3-1 to get it"
        );
        return;
    }
    match build_tray(app) {
        Ok(()) => log::info!("tray icon shown"),
        Err(e) => log::warn!("could not show the tray icon: {e}"),
    }
}

fn build_tray(app: &AppHandle) -> tauri::Result<()> {
    let line = status_text(None, Utc::now(), None);
    let status = MenuItem::with_id(app, "status", &line, false, None::<&str>)?;
    let open = MenuItem::with_id(app, MENU_OPEN, "Open Keyward", true, None::<&str>)?;
    let sync = MenuItem::with_id(app, MENU_SYNC, "Sync now", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, MENU_QUIT, "Quit", true, None::<&str>)?;
    let sep = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&status, &sep, &open, &sync, &quit])?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip(tooltip_text(&line))
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| match event.id.as_ref() {
            MENU_OPEN => open_window(app),
            MENU_SYNC => sync_now(app),
            MENU_QUIT => {
                log::info!("Quit from the tray");
                app.exit(0);
            }
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    *app.state::<Watch>().status.lock() = Some(status);
    Ok(())
}

/// Whether the library that Linux tray icons go through (StatusNotifierItem with a D-Bus menu)
/// can be found: in `LD_LIBRARY_PATH` (an AppImage's), the usual library folders, or the
/// linker's cache. Other systems need none.
fn tray_library_found() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    const NAMES: [&str; 4] = [
        "libayatana-appindicator3.so.1",
        "libappindicator3.so.1",
        "libayatana-appindicator3.so",
        "libappindicator3.so",
    ];
    let mut dirs: Vec<std::path::PathBuf> = std::env::var_os("LD_LIBRARY_PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(
        [
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64",
            "/usr/lib",
            "/usr/local/lib",
            "/lib/x86_64-linux-gnu",
            "/lib64",
            "/lib",
        ]
        .map(std::path::PathBuf::from),
    );
    if dirs
        .iter()
        .any(|d| NAMES.iter().any(|n| d.join(n).exists()))
    {
        return true;
    }
    ["/sbin/ldconfig", "ldconfig"].iter().any(|cmd| {
        std::process::Command::new(cmd)
            .arg("-p")
            .output()
            .is_ok_and(|o| {
                let text = String::from_utf8_lossy(&o.stdout);
                NAMES.iter().any(|n| text.contains(n))
            })
    })
}

/// Shows and focuses the window (the tray's Open, a second launch).
pub fn open_window(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// The tray's Sync now: the same sync as the background one (no progress channel).
fn sync_now(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let shell = app.state::<Shell>();
        match shell.sync(&app, false, None).await {
            Ok(s) => log::info!("sync from the tray: {} keys ({})", s.keys, s.status),
            Err(e) => log::info!("sync from the tray: {} ({})", e.message, e.code),
        }
    });
}

/// Brings the tray's status line and tooltip up to date.
async fn refresh(app: &AppHandle) {
    if !app.state::<Watch>().is_on() {
        return;
    }
    let shell = app.state::<Shell>();
    let last = shell.sync_state_full().await.last_sync;
    let open = match shell.ctx().await {
        Ok(ctx) => {
            let filter = keyward_core::model::alert::AlertFilter {
                limit: Some(1),
                ..Default::default()
            };
            // On a team profile: the team server's open alerts.
            keyward_core::api::alerts_list(&ctx, filter)
                .await
                .ok()
                .map(|l| l.open_total)
        }
        Err(_) => None,
    };
    let line = status_text(last, Utc::now(), open);
    let item = app.state::<Watch>().status.lock().clone();
    if let Some(item) = item {
        let _ = item.set_text(&line);
    }
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_tooltip(Some(tooltip_text(&line)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, m, s).unwrap()
    }

    #[test]
    fn status_line_says_how_old_the_last_sync_is_and_counts_open_alerts() {
        let now = at(12, 0, 0);
        assert_eq!(
            status_text(Some(at(11, 57, 0)), now, Some(2)),
            "Synced 3 min ago · 2 open alerts"
        );
        assert_eq!(
            status_text(Some(at(11, 59, 30)), now, Some(1)),
            "Synced just now · 1 open alert"
        );
        assert_eq!(
            status_text(Some(at(12, 0, 0)), now, Some(0)),
            "Synced just now · no open alerts"
        );
        assert_eq!(
            status_text(Some(at(9, 30, 0)), now, Some(5)),
            "Synced 2 h ago · 5 open alerts"
        );
        let days_ago = now - chrono::Duration::days(3);
        assert_eq!(status_text(Some(days_ago), now, None), "Synced 3 days ago");
        assert_eq!(
            status_text(None, now, Some(4)),
            "Not synced yet · 4 open alerts"
        );
        assert_eq!(status_text(None, now, None), "Not synced yet");
        // A clock that went back does not make "-2 min ago".
        assert_eq!(
            status_text(Some(at(12, 2, 0)), now, Some(0)),
            "Synced just now · no open alerts"
        );
    }

    #[test]
    fn tooltip_names_the_app_over_the_status_line() {
        assert_eq!(
            tooltip_text("Synced 3 min ago · 2 open alerts"),
            "Keyward\nSynced 3 min ago · 2 open alerts"
        );
    }

    #[test]
    fn the_tray_library_is_found_where_deps_sh_installs_it() {
        // scripts/deps.sh installs libayatana-appindicator3-dev (and so the library).
        assert!(tray_library_found());
    }

    #[test]
    fn started_hidden_only_by_the_autostart_or_hidden_argument() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(started_hidden(args(&["keyward-app", "--autostart"])));
        assert!(started_hidden(args(&["keyward-app", "--hidden"])));
        assert!(!started_hidden(args(&["keyward-app", "--demo"])));
        assert!(!started_hidden(args(&["keyward-app"])));
    }
}
