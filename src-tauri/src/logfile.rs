//! The app's log file, private: its folder 0700 and its files 0600 (the log names profiles,
//! domains and key ids, which other local users have no business reading). The files rotate at
//! a size cap and a few older ones are kept, as tauri-plugin-log's own file target does, but
//! every file is created private (that target creates its files with the default 0644).
//!
//! The folder is known only once the app runs ([`LogFile::open_in`], from `setup`); lines logged
//! before that wait in memory (a few at most: the plugins' start-up).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

/// Lines kept in memory before the folder is known; past it, the earliest are dropped.
const EARLY_MAX_BYTES: usize = 64 * 1024;

struct State {
    dir: Option<PathBuf>,
    file: Option<File>,
    size: u64,
    early: Vec<u8>,
}

/// A log file that rotates at `max_bytes` and keeps `keep` older files (`NAME.1.log` the newest).
#[derive(Clone)]
pub struct LogFile {
    name: String,
    max_bytes: u64,
    keep: usize,
    state: Arc<Mutex<State>>,
}

impl LogFile {
    pub fn new(name: &str, max_bytes: u64, keep: usize) -> Self {
        Self {
            name: name.to_string(),
            max_bytes,
            keep,
            state: Arc::new(Mutex::new(State {
                dir: None,
                file: None,
                size: 0,
                early: Vec::new(),
            })),
        }
    }

    fn path(&self, dir: &Path, n: usize) -> PathBuf {
        if n == 0 {
            dir.join(format!("{}.log", self.name))
        } else {
            dir.join(format!("{}.{n}.log", self.name))
        }
    }

    /// Makes `dir` private (creating it), makes the files already there private (an install
    /// from before this rule), and starts writing there.
    pub fn open_in(&self, dir: &Path) -> keyward_core::error::Result<()> {
        keyward_core::fsutil::private_dir(dir)?;
        keyward_core::fsutil::secure_tree(dir)?;
        let mut st = self.state.lock();
        st.dir = Some(dir.to_path_buf());
        let early = std::mem::take(&mut st.early);
        if !early.is_empty() {
            let _ = self.write_locked(&mut st, &early);
        }
        Ok(())
    }

    fn open_file(&self, dir: &Path) -> std::io::Result<(File, u64)> {
        let mut o = OpenOptions::new();
        o.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(keyward_core::fsutil::PRIVATE_FILE_MODE);
        }
        let f = o.open(self.path(dir, 0))?;
        let size = f.metadata()?.len();
        Ok((f, size))
    }

    fn rotate(&self, dir: &Path) {
        for n in (0..self.keep).rev() {
            let from = self.path(dir, n);
            if from.exists() {
                let _ = std::fs::rename(&from, self.path(dir, n + 1));
            }
        }
        if self.keep == 0 {
            let _ = std::fs::remove_file(self.path(dir, 0));
        }
    }

    fn write_locked(&self, st: &mut State, buf: &[u8]) -> std::io::Result<()> {
        let Some(dir) = st.dir.clone() else {
            st.early.extend_from_slice(buf);
            if st.early.len() > EARLY_MAX_BYTES {
                let cut = st.early.len() - EARLY_MAX_BYTES;
                st.early.drain(..cut);
            }
            return Ok(());
        };
        if st.file.is_none() {
            let (f, size) = self.open_file(&dir)?;
            st.file = Some(f);
            st.size = size;
        }
        if st.size > 0 && st.size + buf.len() as u64 > self.max_bytes {
            st.file = None;
            self.rotate(&dir);
            let (f, size) = self.open_file(&dir)?;
            st.file = Some(f);
            st.size = size;
        }
        if let Some(f) = st.file.as_mut() {
            f.write_all(buf)?;
            st.size += buf.len() as u64;
        }
        Ok(())
    }

    /// A writer for the log's dispatcher (one per log line; every clone writes to this file).
    pub fn writer(&self) -> Box<dyn Write + Send> {
        Box::new(Writer(self.clone()))
    }
}

struct Writer(LogFile);

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut st = self.0.state.lock();
        self.0.write_locked(&mut st, buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_folder_and_every_file_are_private_across_rotations() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("logs");
        // An install from before: a world-readable folder and file.
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("Keyward.log"), b"old\n").unwrap();
        std::fs::set_permissions(
            dir.join("Keyward.log"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let log = LogFile::new("Keyward", 100, 2);
        let mut w = log.writer();
        w.write_all(b"before the folder is known\n").unwrap();
        log.open_in(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        for i in 0..20 {
            w.write_all(format!("line {i:02} of the log, 30 bytes\n").as_bytes())
                .unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["Keyward.1.log", "Keyward.2.log", "Keyward.log"]);
        for n in &names {
            let p = dir.join(n);
            assert_eq!(mode(&p), 0o600, "{n}");
            assert!(std::fs::metadata(&p).unwrap().len() <= 100, "{n}");
        }
        let last = std::fs::read_to_string(dir.join("Keyward.log")).unwrap();
        assert!(last.ends_with("line 19 of the log, 30 bytes\n"), "{last}");
    }

    #[test]
    fn early_lines_land_in_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let log = LogFile::new("app", 1 << 20, 1);
        log.writer().write_all(b"early\n").unwrap();
        log.open_in(tmp.path()).unwrap();
        log.writer().write_all(b"late\n").unwrap();
        let s = std::fs::read_to_string(tmp.path().join("app.log")).unwrap();
        assert_eq!(s, "early\nlate\n");
    }
}
