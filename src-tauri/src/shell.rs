//! The shell's state: which session is open (welcome, a profile, the demo), the running sync and
//! the clipboard. Everything else is in `keyward_core`.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use keyward_core::ctx::AppCtx;
use keyward_core::model::key::{CachedKeys, KeyFilter};
use keyward_core::model::sync::{SyncOptions, SyncProgress, SyncSummary};
use keyward_core::secret::keyring::SecretStore;
use keyward_core::{Error, ErrorCode, Result};
use parking_lot::Mutex;
use tauri::{AppHandle, Emitter};
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;

use crate::types::{AppStatus, Mode, NotifyState, SyncState};
use keyward_core::{demo, profiles, sync};

/// Demo mode: the sandbox's seeded business with this many verifications per second.
pub const DEMO_TRAFFIC_PER_SEC: f64 = 10.0;
/// Time between the demo's watchtower events (a new IP, a spike, drift, a canary touched).
const DEMO_SCRIPT_STEP: std::time::Duration = std::time::Duration::from_secs(30);
/// Days of synthesized history the demo starts with.
const DEMO_HISTORY_DAYS: u32 = 30;

pub enum Session {
    Welcome,
    Profile {
        name: String,
        ctx: Arc<AppCtx>,
    },
    Demo {
        ctx: Arc<AppCtx>,
        sandbox: kinde_sandbox::Sandbox,
    },
}

pub struct Shell {
    /// `KEYWARD_HOME`, or a dev-only directory in debug builds (dev never touches real data).
    home: Option<PathBuf>,
    /// Where demo mode keeps its own database, apart from any profile's.
    demo_home: PathBuf,
    secrets: Arc<dyn SecretStore>,
    session: RwLock<Session>,
    sync: Mutex<SyncState>,
    sync_cancel: Mutex<Option<CancellationToken>>,
    clipboard: Mutex<(u64, Option<String>)>,
    /// The newest alert id already announced (or there when the session opened): desktop
    /// notifications are for alerts raised after it. `None` until the session's first look.
    notified_upto: Mutex<Option<i64>>,
    notify: Mutex<NotifyState>,
    /// Called with the settings once they are saved (the tray and the start at login follow
    /// `keep_watching`).
    on_settings_saved: Mutex<Option<SettingsHook>>,
    /// Bumped whenever another session opens (the team watcher follows it).
    session_gen: tokio::sync::watch::Sender<u64>,
    /// The member of the open team profile, once its server said who it is.
    team_member: Mutex<Option<keyward_core::remote::Me>>,
    /// Where the start-up session is ([`Shell::opening`]): the window is up before it opens,
    /// and whatever reads the session waits for it.
    opened: tokio::sync::watch::Sender<Startup>,
}

/// The start-up session's progress, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Startup {
    /// Opening: nothing reads the session yet.
    Opening,
    /// Open: the window's status may be read; the store is being warmed ([`Shell::warm_up`]).
    Open,
    /// Open and warm (or not opened at all): everything goes.
    Ready,
}

/// Held while the start-up session opens and warms: the session's readers wait until it is
/// dropped (also when the opening fails or panics, or the warming takes too long).
pub struct Opening(tokio::sync::watch::Sender<Startup>);

impl Opening {
    /// The session is open: the window's status may be read; the store is still warming.
    pub fn opened(&self) {
        self.0.send_replace(Startup::Open);
    }
}

impl Drop for Opening {
    fn drop(&mut self) {
        self.0.send_replace(Startup::Ready);
    }
}

/// The rows the warm-up reads: the keys table's first page span (ui's `pageSpan` of the rows on
/// screen at the top: two pages of 100), so that the sort's order and those rows are read, not
/// only the counts (a window of no rows reads no order: measured 0 ms at 10,150 keys).
const WARM_UP_ROWS: u32 = 200;

/// How long the start-up's warming may hold the session's other readers.
const WARM_UP_AT_MOST: std::time::Duration = std::time::Duration::from_secs(3);

/// What [`Shell::on_settings_saved`] registers.
pub type SettingsHook = Box<dyn Fn(&keyward_core::config::Settings) + Send + Sync>;

impl Shell {
    pub fn new(home: Option<PathBuf>, demo_home: PathBuf, secrets: Arc<dyn SecretStore>) -> Self {
        Shell {
            home,
            demo_home,
            secrets,
            session: RwLock::new(Session::Welcome),
            sync: Mutex::new(SyncState::default()),
            sync_cancel: Mutex::new(None),
            clipboard: Mutex::new((0, None)),
            notified_upto: Mutex::new(None),
            notify: Mutex::new(NotifyState::default()),
            on_settings_saved: Mutex::new(None),
            session_gen: tokio::sync::watch::channel(0).0,
            team_member: Mutex::new(None),
            opened: tokio::sync::watch::channel(Startup::Ready).0,
        }
    }

    /// Marks the start-up session as opening (in the background, after the window is up):
    /// [`Shell::status`], [`Shell::is_demo`] and [`Shell::is_team`] wait until
    /// [`Opening::opened`], and [`Shell::ctx`] (every operation on the session) until the guard
    /// is dropped, so that the window's first questions get the opened session, never the
    /// welcome screen of a session not opened yet, and its first keys window a warm store.
    pub fn opening(&self) -> Opening {
        self.opened.send_replace(Startup::Opening);
        Opening(self.opened.clone())
    }

    /// Waits for the start-up session to reach `at` (at once when it has).
    async fn reached(&self, at: Startup) {
        let mut rx = self.opened.subscribe();
        // The sender lives as long as the shell: this only ends when reached.
        let _ = rx.wait_for(|s| *s >= at).await;
    }

    async fn started(&self) {
        self.reached(Startup::Open).await;
    }

    /// At start-up, once the session is open: asks the store for the keys table's first
    /// window (the default query, its first [`WARM_UP_ROWS`] rows), so that the store's window
    /// index is built and its pages read while the window loads its page, once, instead of by
    /// the window's first questions at the same time. Local stores only (a team profile's
    /// window is its server's). At most [`WARM_UP_AT_MOST`]; a failure is the window's to see.
    pub async fn warm_up(&self) {
        let Ok(ctx) = self.current_ctx().await else {
            return;
        };
        if ctx.profile().await.is_ok_and(|p| p.is_team()) {
            return;
        }
        let query = keyward_core::model::key::KeyWindowQuery::default();
        let warm = keyward_core::api::keys_window(&ctx, query, 0, WARM_UP_ROWS);
        match tokio::time::timeout(WARM_UP_AT_MOST, warm).await {
            Ok(Ok(w)) => log::info!("store warmed: {} keys", w.counts.all),
            Ok(Err(e)) => log::info!("store not warmed: {} ({})", e.message, e.code),
            Err(_) => log::info!(
                "store not warmed within {} s: the window goes on",
                WARM_UP_AT_MOST.as_secs()
            ),
        }
    }

    /// A context with no profile selected: profiles, settings, and "Test connection".
    pub fn base(&self) -> Result<AppCtx> {
        AppCtx::new(self.home.clone(), self.secrets.clone())
    }

    /// The context of the open session, or an error that says to open one.
    pub async fn ctx(&self) -> Result<Arc<AppCtx>> {
        self.reached(Startup::Ready).await;
        self.current_ctx().await
    }

    /// [`Shell::ctx`] without waiting for the start-up session (the opening itself uses it).
    async fn current_ctx(&self) -> Result<Arc<AppCtx>> {
        match &*self.session.read().await {
            Session::Profile { ctx, .. } | Session::Demo { ctx, .. } => Ok(ctx.clone()),
            Session::Welcome => Err(Error::new(
                ErrorCode::ProfileNotFound,
                "no profile is open",
                "Connect to Kinde or try the demo first.",
            )),
        }
    }

    pub async fn is_demo(&self) -> bool {
        self.started().await;
        matches!(&*self.session.read().await, Session::Demo { .. })
    }

    /// What the window should show.
    pub async fn status(&self) -> Result<AppStatus> {
        self.started().await;
        let base = self.base()?;
        let settings = base.settings().await?;
        let profiles = profiles::list(&base).await?;
        let (mode, profile) = match &*self.session.read().await {
            Session::Welcome => (Mode::Welcome, None),
            Session::Profile { name, .. } => (Mode::Profile, Some(name.clone())),
            Session::Demo { .. } => (Mode::Demo, None),
        };
        Ok(AppStatus {
            mode,
            profile,
            profiles,
            settings,
        })
    }

    /// At start-up: open the default (or only) profile, if there is one.
    pub async fn open_default(&self) -> Result<()> {
        let cfg = self.base()?.load_config().await?;
        let Ok(p) = cfg.select(None) else {
            return Ok(());
        };
        let name = p.name.clone();
        self.open_profile(&name).await
    }

    pub async fn open_profile(&self, name: &str) -> Result<()> {
        let ctx = self.base()?.with_profile(name);
        self.cancel_sync();
        let old = std::mem::replace(
            &mut *self.session.write().await,
            Session::Profile {
                name: name.to_string(),
                ctx: Arc::new(ctx),
            },
        );
        shutdown(old).await;
        *self.sync.lock() = SyncState::default();
        *self.notified_upto.lock() = None;
        self.session_changed();
        self.mark_alerts_seen().await;
        Ok(())
    }

    /// Starts the embedded sandbox (demo seed, live traffic) and opens it with a fresh demo
    /// database under `demo_home`.
    pub async fn start_demo(&self) -> Result<()> {
        if matches!(&*self.session.read().await, Session::Demo { .. }) {
            return Ok(());
        }
        // `KEYWARD_DEMO_KEYS=10000` adds that many keys (to try the app at scale).
        let extra_keys = std::env::var("KEYWARD_DEMO_KEYS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0)
            .min(100_000);
        // `KEYWARD_DEMO_SCRIPT_STEP_MS` paces the watchtower script (default 30 s per event;
        // the e2e suite uses a few seconds so that every alert kind shows within its run).
        let script_step = std::env::var("KEYWARD_DEMO_SCRIPT_STEP_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(DEMO_SCRIPT_STEP, |ms| {
                std::time::Duration::from_millis(ms.clamp(200, 600_000))
            });
        // `KEYWARD_DEMO_DETAIL_LATENCY_MS` slows each key's detail answer (the e2e scale test
        // watches rows appear while the details still stream in).
        let detail_latency_ms = std::env::var("KEYWARD_DEMO_DETAIL_LATENCY_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
            .min(10_000);
        let config = kinde_sandbox::Config {
            seed: kinde_sandbox::Seed::Demo,
            traffic_per_sec: DEMO_TRAFFIC_PER_SEC,
            extra_keys,
            script_step,
            detail_latency_ms,
            ..Default::default()
        };
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let sandbox = kinde_sandbox::spawn(addr, config).await.map_err(|e| {
            Error::new(
                ErrorCode::Internal,
                format!("the demo sandbox did not start: {e:#}"),
                "Restart Keyward; if it happens again, report it.",
            )
        })?;
        // The demo's data is as fresh as its sandbox: start from an empty database.
        let dir = self.demo_home.clone();
        tokio::task::spawn_blocking(move || {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)
        })
        .await
        .map_err(|e| Error::internal(format!("demo dir task: {e}")))?
        .map_err(|e| Error::io("creating the demo directory", &e))?;
        let ctx = AppCtx::for_sandbox(
            &sandbox.base_url(),
            sandbox.client_id(),
            keyward_core::secret::Secret::new(sandbox.client_secret()),
            Some(self.demo_home.clone()),
        )?;
        // A believable past for the made-up business: one sync, then synthesized history in
        // the demo's own store (Kinde keeps none). Best effort: the demo works without it.
        // Not at scale (`KEYWARD_DEMO_KEYS`), where it would be millions of rows.
        let prefill = async {
            if extra_keys > 0 {
                return Ok(());
            }
            sync::run(
                &ctx,
                SyncOptions::default(),
                |_| {},
                CancellationToken::new(),
            )
            .await?;
            demo::prefill_history(&ctx, DEMO_HISTORY_DAYS).await?;
            // The script's canary key, planted at the sandbox's start: a touch is critical.
            demo::mark_canaries(&ctx).await.map(|_| ())
        };
        if let Err(e) = prefill.await {
            log::warn!("demo history prefill: {} ({})", e.message, e.code);
        }
        self.cancel_sync();
        let old = std::mem::replace(
            &mut *self.session.write().await,
            Session::Demo {
                ctx: Arc::new(ctx),
                sandbox,
            },
        );
        shutdown(old).await;
        *self.sync.lock() = SyncState::default();
        *self.notified_upto.lock() = None;
        self.session_changed();
        self.mark_alerts_seen().await;
        Ok(())
    }

    /// Leaves the demo: back to the default profile, or to the welcome screen.
    pub async fn leave_demo(&self) -> Result<()> {
        self.cancel_sync();
        let old = std::mem::replace(&mut *self.session.write().await, Session::Welcome);
        shutdown(old).await;
        *self.sync.lock() = SyncState::default();
        *self.notified_upto.lock() = None;
        self.session_changed();
        self.open_default().await
    }

    pub async fn profile_added(&self, name: &str) -> Result<()> {
        self.open_profile(name).await
    }

    pub async fn profile_removed(&self, name: &str) -> Result<()> {
        let open =
            matches!(&*self.session.read().await, Session::Profile { name: n, .. } if n == name);
        if open {
            self.cancel_sync();
            let old = std::mem::replace(&mut *self.session.write().await, Session::Welcome);
            shutdown(old).await;
            self.session_changed();
            self.open_default().await?;
        }
        Ok(())
    }

    pub async fn settings_set(&self, settings: keyward_core::config::Settings) -> Result<()> {
        let base = self.base()?;
        let mut cfg = base.load_config().await?;
        cfg.settings = settings.clone();
        base.save_config(cfg).await?;
        if let Some(hook) = &*self.on_settings_saved.lock() {
            hook(&settings);
        }
        Ok(())
    }

    /// Registers what runs after the settings are saved (one hook; a later one replaces it).
    pub fn on_settings_saved(&self, hook: SettingsHook) {
        *self.on_settings_saved.lock() = Some(hook);
    }

    /// The local background sync's interval (0: off). On a team profile it is always 0: the
    /// team's server syncs, and the app follows its events (`team.rs`).
    pub async fn sync_interval_minutes(&self) -> u32 {
        if self.is_team().await {
            return 0;
        }
        match self.base() {
            Ok(b) => b
                .settings()
                .await
                .map(|s| s.sync_interval_minutes)
                .unwrap_or(0),
            Err(_) => 0,
        }
    }

    pub fn sync_state(&self) -> SyncState {
        self.sync.lock().clone()
    }

    /// The status line, with the last sync time from the store when this session has not
    /// synced yet.
    pub async fn sync_state_full(&self) -> SyncState {
        let mut s = self.sync_state();
        if self.is_team().await {
            // A team profile: the last sync is the server's (its sync runs); the tray says it.
            if let Ok(ctx) = self.ctx().await
                && let Ok(runs) = keyward_core::api::sync_runs(&ctx, 10).await
                && let Some(t) = last_finished(&runs)
            {
                s.last_sync = Some(t);
            }
            return s;
        }
        if s.last_sync.is_none()
            && let Ok(ctx) = self.ctx().await
            && let Ok(runs) = sync::runs(&ctx, 10).await
        {
            s.last_sync = last_finished(&runs);
        }
        s
    }

    /// True when the open session is a team profile (on a Keyward Server).
    pub async fn is_team(&self) -> bool {
        self.started().await;
        match &*self.session.read().await {
            Session::Profile { ctx, .. } => ctx.profile().await.is_ok_and(|p| p.is_team()),
            _ => false,
        }
    }

    /// `keys_list`: on a Kinde profile the local store (after an incremental sync unless
    /// `offline`); on a team profile the team's whole list from its server (the server syncs;
    /// `offline` is moot there), or the last list kept here when the server is unreachable.
    pub async fn keys_list(&self, filter: &KeyFilter, offline: bool) -> Result<CachedKeys> {
        let ctx = self.ctx().await?;
        if !self.is_team().await {
            let c = keyward_core::keys::list_cached(&ctx, filter, offline).await?;
            self.note_cache(&c);
            return Ok(c);
        }
        match keyward_core::api::team_keys(&ctx).await {
            Ok(keys) => {
                let now = Utc::now();
                let synced_at = {
                    let mut s = self.sync.lock();
                    s.offline = false;
                    s.last_error = None;
                    *s.last_sync.get_or_insert(now)
                };
                Ok(CachedKeys {
                    keys: keys.unwrap_or_default(),
                    synced_at: Some(synced_at),
                    from_cache_only: false,
                    warning: None,
                })
            }
            Err(e) if is_offline(e.code) => {
                let kept: keyward_core::api::Cached<Vec<keyward_core::model::key::KeyView>> =
                    keyward_core::api::cached(&ctx, keyward_core::api::KEYS_LIST)
                        .await
                        .map_err(|_| e.clone())?;
                let warning = unreachable_error(&e);
                {
                    let mut s = self.sync.lock();
                    s.offline = true;
                    s.last_error = Some(warning.clone());
                }
                Ok(CachedKeys {
                    keys: kept.answer,
                    synced_at: Some(kept.saved_at),
                    from_cache_only: true,
                    warning: Some(warning),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The receiver the team watcher waits on for another session.
    pub fn session_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.session_gen.subscribe()
    }

    fn session_changed(&self) {
        *self.team_member.lock() = None;
        self.session_gen.send_modify(|g| *g += 1);
    }

    pub fn team_member_kept(&self) -> Option<keyward_core::remote::Me> {
        self.team_member.lock().clone()
    }

    pub fn keep_team_member(&self, me: keyward_core::remote::Me) {
        *self.team_member.lock() = Some(me);
    }

    /// The team's server cannot be reached (or refused the token): the status line says so.
    pub fn team_unreachable(&self, app: &AppHandle, e: &Error) {
        {
            let mut s = self.sync.lock();
            s.offline = true;
            s.running = s.running && self.sync_cancel.lock().is_some();
            s.last_error = Some(unreachable_error(e));
        }
        emit_state(app, self);
    }

    /// An event came from the team's server: it answers again; `changed_at`: the team's record
    /// changed (the window fetches the delta); `running`: the server's sync started or ended.
    pub fn team_seen(
        &self,
        app: &AppHandle,
        changed_at: Option<chrono::DateTime<Utc>>,
        running: Option<bool>,
    ) {
        let emit = {
            let mut s = self.sync.lock();
            let mut emit = s.offline || s.last_error.is_some();
            s.offline = false;
            s.last_error = None;
            if let Some(t) = changed_at.or(s.last_sync.is_none().then(Utc::now)) {
                s.last_sync = Some(s.last_sync.map_or(t, |x| x.max(t)));
                emit = true;
            }
            // A sync this window started keeps its own running flag.
            if let Some(r) = running
                && self.sync_cancel.lock().is_none()
                && s.running != r
            {
                s.running = r;
                emit = true;
            }
            emit
        };
        if emit {
            emit_state(app, self);
        }
    }

    /// New alerts on the team's server: the desktop hears of them as after a local sync.
    pub async fn announce_team_alerts(&self, app: &AppHandle) {
        if let Ok(ctx) = self.ctx().await {
            self.announce_new_alerts(app, &ctx).await;
        }
    }

    /// Remembers what `keys_list` said about the cache (age, Kinde unreachable).
    pub fn note_cache(&self, cached: &keyward_core::model::key::CachedKeys) {
        let mut s = self.sync.lock();
        if let Some(t) = cached.synced_at {
            s.last_sync = Some(s.last_sync.map_or(t, |x| x.max(t)));
        }
        if let Some(w) = &cached.warning
            && is_offline(w.code)
            && w.code != ErrorCode::Offline
        {
            s.offline = true;
            s.last_error = Some(w.clone());
        }
    }

    pub fn cancel_sync(&self) {
        if let Some(t) = self.sync_cancel.lock().take() {
            t.cancel();
        }
    }

    /// Runs one sync of the open session; progress goes to `progress` (the UI's channel, or
    /// nowhere for background syncs). Emits `sync-state` when done.
    pub async fn sync(
        &self,
        app: &AppHandle,
        full: bool,
        progress: Option<tauri::ipc::Channel<SyncProgress>>,
    ) -> Result<SyncSummary> {
        let ctx = self.ctx().await?;
        let token = CancellationToken::new();
        {
            let mut running = self.sync_cancel.lock();
            if running.is_some() {
                return Err(Error::new(
                    ErrorCode::SyncInProgress,
                    "a sync is already running",
                    "Wait for it to finish, or cancel it.",
                ));
            }
            *running = Some(token.clone());
        }
        self.sync.lock().running = true;
        let _ = app.emit(crate::tsgen::SYNC_STATE_EVENT, self.sync_state());
        let options = SyncOptions {
            full,
            ..Default::default()
        };
        let send = move |p: SyncProgress| {
            if let Some(ch) = &progress {
                let _ = ch.send(p);
            }
        };
        let result = if self.is_team().await {
            // On a team profile "Sync now" asks the team's server (its progress streamed).
            tokio::select! {
                r = keyward_core::api::team_sync(&ctx, send) => r.and_then(|s| s.ok_or_else(|| Error::internal("not a team profile"))),
                () = token.cancelled() => Err(Error::new(ErrorCode::Cancelled, "the sync was cancelled here", "The Keyward Server may finish it; its result shows when it does.")),
            }
        } else {
            sync::run(&ctx, options, send, token).await
        };
        *self.sync_cancel.lock() = None;
        {
            let mut s = self.sync.lock();
            s.running = false;
            match &result {
                Ok(_) => {
                    s.last_sync = Some(Utc::now());
                    s.offline = false;
                    s.last_error = None;
                }
                // Another sync of the profile (the CLI, another window) is filling the cache:
                // not a failure of this one.
                Err(e) if matches!(e.code, ErrorCode::Cancelled | ErrorCode::SyncInProgress) => {}
                Err(e) => {
                    s.offline = is_offline(e.code);
                    s.last_error = Some(e.clone());
                }
            }
        }
        let _ = app.emit(crate::tsgen::SYNC_STATE_EVENT, self.sync_state());
        if result.is_ok() {
            self.announce_new_alerts(app, &ctx).await;
        }
        result
    }

    /// Desktop notifications for the alerts raised since the last look, of the kinds the
    /// admin chose (Settings). Several at once make one notification, not a flood. The first
    /// look of a session only sets the mark: what was there before is not news.
    async fn announce_new_alerts(&self, app: &AppHandle, ctx: &AppCtx) {
        let filter = keyward_core::model::alert::AlertFilter {
            limit: Some(200),
            ..Default::default()
        };
        let Ok(list) = keyward_core::api::alerts_list(ctx, filter).await else {
            return;
        };
        let newest = list.alerts.iter().map(|a| a.id).max().unwrap_or(0);
        let upto = {
            let mut mark = self.notified_upto.lock();
            let before = *mark;
            *mark = Some(before.unwrap_or(0).max(newest));
            before
        };
        let Some(upto) = upto else { return };
        let kinds = match ctx.settings().await {
            Ok(s) => s.notify_kinds,
            Err(_) => return,
        };
        let fresh: Vec<_> = list
            .alerts
            .iter()
            .filter(|a| a.id > upto && kinds.contains(&a.kind))
            .collect();
        match fresh.as_slice() {
            [] => {}
            [a] => self.notify(app, &alert_title(a), &a.message),
            many => {
                let worst = many.iter().map(|a| a.severity).max();
                let body = many
                    .iter()
                    .take(3)
                    .map(|a| a.message.as_str())
                    .collect::<Vec<_>>()
                    .join("\n");
                let title = format!(
                    "Keyward: {} new alerts{}",
                    many.len(),
                    worst.map_or(String::new(), |s| format!(" (up to {})", s.as_str()))
                );
                self.notify(app, &title, &body);
            }
        }
    }

    /// Alerts already in the store when a session opens are not news: mark them seen.
    async fn mark_alerts_seen(&self) {
        let Ok(ctx) = self.current_ctx().await else {
            return;
        };
        let filter = keyward_core::model::alert::AlertFilter {
            include_acknowledged: true,
            include_muted: true,
            limit: Some(200),
            ..Default::default()
        };
        if let Ok(list) = keyward_core::api::alerts_list(&ctx, filter).await {
            *self.notified_upto.lock() = Some(list.alerts.iter().map(|a| a.id).max().unwrap_or(0));
        }
    }

    /// Hands one notification to the desktop (tauri-plugin-notification) and records it.
    pub fn notify(&self, app: &AppHandle, title: &str, body: &str) {
        use tauri_plugin_notification::NotificationExt;
        let r = app.notification().builder().title(title).body(body).show();
        let mut st = self.notify.lock();
        st.last_at = Some(Utc::now());
        st.last_title = Some(title.to_string());
        match r {
            Ok(()) => {
                st.sent += 1;
                st.last_error = None;
            }
            Err(e) => {
                log::warn!("desktop notification not sent: {e}");
                st.last_error = Some(e.to_string());
            }
        }
    }

    pub fn notify_state(&self) -> NotifyState {
        self.notify.lock().clone()
    }

    /// Remembers what was copied; returns its generation (a later copy replaces it).
    pub fn clipboard_set(&self, text: String) -> u64 {
        let mut c = self.clipboard.lock();
        c.0 += 1;
        c.1 = Some(text);
        c.0
    }

    /// Takes what was copied, if `generation` is still current (or always, for `None`).
    pub fn clipboard_take(&self, generation: Option<u64>) -> Option<String> {
        let mut c = self.clipboard.lock();
        if generation.is_some_and(|g| g != c.0) {
            return None;
        }
        c.1.take()
    }
}

/// When the newest of `runs` that finished (ok or partial) finished.
fn last_finished(
    runs: &[keyward_core::model::sync::SyncRunRecord],
) -> Option<chrono::DateTime<Utc>> {
    runs.iter()
        .filter(|r| r.status == "ok" || r.status == "partial")
        .filter_map(|r| r.finished_at)
        .max()
}

/// Network-class errors mean "show the cache and an offline banner".
/// "Canary tripped: Canary: finance backup" (the kind in words, and the key).
fn alert_title(a: &keyward_core::model::alert::Alert) -> String {
    let kind = match a.kind {
        keyward_core::model::alert::AlertKind::NewIp => "New IP",
        keyward_core::model::alert::AlertKind::DormantWakes => "Dormant key woke up",
        keyward_core::model::alert::AlertKind::Spike => "Verification spike",
        keyward_core::model::alert::AlertKind::Drift => "Changed outside Keyward",
        keyward_core::model::alert::AlertKind::Stale => "Stale key",
        keyward_core::model::alert::AlertKind::RotationDue => "Rotation due",
        keyward_core::model::alert::AlertKind::ExpiryComing => "Expiry coming",
        keyward_core::model::alert::AlertKind::CanaryTripped => "Canary tripped",
    };
    match &a.key_name {
        Some(n) => format!("{kind}: {n}"),
        None => kind.to_string(),
    }
}

pub fn is_offline(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Dns
            | ErrorCode::ConnectionRefused
            | ErrorCode::Timeout
            | ErrorCode::Network
            | ErrorCode::Tls
            | ErrorCode::Offline
    )
}

async fn shutdown(old: Session) {
    if let Session::Demo { sandbox, .. } = old {
        sandbox.shutdown().await;
    }
}

/// The status line's error while the server cannot be reached.
pub fn unreachable_error(e: &Error) -> Error {
    match e.code {
        ErrorCode::Unauthenticated | ErrorCode::Forbidden | ErrorCode::SecretMissing => e.clone(),
        _ => Error::new(
            ErrorCode::Network,
            format!("Server unreachable, retrying… ({})", e.message),
            "The keys shown are the last the Keyward Server sent; they update once it answers \
             again.",
        ),
    }
}

/// Emits the status line (the same event a local sync emits).
pub fn emit_state(app: &AppHandle, shell: &Shell) {
    let _ = app.emit(crate::tsgen::SYNC_STATE_EVENT, shell.sync_state());
}
