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

/// Asks for a folder to scan for leaked secrets; `None` when the user cancels.
pub async fn pick_folder(app: &AppHandle) -> Option<PathBuf> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Scan a folder for leaked Kinde keys")
        .pick_folder(move |p| {
            let _ = tx.send(p);
        });
    rx.await.ok().flatten().and_then(|p| p.into_path().ok())
}

/// The paths typed into the Scan screen (one per line): trimmed, `~/` expanded, and absolute,
/// since the app's working directory means nothing to the person typing.
pub fn scan_targets(paths: Vec<String>) -> keyward_core::Result<Vec<PathBuf>> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut out = Vec::new();
    for raw in paths {
        let p = raw.trim();
        if p.is_empty() {
            continue;
        }
        let path = match (p.strip_prefix("~/").or((p == "~").then_some("")), &home) {
            (Some(rest), Some(h)) => h.join(rest),
            _ => PathBuf::from(p),
        };
        if !path.is_absolute() {
            return Err(keyward_core::Error::invalid_input(
                "path",
                format!("{p:?} is not an absolute path"),
                "Give a full path such as /home/you/project (or ~/project), or use Browse….",
            ));
        }
        out.push(path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_targets_are_trimmed_expanded_and_absolute() {
        let home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
        let got = scan_targets(vec![" /tmp/x ".into(), String::new(), "~/src".into()]).unwrap();
        assert_eq!(got, vec![PathBuf::from("/tmp/x"), home.join("src")]);
        let e = scan_targets(vec!["src/app".into()]).unwrap_err();
        assert_eq!(e.code, keyward_core::ErrorCode::InvalidInput);
        assert!(e.hint.contains("Browse"), "{}", e.hint);
    }
}
