//! Native dialogs opened from Rust (the webview has no dialog or fs permission).

use std::path::PathBuf;

use keyward_core::export::{ExportFormat, ExportWhat};
use tauri::AppHandle;
use tauri_plugin_dialog::DialogExt;

/// Asks where to save an export; `None` when the user cancels.
pub async fn save_path(app: &AppHandle, what: ExportWhat, format: ExportFormat) -> Option<PathBuf> {
    let (name, ext) = match format {
        ExportFormat::Csv => ("CSV", "csv"),
        ExportFormat::Json => ("JSON", "json"),
    };
    let stem = match what {
        ExportWhat::Keys => "keyward-keys",
        ExportWhat::History => "keyward-history",
        ExportWhat::Audit => "keyward-audit",
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Export")
        .set_file_name(format!("{stem}.{ext}"))
        .add_filter(name, &[ext])
        .save_file(move |p| {
            let _ = tx.send(p);
        });
    rx.await.ok().flatten().and_then(|p| p.into_path().ok())
}
