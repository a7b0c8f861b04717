//! Where config and data live, and atomic writes of config files.

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorCode, Result};

/// Where config and data live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    /// `home` if given, else `$KEYWARD_HOME`, else the platform's dirs.
    pub fn resolve(home: Option<PathBuf>) -> Result<Self> {
        if let Some(h) = home {
            return Ok(Self::under(&h));
        }
        if let Some(h) = std::env::var_os("KEYWARD_HOME").filter(|h| !h.is_empty()) {
            return Ok(Self::under(Path::new(&h)));
        }
        let dirs =
            directories::ProjectDirs::from("dev", "Keyward", "keyward").ok_or_else(|| {
                Error::new(
                    ErrorCode::Io,
                    "cannot find a home directory for Keyward's config",
                    "Set KEYWARD_HOME to a directory Keyward may write to.",
                )
            })?;
        Ok(Paths {
            config_dir: dirs.config_dir().to_path_buf(),
            data_dir: dirs.data_dir().to_path_buf(),
        })
    }

    /// Everything under one directory: `home/config` and `home/data`.
    pub fn under(home: &Path) -> Self {
        Paths {
            config_dir: home.join("config"),
            data_dir: home.join("data"),
        }
    }

    /// Makes Keyward's folders 0700 and its files 0600, fixing installs from before that rule.
    /// Best effort: a folder Keyward may not chmod is reported in the log, not an error.
    pub fn secure(&self) {
        for root in [&self.config_dir, &self.data_dir] {
            match crate::fsutil::secure_tree(root) {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    "made {n} files and folders under {} private",
                    root.display()
                ),
                Err(e) => {
                    tracing::warn!("could not make {} private: {}", root.display(), e.message)
                }
            }
        }
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    /// The SQLite database of one profile.
    pub fn db_path(&self, profile: &str) -> PathBuf {
        self.data_dir.join(format!("{profile}.sqlite3"))
    }
}

/// Writes `bytes` to `path` (0600) via a random temporary file + fsync + rename, creating the
/// folder (0700).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::internal(format!("{} has no parent directory", path.display())))?;
    crate::fsutil::private_dir(dir)?;
    crate::fsutil::write_atomic(path, bytes, crate::fsutil::Mode::Private)
}
