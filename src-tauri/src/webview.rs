//! The app's webviews: kept on the app's own origin, and their window closed with them (through
//! WebKitGTK's own API: no `unsafe`). A plugin, so that its hooks see every webview as it is
//! created and every navigation it starts.

use tauri::plugin::TauriPlugin;
use tauri::{Manager, Runtime, Url, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

/// The app's window (tauri.conf.json's `main`, which has `create: false`: [`create_main_window`]
/// creates it).
pub const MAIN: &str = "main";

/// Whether WebKit composites the page on the GPU (its "hardware acceleration policy"), read from
/// `KEYWARD_WEBKIT_ACCEL` (the bench compares both in one run): `webkit` leaves WebKit's own
/// policy (on demand); anything else, or nothing, is [`Accel::Never`].
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
    pub fn parse(value: Option<&str>) -> Accel {
        match value.map(str::trim) {
            Some("webkit") => Accel::WebKitDefault,
            _ => Accel::Never,
        }
    }

    pub fn from_env() -> Accel {
        Accel::parse(std::env::var("KEYWARD_WEBKIT_ACCEL").ok().as_deref())
    }
}

/// Creates the app's window from its config. On Linux with [`Accel::Never`], the webview is
/// created on no page (wry loads nothing for `about:blank`, so no web process starts), gets
/// its hardware acceleration policy through WebKitGTK's own settings, and only then is sent to
/// the app's page: WebKitGTK (2.50) ends the web process when the policy changes after a load
/// started (measured: a crash at start-up, and a reload in a new process broke the WebDriver
/// session that had started the app).
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
    let later = if cfg!(target_os = "linux") && accel == Accel::Never {
        let page = app_page(app)?;
        config.url = WebviewUrl::External(Url::parse("about:blank")?);
        Some(page)
    } else {
        None
    };
    let window = WebviewWindowBuilder::from_config(app, &config)?.build()?;
    if let Some(page) = later {
        never_composite(&window)?;
        window.navigate(page)?;
    }
    Ok(window)
}

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
        assert_eq!(Accel::parse(None), Accel::Never);
        assert_eq!(Accel::parse(Some("")), Accel::Never);
        assert_eq!(Accel::parse(Some("never")), Accel::Never);
        assert_eq!(Accel::parse(Some(" webkit ")), Accel::WebKitDefault);
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
