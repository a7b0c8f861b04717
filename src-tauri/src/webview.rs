//! The app's webviews: kept on the app's own origin, and their window closed with them (through
//! WebKitGTK's own API: no `unsafe`). A plugin, so that its hooks see every webview as it is
//! created and every navigation it starts.

use tauri::plugin::TauriPlugin;
use tauri::{Manager, Runtime, Url};

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
/// WebKit's hardware acceleration policy is not set here: WebKitGTK (2.50) ends the web process
/// when the policy changes after the page started, and Tauri has no hook between the webview's
/// creation and its first load (measured: the web process crashed at start-up, and a reload in
/// a new process broke the WebDriver session that had started the app).
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
