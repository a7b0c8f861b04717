//! The About dialog's facts (version, data, config and log folders) and "Open data folder".
//!
//! The webview has no opener or shell permission: `open_data_folder` takes no path, and opens
//! only the folder that `about` reports, with the desktop's opener.

use std::path::{Path, PathBuf};
use std::process::Command;

use keyward_core::{Error, ErrorCode, Result};
use tauri::{AppHandle, Manager};

use crate::shell::Shell;
use crate::types::AboutInfo;

/// The data folder of the open session, else the one a profile would use.
async fn data_dir(shell: &Shell) -> Result<PathBuf> {
    match shell.ctx().await {
        Ok(ctx) => Ok(ctx.paths().data_dir.clone()),
        Err(_) => Ok(shell.base()?.paths().data_dir.clone()),
    }
}

pub async fn about(app: &AppHandle, shell: &Shell) -> Result<AboutInfo> {
    let info = app.package_info();
    let log_dir = app.path().app_log_dir().map_err(|e| {
        Error::new(
            ErrorCode::Io,
            format!("the platform has no log folder for Keyward: {e}"),
            "Set HOME (or XDG_DATA_HOME) so that Keyward can find its folders.",
        )
    })?;
    Ok(AboutInfo {
        name: info.name.clone(),
        version: info.version.to_string(),
        identifier: app.config().identifier.clone(),
        data_dir: data_dir(shell).await?.display().to_string(),
        config_dir: shell.base()?.paths().config_dir.display().to_string(),
        log_dir: log_dir.display().to_string(),
    })
}

/// Opens the session's data folder in the desktop's file manager.
pub async fn open_data_folder(shell: &Shell) -> Result<String> {
    let dir = data_dir(shell).await?;
    open_folder(&dir, opener())?;
    Ok(dir.display().to_string())
}

/// The desktop's "open this" program.
fn opener() -> &'static str {
    if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    }
}

fn open_folder(dir: &Path, program: &str) -> Result<()> {
    if !dir.is_dir() {
        return Err(Error::new(
            ErrorCode::Io,
            format!("the data folder {} does not exist yet", dir.display()),
            "Keyward creates it with the first sync of a profile (or when the demo starts).",
        ));
    }
    let mut child = Command::new(program).arg(dir).spawn().map_err(|e| {
        Error::new(
            ErrorCode::Io,
            format!("could not run {program}: {e}"),
            format!(
                "Open {} in your file manager (on Linux, install xdg-utils for this button).",
                dir.display()
            ),
        )
    })?;
    // Reap the opener when it exits (xdg-open returns at once; a file manager may not).
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let e = open_folder(&tmp.path().join("nope"), "true").unwrap_err();
        assert_eq!(e.code, ErrorCode::Io);
        assert!(e.message.contains("does not exist"), "{}", e.message);
        assert!(e.hint.contains("first sync"), "{}", e.hint);
    }

    #[test]
    fn a_missing_opener_names_the_folder_in_the_hint() {
        let tmp = tempfile::tempdir().unwrap();
        let e = open_folder(tmp.path(), "keyward-no-such-opener").unwrap_err();
        assert!(
            e.message.contains("keyward-no-such-opener"),
            "{}",
            e.message
        );
        assert!(
            e.hint.contains(&tmp.path().display().to_string()),
            "{}",
            e.hint
        );
    }

    #[test]
    fn the_opener_gets_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        // `true` ignores its argument and exits 0: the spawn itself is what is tested here.
        open_folder(tmp.path(), "true").unwrap();
    }
}
