//! Every file Keyward writes goes through here.
//!
//! - Keyward's own folders are private (0700) and its files private (0600): the store holds key
//!   metadata, owners and history, which other local users have no business reading. Installs
//!   from before this rule are fixed on start ([`secure_tree`]).
//! - A file is replaced atomically: the bytes go to a temporary file with a random name, created
//!   exclusively (`O_EXCL`) beside the target, then fsynced and renamed over it. A planted
//!   symlink at a predictable temporary name cannot redirect the write, and a failed write
//!   (a full disk) removes its temporary file and leaves the old file as it was.
//! - Only a regular file is ever replaced: a target that is a symlink, a FIFO, a device, a
//!   socket or a directory is refused with `invalid_input`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorCode, Result};

/// The mode of Keyward's folders.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// The mode of Keyward's files (the store, its WAL and lock files, config.toml).
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// What a path that exists is, in words a user understands.
fn kind_of(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Refuses a target that exists and is not a regular file (without following a symlink).
/// Returns the mode of an existing regular file, so that a replacement keeps it.
pub fn check_replaceable(path: &Path) -> Result<Option<u32>> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => Ok(Some(mode_of(&m))),
        Ok(m) => {
            let kind = kind_of(m.file_type());
            let hint = if m.is_dir() {
                "Give a file name inside the folder, e.g. keys.csv.".to_string()
            } else {
                format!(
                    "Keyward only replaces regular files and never writes through {kind}: \
                     give another file name, or remove {} first.",
                    path.display()
                )
            };
            Err(Error::new(
                ErrorCode::InvalidInput,
                format!("{} is {kind}, not a regular file", path.display()),
                hint,
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&format!("checking {}", path.display()), &e)),
    }
}

#[cfg(unix)]
fn mode_of(m: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(_m: &std::fs::Metadata) -> u32 {
    PRIVATE_FILE_MODE
}

/// How [`write_atomic`] sets the new file's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Always 0600 (config.toml).
    Private,
    /// The replaced file's mode, or 0600 for a new file (exports: the user chose the file).
    KeepOrPrivate,
}

/// Writes `bytes` to `path` atomically through a random, exclusively created temporary file in
/// the same folder. The folder must exist. On any failure the temporary file is gone and `path`
/// is as it was.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Mode) -> Result<()> {
    let existing = check_replaceable(path)?;
    let dir: PathBuf = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The temporary name starts with at most 32 characters of the target's, so that a target
    // name near NAME_MAX (255 bytes) still has a temporary file: `.{32 chars}.{6 random}.tmp`.
    let name: String = path
        .file_name()
        .map(|n| n.to_string_lossy().chars().take(32).collect())
        .unwrap_or_else(|| "keyward".into());
    let io = |e: &std::io::Error| {
        Error::new(
            ErrorCode::Io,
            format!("writing {}: {e}", path.display()),
            "Check that the folder exists, that you may write to it, and that the disk has room.",
        )
    };
    // NamedTempFile: O_CREAT|O_EXCL, mode 0600, a random name; removed when dropped unpersisted.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| io(&e))?;
    tmp.write_all(bytes).map_err(|e| io(&e))?;
    tmp.as_file().sync_all().map_err(|e| io(&e))?;
    let want = match (mode, existing) {
        (Mode::KeepOrPrivate, Some(m)) => m,
        _ => PRIVATE_FILE_MODE,
    };
    set_mode(tmp.path(), want).map_err(|e| io(&e))?;
    // Checked again just before the rename: a target swapped for a symlink meanwhile is refused
    // (the rename itself would replace the link, never write through it).
    check_replaceable(path)?;
    tmp.persist(path).map_err(|e| io(&e.error))?;
    sync_dir(&dir);
    Ok(())
}

/// Best effort: makes the rename durable (a crash right after keeps the new file).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Creates `dir` and its missing parents as 0700 and makes `dir` itself 0700.
pub fn private_dir(dir: &Path) -> Result<()> {
    let err = |e: &std::io::Error| Error::io(&format!("creating {}", dir.display()), e);
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(PRIVATE_DIR_MODE);
    }
    b.create(dir).map_err(|e| err(&e))?;
    set_mode(dir, PRIVATE_DIR_MODE).map_err(|e| err(&e))
}

/// Creates `path` (empty) as 0600 if it is missing, and makes an existing file 0600. SQLite gives
/// its `-wal` and `-shm` files the main database file's mode, so this covers them too.
pub fn private_file(path: &Path) -> Result<()> {
    let err = |e: &std::io::Error| Error::io(&format!("creating {}", path.display()), e);
    if check_replaceable(path)?.is_none() {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(PRIVATE_FILE_MODE);
        }
        o.open(path).map_err(|e| err(&e))?;
    }
    set_mode(path, PRIVATE_FILE_MODE).map_err(|e| err(&e))
}

/// Makes `root` and every folder below it 0700 and every regular file 0600, without following
/// symlinks. Installs from before Keyward kept its files private are fixed by this on start.
/// Returns how many modes it changed. A missing `root` is nothing to do.
pub fn secure_tree(root: &Path) -> Result<u32> {
    let mut changed = 0;
    let mut stack = vec![(root.to_path_buf(), 0u32)];
    while let Some((p, depth)) = stack.pop() {
        let m = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&format!("checking {}", p.display()), &e)),
        };
        let want = if m.is_dir() {
            PRIVATE_DIR_MODE
        } else if m.file_type().is_file() {
            PRIVATE_FILE_MODE
        } else {
            continue;
        };
        if mode_of(&m) & 0o777 != want {
            set_mode(&p, want)
                .map_err(|e| Error::io(&format!("making {} private", p.display()), &e))?;
            changed += 1;
        }
        // Keyward's tree is shallow (data/profiles/NAME/file); a deep tree is not Keyward's.
        if m.is_dir() && depth < 4 {
            let rd = std::fs::read_dir(&p)
                .map_err(|e| Error::io(&format!("reading {}", p.display()), &e))?;
            for entry in rd.flatten() {
                stack.push((entry.path(), depth + 1));
            }
        }
    }
    Ok(changed)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn a_planted_symlink_at_the_old_temp_name_is_not_written_through() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "ORIG").unwrap();
        std::os::unix::fs::symlink(&victim, d.path().join(".out.csv.tmp")).unwrap();
        let out = d.path().join("out.csv");
        write_atomic(&out, b"a,b\r\n", Mode::KeepOrPrivate).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "ORIG");
        assert!(
            std::fs::symlink_metadata(&out)
                .unwrap()
                .file_type()
                .is_file()
        );
        assert_eq!(std::fs::read(&out).unwrap(), b"a,b\r\n");
        assert_eq!(mode(&out), 0o600);
    }

    #[test]
    fn non_regular_targets_are_refused_and_left_alone() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "ORIG").unwrap();
        let link = d.path().join("link.csv");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let fifo = d.path().join("fifo.csv");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(ok.success());
        let sub = d.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        for (target, kind) in [
            (&link, "a symbolic link"),
            (&fifo, "a FIFO"),
            (&sub, "a directory"),
            (&PathBuf::from("/dev/full"), "a character device"),
            (&PathBuf::from("/dev/null"), "a character device"),
        ] {
            let e = write_atomic(target, b"x", Mode::KeepOrPrivate).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{target:?}");
            assert!(e.message.contains(kind), "{target:?}: {}", e.message);
            assert!(!e.hint.is_empty());
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "ORIG");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert!(leftovers(d.path()).is_empty(), "{:?}", leftovers(d.path()));
    }

    #[test]
    fn replacing_keeps_the_old_mode_for_exports_and_forces_0600_for_config() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("keys.csv");
        std::fs::write(&p, "old").unwrap();
        set_mode(&p, 0o644).unwrap();
        write_atomic(&p, b"new", Mode::KeepOrPrivate).unwrap();
        assert_eq!(mode(&p), 0o644);
        write_atomic(&p, b"newer", Mode::Private).unwrap();
        assert_eq!(mode(&p), 0o600);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "newer");
        assert!(leftovers(d.path()).is_empty());
    }

    #[test]
    fn a_target_name_near_name_max_is_written() {
        let d = tempfile::tempdir().unwrap();
        // 245 and 255 bytes (NAME_MAX), ASCII and multi-byte: the temporary name stays short.
        let names = [
            format!("{}.csv", "a".repeat(241)),
            format!("{}.csv", "b".repeat(251)),
            format!("{}.csv", "é".repeat(125)),
        ];
        for n in &names {
            assert!((245..=255).contains(&n.len()), "{}", n.len());
            let p = d.path().join(n);
            write_atomic(&p, b"x,y\n", Mode::KeepOrPrivate).unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), b"x,y\n");
            write_atomic(&p, b"z\n", Mode::KeepOrPrivate).unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), b"z\n");
        }
        assert!(leftovers(d.path()).is_empty(), "{:?}", leftovers(d.path()));
    }

    #[test]
    fn a_failed_write_removes_its_temp_file_and_keeps_the_original() {
        // A read-only folder: the temporary file cannot even be created (root ignores modes, so
        // the check is skipped there; the CLI test covers a full disk through RLIMIT_FSIZE).
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("keys.csv");
        std::fs::write(&p, "ORIG").unwrap();
        set_mode(d.path(), 0o500).unwrap();
        let r = write_atomic(&p, b"new", Mode::KeepOrPrivate);
        set_mode(d.path(), 0o700).unwrap();
        if let Err(e) = r {
            assert_eq!(e.code, ErrorCode::Io);
            assert_eq!(std::fs::read_to_string(&p).unwrap(), "ORIG");
        }
        assert!(leftovers(d.path()).is_empty());
    }

    #[test]
    fn private_dirs_files_and_an_old_install_fixed_on_start() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("data/profiles/prod");
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let db = dir.join("keyward.sqlite3");
        private_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        // An install from before: world-readable everything.
        for p in [
            d.path().join("data"),
            d.path().join("data/profiles"),
            dir.clone(),
        ] {
            set_mode(&p, 0o755).unwrap();
        }
        set_mode(&db, 0o644).unwrap();
        std::fs::write(dir.join("keyward.sqlite3-wal"), "").unwrap();
        set_mode(&dir.join("keyward.sqlite3-wal"), 0o644).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("link")).unwrap();
        let changed = secure_tree(&d.path().join("data")).unwrap();
        assert_eq!(changed, 5);
        assert_eq!(mode(&d.path().join("data")), 0o700);
        assert_eq!(mode(&d.path().join("data/profiles")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&dir.join("keyward.sqlite3-wal")), 0o600);
        // The link's target is not Keyward's: untouched.
        assert_ne!(mode(Path::new("/etc/passwd")) & 0o044, 0);
        assert_eq!(secure_tree(&d.path().join("data")).unwrap(), 0);
        assert_eq!(secure_tree(&d.path().join("missing")).unwrap(), 0);
    }
}
