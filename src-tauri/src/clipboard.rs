//! Clipboard for one-time secrets: copy, then clear after a delay if it still holds the secret.
//! Done in Rust so that the webview needs no clipboard permission.

use std::time::Duration;

use keyward_core::{Error, ErrorCode, Result};
use tauri::{AppHandle, Manager};
use tauri_plugin_clipboard_manager::ClipboardExt;

use crate::shell::Shell;

/// Seconds after which a copied secret is cleared from the clipboard.
pub const CLEAR_AFTER_SECS: u32 = 30;

fn clip_err(e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::Internal,
        format!("clipboard: {e}"),
        "Select the text and copy it by hand.",
    )
}

/// Copies `text` and schedules its removal. Returns the delay in seconds.
pub fn copy_secret(app: &AppHandle, shell: &Shell, text: String) -> Result<u32> {
    app.clipboard().write_text(text.clone()).map_err(clip_err)?;
    let generation = shell.clipboard_set(text);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(Duration::from_secs(u64::from(CLEAR_AFTER_SECS))).await;
        let shell = app.state::<Shell>();
        if let Some(secret) = shell.clipboard_take(Some(generation)) {
            clear_if_holds(&app, &secret);
        }
    });
    Ok(CLEAR_AFTER_SECS)
}

/// Clears now, if the clipboard still holds what we copied.
pub fn clear(app: &AppHandle, shell: &Shell) -> Result<()> {
    if let Some(secret) = shell.clipboard_take(None) {
        clear_if_holds(app, &secret);
    }
    Ok(())
}

/// Copies non-secret text (a key id). Nothing is scheduled.
pub fn copy_text(app: &AppHandle, text: String) -> Result<()> {
    app.clipboard().write_text(text).map_err(clip_err)
}

fn clear_if_holds(app: &AppHandle, secret: &str) {
    // Reading may fail (empty clipboard, non-text content): then there is nothing of ours to clear.
    match app.clipboard().read_text() {
        Ok(current) if current == secret => {
            if let Err(e) = app.clipboard().clear() {
                log::warn!("clipboard clear failed: {e}");
                let _ = app.clipboard().write_text(String::new());
            }
        }
        _ => {}
    }
}
