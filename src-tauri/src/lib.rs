//! keyward-app: the Tauri shell. Thin: every command calls one `keyward_core::ops` function.

mod about;
mod clipboard;
pub mod commands;
mod declare;
mod dialogs;
mod logfile;
mod shell;
mod team;
mod tray;
pub mod tsgen;
pub mod types;
mod webview;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tauri::Manager;
use tauri_plugin_log::{Target, TargetKind};

pub use shell::Shell;

/// Where the app keeps its files: `KEYWARD_HOME` if set; in debug builds a dev-only directory,
/// so that a dev build never touches a user's real profiles and database.
fn home_dir(app: &tauri::AppHandle) -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("KEYWARD_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    if cfg!(debug_assertions) {
        return app.path().app_data_dir().ok().map(|d| d.join("dev-home"));
    }
    None
}

fn demo_dir(app: &tauri::AppHandle, home: Option<&PathBuf>) -> PathBuf {
    match home {
        Some(h) => h.join("demo"),
        None => app
            .path()
            .app_data_dir()
            .map(|d| d.join("demo"))
            .unwrap_or_else(|_| std::env::temp_dir().join("keyward-demo")),
    }
}

/// The identifier of debug builds (release: `app.keyward.desktop`, from tauri.conf.json).
const DEV_IDENTIFIER: &str = "app.keyward.desktop.dev";

/// The log file's name in the platform's log folder (Linux: ~/.local/share/<identifier>/logs).
const LOG_NAME: &str = "Keyward";
/// The log file's size cap: past it, the file is rotated.
const LOG_MAX_BYTES: u64 = 1024 * 1024;
/// Rotated log files kept beside the current one (so at most 4 MiB of logs in all).
const LOG_KEEP: usize = 3;

/// Seconds between background syncs in demo mode.
const DEMO_SYNC_SECS: u64 = 30;

/// Seconds between the demo's background syncs: `KEYWARD_DEMO_SYNC_SECS` (the e2e tray test
/// uses a few), else [`DEMO_SYNC_SECS`].
fn demo_sync_secs() -> u64 {
    std::env::var("KEYWARD_DEMO_SYNC_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEMO_SYNC_SECS, |s| s.clamp(1, 3600))
}

/// Background sync: while the app runs (its window shown, or hidden with "keep watching when
/// the window is closed"), sync the open session every `settings.sync_interval_minutes`
/// (0 = off). Each sync announces its new alerts on the desktop.
fn spawn_background_sync(app: tauri::AppHandle) {
    tauri::async_runtime::spawn(async move {
        let demo_secs = demo_sync_secs();
        loop {
            let minutes = app.state::<Shell>().sync_interval_minutes().await;
            // The demo syncs often, so that its history fills while you watch.
            let demo = app.state::<Shell>().is_demo().await;
            let wait = if demo {
                demo_secs
            } else if minutes == 0 {
                60
            } else {
                u64::from(minutes) * 60
            };
            tokio::time::sleep(Duration::from_secs(wait)).await;
            if minutes == 0 && !demo {
                continue;
            }
            let shell = app.state::<Shell>();
            if shell.ctx().await.is_err() || shell.sync_state().running {
                continue;
            }
            match shell.sync(&app, false, None).await {
                Ok(s) => log::info!("background sync: {} keys ({})", s.keys, s.status),
                Err(e) => log::info!("background sync: {} ({})", e.message, e.code),
            }
        }
    });
}

/// The window's place and size are saved once it has stayed put this long after a move or a
/// resize, not only at a clean exit: a killed or crashed app (or a logout) keeps them too.
const WINDOW_STATE_SAVE_AFTER: Duration = Duration::from_millis(800);

fn save_window_state_on_change(app: &tauri::AppHandle) {
    use tauri_plugin_window_state::{AppHandleExt, StateFlags};
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    let app = app.clone();
    let generation = Arc::new(AtomicU64::new(0));
    window.on_window_event(move |e| {
        if !matches!(
            e,
            tauri::WindowEvent::Moved(_) | tauri::WindowEvent::Resized(_)
        ) {
            return;
        }
        let mine = generation.fetch_add(1, Ordering::SeqCst) + 1;
        let generation = generation.clone();
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(WINDOW_STATE_SAVE_AFTER).await;
            if generation.load(Ordering::SeqCst) != mine {
                return; // moved or resized again since: that one saves
            }
            // On the main thread, never from a worker: the plugin's save holds its state's lock
            // while it asks the window for its size and place (calls answered by the main
            // thread), and the main thread takes that same lock on each resize, so a save from
            // a worker during a resize deadlocked the app (seen in an e2e run: the main thread
            // waiting for the lock, a blocking thread holding it in `is_minimized`).
            let handle = app.clone();
            let queued = app.run_on_main_thread(move || {
                if let Err(e) = handle.save_window_state(StateFlags::all()) {
                    log::warn!("could not save the window's place and size: {e}");
                }
            });
            if let Err(e) = queued {
                log::warn!("could not save the window's place and size: {e}");
            }
        });
    });
}

/// When the process started (near enough: `run`'s first line), for the start-up's timing lines.
static STARTED: OnceLock<Instant> = OnceLock::new();

fn since_start_ms() -> u128 {
    STARTED.get_or_init(Instant::now).elapsed().as_millis()
}

/// Commands whose arrival is logged with its time since start (the window's first questions).
const TIMED_COMMANDS: u32 = 8;

/// The invoke handler, logging when the window's first [`TIMED_COMMANDS`] commands arrive
/// (their names only: arguments can hold anything).
fn timed(
    handler: impl Fn(tauri::ipc::Invoke<tauri::Wry>) -> bool + Send + Sync + 'static,
) -> impl Fn(tauri::ipc::Invoke<tauri::Wry>) -> bool + Send + Sync + 'static {
    let seen = AtomicU32::new(0);
    move |invoke| {
        if seen.fetch_add(1, Ordering::Relaxed) < TIMED_COMMANDS {
            log::info!(
                "command {} at {} ms",
                invoke.message.command(),
                since_start_ms()
            );
        }
        handler(invoke)
    }
}

pub fn run() {
    STARTED.get_or_init(Instant::now);
    let log_file = logfile::LogFile::new(LOG_NAME, LOG_MAX_BYTES, LOG_KEEP);
    let log_dir_file = log_file.clone();
    let builder = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            // Arguments are not logged: they are the user's, and could hold anything.
            log::info!("a second launch of Keyward: focusing this window instead");
            // Shown too: it may be hidden in the tray.
            tray::open_window(app);
        }))
        .plugin(
            // The platform log folder (Linux: ~/.local/share/<identifier>/logs, 0700), one file
            // of at most LOG_MAX_BYTES and LOG_KEEP older ones, all 0600 (logfile.rs); stdout
            // too, for `make run`.
            tauri_plugin_log::Builder::new()
                .level(log::LevelFilter::Info)
                // D-Bus chatter (the single-instance handshake, a second launch's message with its
                // arguments) is not Keyward's to log.
                .level_for("zbus", log::LevelFilter::Warn)
                .level_for("tracing::span", log::LevelFilter::Warn)
                .clear_targets()
                .target(Target::new(TargetKind::Stdout))
                .target(Target::new(TargetKind::Dispatch(
                    tauri_plugin_log::fern::Dispatch::new().chain(
                        tauri_plugin_log::fern::Output::writer(log_file.writer(), "\n"),
                    ),
                )))
                .build(),
        )
        // Navigation outside the app's origin refused; a webview closed by
        // the web side (WebDriver) closes its window.
        .plugin(webview::plugin())
        // Place and size only: whether the window shows is decided at start-up (it is created
        // hidden; `setup` shows it unless Keyward was started at login to sit in the tray).
        .plugin(
            tauri_plugin_window_state::Builder::new()
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::all()
                        - tauri_plugin_window_state::StateFlags::VISIBLE,
                )
                .build(),
        )
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        // Start at login (settings.keep_watching): hidden, in the tray. Driven from Rust only;
        // the webview is granted none of its commands.
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .arg(tray::AUTOSTART_ARG)
                .build(),
        )
        .setup(move |app| {
            let handle = app.handle().clone();
            match app.path().app_log_dir() {
                Ok(dir) => {
                    if let Err(e) = log_dir_file.open_in(&dir) {
                        eprintln!("Keyward: no log file: {} ({})", e.message, e.code);
                    }
                }
                Err(e) => eprintln!("Keyward: no log folder: {e}"),
            }
            log::info!(
                "Keyward {} starting ({}) at {} ms",
                app.package_info().version,
                app.config().identifier,
                since_start_ms()
            );
            // The window first: its page loads while the session opens.
            let accel = webview::Accel::from_env();
            let window = webview::create_main_window(&handle, accel)?;
            log::info!(
                "window created at {} ms (WebKit compositing: {accel:?})",
                since_start_ms()
            );
            let home = home_dir(&handle);
            let demo = demo_dir(&handle, home.as_ref());
            let secrets: Arc<dyn keyward_core::secret::keyring::SecretStore> =
                Arc::new(keyward_core::secret::keyring::KeyringStore::new());
            let shell = Shell::new(home, demo, secrets);
            let keep_watching = tauri::async_runtime::block_on(async {
                match shell.base() {
                    Ok(b) => b.settings().await.map(|s| s.keep_watching).unwrap_or(false),
                    Err(_) => false,
                }
            });
            // The window is created hidden (tauri.conf.json): shown now, before the session
            // opens, unless Keyward was started at login to keep watching from the tray.
            let hidden = keep_watching && tray::started_hidden(std::env::args());
            if hidden {
                log::info!(
                    "started at login: the window stays hidden, Keyward watches from the tray"
                );
            } else {
                let _ = window.show();
            }
            // The session opens in the background: the main thread goes back to the window
            // (its page, the IPC), and the commands that read the session wait for it.
            let opening = shell.opening();
            let hook_app = handle.clone();
            shell.on_settings_saved(Box::new(move |s| tray::apply(&hook_app, s.keep_watching)));
            app.manage(shell);
            // `keyward-app --demo` (what `make run` does) opens straight on the demo sandbox.
            let demo_mode = std::env::args().any(|a| a == "--demo");
            let open_app = handle.clone();
            let open_session = async move {
                let t = std::time::Instant::now();
                let shell = open_app.state::<Shell>();
                let opened = if demo_mode {
                    shell.start_demo().await
                } else {
                    shell.open_default().await
                };
                opening.opened();
                match opened {
                    Ok(()) => {
                        log::info!(
                            "session opened in {} ms (at {} ms)",
                            t.elapsed().as_millis(),
                            since_start_ms()
                        );
                        if !hidden {
                            shell.warm_up().await;
                            log::info!("ready at {} ms", since_start_ms());
                        }
                    }
                    Err(e) => log::warn!("could not open the session: {} ({})", e.message, e.code),
                }
                drop(opening);
            };
            if hidden {
                // No window to paint: the session opens before the tray shows, so that the
                // tray's first line already says the session's last sync and open alerts.
                tauri::async_runtime::block_on(open_session);
            } else {
                tauri::async_runtime::spawn(open_session);
            }
            tray::setup(&handle, keep_watching);
            save_window_state_on_change(&handle);
            spawn_background_sync(handle);
            log::info!("set up at {} ms", since_start_ms());
            Ok(())
        })
        .on_page_load(|webview, payload| {
            // The scheme and host only: a URL's path and query can carry anything.
            let url = payload.url();
            log::info!(
                "page load {:?} in the {} window ({}://{}) at {} ms",
                payload.event(),
                webview.label(),
                url.scheme(),
                url.host_str().unwrap_or(""),
                since_start_ms()
            );
        })
        .invoke_handler(timed(commands::handler()));
    let mut context = tauri::generate_context!();
    if cfg!(debug_assertions) {
        // A dev build is a different app to the OS: its own config, data, window state and
        // logs, so that it never touches a user's real Keyward.
        context.config_mut().identifier = DEV_IDENTIFIER.to_string();
    }
    if let Err(e) = builder.run(context) {
        eprintln!("Keyward failed to start: {e}");
        std::process::exit(1);
    }
}
