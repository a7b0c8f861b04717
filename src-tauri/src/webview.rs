//! The app's webviews: kept on the app's own origin, and their window closed with them (through
//! WebKitGTK's own API: no `unsafe`). A plugin, so that its hooks see every webview as it is
//! created and every navigation it starts.

use tauri::plugin::TauriPlugin;
use tauri::{Manager, Runtime, Url, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

/// The app's window (tauri.conf.json's `main`, which has `create: false`: [`create_main_window`]
/// creates it).
pub const MAIN: &str = "main";

/// Whether WebKit composites the page on the GPU (its "hardware acceleration policy"):
/// `KEYWARD_WEBKIT_ACCEL` = `never` or `webkit` (WebKit's own policy; the bench compares both
/// in one run); unset, [`Accel::Never`], except under WebDriver (see [`Accel::choose`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// Never composited: a table and a few charts need no GPU layers, and under Xvfb (or with
    /// no GPU) WebKit's compositing is done in software at a cost of about 140 MiB of memory
    /// in the web process (`make bench`: idle PSS of the process tree).
    Never,
    /// WebKit's default policy.
    WebKitDefault,
}

impl Accel {
    /// `setting`: `KEYWARD_WEBKIT_ACCEL`; `automation`: the app runs under WebDriver
    /// (tauri-driver sets `TAURI_WEBVIEW_AUTOMATION=true`). Under WebDriver, WebKit keeps its
    /// own policy unless the setting says otherwise: WebKitWebDriver's screenshot waits for a
    /// frame, and a page that does not change paints none when not composited (measured with
    /// WebKitGTK 2.50: the welcome screen's screenshot never returned; the keys table's, whose
    /// clock repaints, did in 0.09 s). The start-up benchmark sets `never` explicitly.
    pub fn choose(setting: Option<&str>, automation: bool) -> Accel {
        match setting.map(str::trim) {
            Some("never") => Accel::Never,
            Some("webkit") => Accel::WebKitDefault,
            _ if automation => Accel::WebKitDefault,
            _ => Accel::Never,
        }
    }

    pub fn from_env() -> Accel {
        Accel::choose(
            std::env::var("KEYWARD_WEBKIT_ACCEL").ok().as_deref(),
            std::env::var("TAURI_WEBVIEW_AUTOMATION").is_ok_and(|v| v == "true"),
        )
    }
}

/// Creates the app's window from its config. On Linux the webview is created on no page (wry
/// loads nothing for `about:blank`, so no web process starts), gets its hardware acceleration
/// policy through WebKitGTK's own settings when [`Accel::Never`], and only then is sent to the
/// app's page: WebKitGTK (2.50) ends the web process when the policy changes after a load
/// started (measured: a crash at start-up, and a reload in a new process broke the WebDriver
/// session that had started the app). Both policies start the same way.
pub fn create_main_window<R: Runtime>(
    app: &tauri::AppHandle<R>,
    accel: Accel,
) -> Result<WebviewWindow<R>, Box<dyn std::error::Error>> {
    let mut config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN)
        .cloned()
        .ok_or("tauri.conf.json has no main window")?;
    let later = if cfg!(target_os = "linux") {
        let page = app_page(app)?;
        config.url = WebviewUrl::External(Url::parse("about:blank")?);
        Some(page)
    } else {
        None
    };
    let mut builder = WebviewWindowBuilder::from_config(app, &config)?;
    if std::env::var_os("KEYWARD_TRACE_IPC").is_some_and(|v| v == "1") {
        builder = builder.initialization_script(TRACE_IPC);
    }
    let window = builder.build()?;
    if let Some(page) = later {
        if accel == Accel::Never {
            never_composite(&window)?;
        }
        window.navigate(page)?;
    }
    Ok(window)
}

/// `KEYWARD_TRACE_IPC=1` (the start-up benchmark's probe): every command the page sends (Tauri's
/// IPC is a `fetch` of `ipc://localhost/<command>`) is timed as a performance measure
/// `ipc:<command>`, from the call to its answer, so that the page's own clock says where its
/// start-up goes. Names and times only, no arguments. A 10 ms timer also records each gap of its
/// own over 50 ms as a measure `busy` (the page's main thread was busy: an answer that came
/// meanwhile waited for it), over the first 5 s.
const TRACE_IPC: &str = r#"(function () {
  let last = performance.now();
  const lag = setInterval(function () {
    const now = performance.now();
    if (now - last > 50) { try { performance.measure("busy", { start: last, end: now }); } catch (_) {} }
    last = now;
    if (now > 5000) clearInterval(lag);
  }, 10);
  const fetch0 = window.fetch;
  window.fetch = function (input, init) {
    const url = String(input && input.url ? input.url : input);
    const answer = fetch0.call(this, input, init);
    if (url.startsWith("ipc:") || url.startsWith("http://ipc.localhost")) {
      const start = performance.now();
      const name = "ipc:" + decodeURIComponent(url.replace(/^[^/]*\/\/[^/]*\//, "").split("?")[0]);
      const done = () => { try { performance.measure(name, { start: start, end: performance.now() }); } catch (_) {} };
      answer.then(done, done);
    }
    return answer;
  };
})();"#;

/// The app's page, as Tauri resolves `WebviewUrl::App("index.html")` on Linux: the dev
/// server in a dev build (no embedded assets), else the `tauri` scheme.
fn app_page<R: Runtime>(app: &tauri::AppHandle<R>) -> Result<Url, Box<dyn std::error::Error>> {
    if tauri::is_dev()
        && let Some(dev) = &app.config().build.dev_url
    {
        return Ok(dev.clone());
    }
    Ok(Url::parse("tauri://localhost/")?)
}

#[cfg(target_os = "linux")]
fn never_composite<R: Runtime>(window: &WebviewWindow<R>) -> tauri::Result<()> {
    window.with_webview(|pw| {
        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
        match WebViewExt::settings(&pw.inner()) {
            Some(s) => {
                s.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
                log::info!("WebKit hardware acceleration policy: never");
            }
            None => log::warn!("the webview has no settings: WebKit's policy stays"),
        }
    })
}

#[cfg(not(target_os = "linux"))]
fn never_composite<R: Runtime>(_window: &WebviewWindow<R>) -> tauri::Result<()> {
    Ok(())
}

/// Whether `url` is the app's own page: `tauri://localhost` (Linux and macOS),
/// `http(s)://tauri.localhost` (Windows), or in a dev build (no embedded assets) the dev
/// server's origin. Anything else (an external site, loopback, `file:`, `data:`, `about:`) is
/// not the app.
pub fn is_own_origin(url: &Url, dev_url: Option<&Url>) -> bool {
    match url.scheme() {
        "tauri" => url.host_str() == Some("localhost"),
        "http" | "https" => {
            url.host_str() == Some("tauri.localhost")
                || dev_url.is_some_and(|d| d.origin() == url.origin())
        }
        _ => false,
    }
}

/// The plugin: navigation outside the app's origin is refused (the page stays as it is), and
/// each webview gets [`configure`].
pub fn plugin<R: Runtime>() -> TauriPlugin<R> {
    tauri::plugin::Builder::new("webview-guard")
        .on_navigation(|webview, url| {
            let dev = if tauri::is_dev() {
                webview.config().build.dev_url.clone()
            } else {
                None
            };
            let own = is_own_origin(url, dev.as_ref());
            if !own {
                // The scheme and host only: a URL's path and query can carry anything.
                log::warn!(
                    "refused a navigation of the {} window away from the app, to {}://{}",
                    webview.label(),
                    url.scheme(),
                    url.host_str().unwrap_or("")
                );
            }
            own
        })
        .on_webview_ready(|webview| configure(&webview))
        .build()
}

/// A close request from the web side (WebDriver ending its session) makes wry destroy the
/// webview and nothing else: the window stayed, empty, and the app ran on. The window is closed
/// with it here, so that the app ends as when its window is closed.
///
/// WebKit's hardware acceleration policy is not set here, when the page may have started
/// loading: [`create_main_window`] sets it before the first load.
#[cfg(target_os = "linux")]
fn configure<R: Runtime>(webview: &tauri::Webview<R>) {
    let window = webview.window();
    let done = webview.with_webview(move |pw| {
        use webkit2gtk::WebViewExt;
        pw.inner().connect_close(move |_| {
            log::info!("the webview was closed: closing its window");
            if let Err(e) = window.destroy() {
                log::warn!("could not close the window after its webview: {e}");
            }
        });
    });
    if let Err(e) = done {
        log::warn!("could not set up the webview: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
fn configure<R: Runtime>(_webview: &tauri::Webview<R>) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn webkit_composites_only_when_asked() {
        assert_eq!(Accel::choose(None, false), Accel::Never);
        assert_eq!(Accel::choose(Some(""), false), Accel::Never);
        assert_eq!(Accel::choose(Some("never"), false), Accel::Never);
        assert_eq!(Accel::choose(Some(" webkit "), false), Accel::WebKitDefault);
        // Under WebDriver: WebKit's own policy, unless asked for never.
        assert_eq!(Accel::choose(None, true), Accel::WebKitDefault);
        assert_eq!(Accel::choose(Some("never"), true), Accel::Never);
    }

    #[test]
    fn only_the_apps_own_origin_is_the_app() {
        let dev = url("http://localhost:5173");
        for own in [
            "tauri://localhost/",
            "tauri://localhost/index.html#/keys",
            "http://tauri.localhost/",
            "https://tauri.localhost/x",
        ] {
            assert!(is_own_origin(&url(own), None), "{own}");
        }
        assert!(is_own_origin(
            &url("http://localhost:5173/keys"),
            Some(&dev)
        ));
        for other in [
            "http://127.0.0.1:8080/",
            "http://localhost:5173/",
            "https://example.com/",
            "tauri://evil/",
            "file:///etc/passwd",
            "data:text/html,hi",
            "about:blank",
            "http://tauri.localhost.evil.com/",
        ] {
            assert!(!is_own_origin(&url(other), None), "{other}");
        }
        // The dev server's origin is the app only in a dev build, and only that origin.
        assert!(!is_own_origin(&url("http://localhost:5174/"), Some(&dev)));
        assert!(!is_own_origin(&url("https://localhost:5173/"), Some(&dev)));
    }
}
