//! Leak triage: finds strings shaped like Kinde API key secrets in files.
//!
//! - Walks folders and git checkouts in parallel with the `ignore` crate (as ripgrep does):
//!   `.gitignore`, `.ignore` and git excludes are respected; `.git/` is skipped; hidden files
//!   (`.env`!) are scanned.
//! - Reads regular files only: a FIFO, a device (`/dev/zero`) or a socket is never opened for
//!   reading (a FIFO would block, a device never ends), and a file is opened non-blocking and
//!   checked again once open. Skips binaries (a NUL byte in the first 8 KiB) and files over a
//!   size cap. Every file not read is listed with its reason ([`SkippedFile`]): a scan that
//!   read nothing is not a clean scan.
//! - A hit has the shape of a Kinde secret ([`SecretHit::kinde_shaped`]) only when
//!   [`KINDE_TAIL_LEN`] letters and digits follow the marker; only those are matched to keys.
//! - Searches each file for the literal `k_live_` with `memchr::memmem`, then checks that a run
//!   of 16 to 256 base62 characters follows and that the match is not inside a longer word.
//! - A found secret never leaves this module: a [`SecretHit`] carries only its location, its
//!   prefix (first 6 characters), its suffix (last 4) and a masked form.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use crate::error::{Error, Result};

/// The literal every Kinde key secret starts with.
pub const SECRET_MARKER: &[u8] = b"k_live_";
/// Shortest and longest base62 tail accepted after the marker.
pub const MIN_TAIL: usize = 16;
pub const MAX_TAIL: usize = 256;
/// The same pattern for `rg` (the bench compares against it).
pub const RG_PATTERN: &str = "k_live_[0-9A-Za-z]{16,}";
/// Letters and digits after `k_live_` in a Kinde key secret (`k_live_` and 32 base62
/// characters, 39 in all: the doctor's `EXPECTED_KEY_LEN`).
pub const KINDE_TAIL_LEN: usize = 32;

pub use crate::model::leak::{
    SKIPPED_LISTED, ScanOptions, ScanStats, SecretHit, SkipReason, SkippedFile,
};

/// What a walk found: the hits (sorted by path and line), the counts, and the files not read.
#[derive(Debug, Clone, PartialEq)]
pub struct Walked {
    pub hits: Vec<SecretHit>,
    pub stats: ScanStats,
    pub skipped: Vec<SkippedFile>,
}

fn is_base62(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// Calls `f(start, len)` for each secret-shaped string in `buf`.
pub fn find_secrets(buf: &[u8], mut f: impl FnMut(usize, usize)) {
    let finder = memchr::memmem::Finder::new(SECRET_MARKER);
    let mut from = 0;
    while let Some(i) = finder.find(&buf[from..]) {
        let start = from + i;
        let tail_start = start + SECRET_MARKER.len();
        let tail = buf[tail_start..]
            .iter()
            .take(MAX_TAIL + 1)
            .take_while(|b| is_base62(**b))
            .count();
        let standalone = start == 0 || !(is_base62(buf[start - 1]) || buf[start - 1] == b'_');
        if standalone && (MIN_TAIL..=MAX_TAIL).contains(&tail) {
            let len = SECRET_MARKER.len() + tail;
            f(start, len);
            from = start + len;
        } else {
            from = tail_start;
        }
    }
}

/// Masks a secret: the marker, an ellipsis and the last 4 characters.
pub fn mask(secret: &[u8]) -> String {
    let s = String::from_utf8_lossy(secret);
    let n = s.chars().count();
    let last: String = s.chars().skip(n.saturating_sub(4)).collect();
    format!("k_live_…{last}")
}

/// Scans `paths` (files or folders) and returns the hits (sorted by path and line).
pub fn scan_paths(paths: &[PathBuf], opts: ScanOptions) -> Result<(Vec<SecretHit>, ScanStats)> {
    walk(paths, opts).map(|w| (w.hits, w.stats))
}

/// Scans `paths` (files or folders): the hits, the counts, and every file not read and why.
pub fn walk(paths: &[PathBuf], opts: ScanOptions) -> Result<Walked> {
    let Some(first) = paths.first() else {
        return Err(Error::invalid_input(
            "path",
            "no path to scan",
            "Give one or more folders or files, e.g. `keyward scan .`.",
        ));
    };
    for p in paths {
        // `symlink_metadata`: a dangling symlink given by name exists (and is skipped).
        if std::fs::symlink_metadata(p).is_err() {
            return Err(Error::invalid_input(
                "path",
                format!("{} does not exist", p.display()),
                "Give folders or files that exist.",
            ));
        }
    }
    let started = Instant::now();
    let mut wb = ignore::WalkBuilder::new(first);
    for p in &paths[1..] {
        wb.add(p);
    }
    wb.hidden(false)
        .require_git(false)
        .threads(opts.threads as usize)
        .filter_entry(|e| e.file_name() != ".git");
    let hits: Mutex<Vec<SecretHit>> = Mutex::new(Vec::new());
    let c = Counters::default();
    wb.build_parallel().run(|| {
        let mut buf: Vec<u8> = Vec::with_capacity(256 * 1024);
        let (hits, c) = (&hits, &c);
        Box::new(move |entry| {
            match entry {
                Ok(e) => match e.file_type() {
                    Some(t) if t.is_file() => scan_file(e.path(), opts, &mut buf, hits, c),
                    // Folders are walked; symlinks are not followed (as ripgrep).
                    Some(t) if t.is_dir() || t.is_symlink() => {}
                    _ => c.skip(e.path(), SkipReason::NotRegular, kind_of(e.path())),
                },
                Err(err) => {
                    let path = match &err {
                        ignore::Error::WithPath { path, .. } => path.display().to_string(),
                        _ => "?".to_string(),
                    };
                    c.skip_named(path, SkipReason::Unreadable, err.to_string());
                }
            }
            ignore::WalkState::Continue
        })
    });
    let mut hits = hits.into_inner();
    hits.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    let mut skipped = c.skipped.into_inner();
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    let stats = ScanStats {
        files: c.files.load(Ordering::Relaxed),
        bytes: c.bytes.load(Ordering::Relaxed),
        skipped_binary: c.binary.load(Ordering::Relaxed),
        skipped_large: c.large.load(Ordering::Relaxed),
        unreadable: c.unreadable.load(Ordering::Relaxed),
        not_regular: c.not_regular.load(Ordering::Relaxed),
        duration_ms: started.elapsed().as_millis() as u64,
    };
    Ok(Walked {
        hits,
        stats,
        skipped,
    })
}

#[derive(Default)]
struct Counters {
    files: AtomicU64,
    bytes: AtomicU64,
    binary: AtomicU64,
    large: AtomicU64,
    unreadable: AtomicU64,
    not_regular: AtomicU64,
    skipped: Mutex<Vec<SkippedFile>>,
}

impl Counters {
    fn skip(&self, path: &Path, reason: SkipReason, detail: impl Into<String>) {
        self.skip_named(path.display().to_string(), reason, detail.into());
    }

    /// Counts a file not read, and lists it (up to [`SKIPPED_LISTED`]).
    fn skip_named(&self, path: String, reason: SkipReason, detail: String) {
        let counter = match reason {
            SkipReason::NotRegular => &self.not_regular,
            SkipReason::Unreadable => &self.unreadable,
            SkipReason::Binary => &self.binary,
            SkipReason::TooLarge => &self.large,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut list = self.skipped.lock();
        if list.len() < SKIPPED_LISTED {
            list.push(SkippedFile {
                path,
                reason,
                detail,
            });
        }
    }
}

/// What a file that is not regular is, in words.
fn kind_of(path: &Path) -> String {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path).map(|m| m.file_type()) {
        Ok(t) if t.is_fifo() => "a FIFO (named pipe): not read".into(),
        Ok(t) if t.is_char_device() => "a character device: not read".into(),
        Ok(t) if t.is_block_device() => "a block device: not read".into(),
        Ok(t) if t.is_socket() => "a socket: not read".into(),
        Ok(_) => "not a regular file: not read".into(),
        Err(e) => format!("not a regular file: {e}"),
    }
}

/// `O_NONBLOCK`: opening a FIFO that replaced a file after the walk saw it must not block.
#[cfg(any(target_os = "linux", target_os = "android"))]
const O_NONBLOCK: i32 = 0o4000;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const O_NONBLOCK: i32 = 0x0004;

fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / 1_048_576.0)
}

fn scan_file(
    path: &Path,
    opts: ScanOptions,
    buf: &mut Vec<u8>,
    hits: &Mutex<Vec<SecretHit>>,
    c: &Counters,
) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = match std::fs::File::options()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) => return c.skip(path, SkipReason::Unreadable, e.to_string()),
    };
    let meta = match f.metadata() {
        Ok(m) => m,
        Err(e) => return c.skip(path, SkipReason::Unreadable, e.to_string()),
    };
    if !meta.is_file() {
        return c.skip(path, SkipReason::NotRegular, kind_of(path));
    }
    let cap = format!("over the {} cap (--max-size-mb)", mib(opts.max_file_bytes));
    if meta.len() > opts.max_file_bytes {
        return c.skip(
            path,
            SkipReason::TooLarge,
            format!("{}, {cap}", mib(meta.len())),
        );
    }
    buf.clear();
    if let Err(e) = (&mut f).take(opts.max_file_bytes + 1).read_to_end(buf) {
        return c.skip(path, SkipReason::Unreadable, e.to_string());
    }
    if buf.len() as u64 > opts.max_file_bytes {
        return c.skip(
            path,
            SkipReason::TooLarge,
            format!("grew while read, {cap}"),
        );
    }
    if let Some(at) = memchr::memchr(0, &buf[..buf.len().min(8192)]) {
        return c.skip(
            path,
            SkipReason::Binary,
            format!("a NUL byte at offset {at}: a binary file"),
        );
    }
    c.files.fetch_add(1, Ordering::Relaxed);
    c.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
    let mut found = Vec::new();
    let (mut line, mut line_start, mut counted_to) = (1u64, 0usize, 0usize);
    find_secrets(buf, |start, n| {
        for nl in memchr::memchr_iter(b'\n', &buf[counted_to..start]) {
            line += 1;
            line_start = counted_to + nl + 1;
        }
        counted_to = start;
        let s = &buf[start..start + n];
        found.push(SecretHit {
            path: path.display().to_string(),
            line,
            column: (start - line_start + 1) as u64,
            masked: mask(s),
            key_prefix: String::from_utf8_lossy(&s[..6]).into_owned(),
            key_suffix: String::from_utf8_lossy(&s[n - 4..]).into_owned(),
            kinde_shaped: n == SECRET_MARKER.len() + KINDE_TAIL_LEN,
        });
    });
    if !found.is_empty() {
        hits.lock().extend(found);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        find_secrets(s.as_bytes(), |a, n| out.push(&s[a..a + n]));
        out
    }

    #[test]
    fn finds_standalone_secrets_only() {
        let k = "k_live_0123456789abcdefABCDEFxyzXYZ01";
        assert_eq!(all(&format!("KEY={k}\n")), vec![k]);
        assert_eq!(all(&format!("\"{k}\",{k}")), vec![k, k]);
        assert!(all("k_live_short").is_empty());
        assert!(all(&format!("xk_live_{}", "a".repeat(20))).is_empty());
        assert!(all(&format!("k_live_{}", "a".repeat(300))).is_empty());
        assert!(all("k_live_k_live_").is_empty());
        assert_eq!(all(&format!("k_live_k_live_{}", "b".repeat(20))).len(), 0);
        assert_eq!(mask(k.as_bytes()), "k_live_…YZ01");
    }

    #[test]
    fn walks_respecting_gitignore_and_skips_binaries_and_big_files() {
        let d = tempfile::tempdir().unwrap();
        let k = format!("k_live_{}", "Q".repeat(28) + "wxyz");
        std::fs::write(d.path().join(".gitignore"), "ignored.txt\n").unwrap();
        std::fs::write(d.path().join("ignored.txt"), &k).unwrap();
        std::fs::write(d.path().join("a.env"), format!("one\ntwo\n  X={k}\n")).unwrap();
        std::fs::write(d.path().join("bin.dat"), format!("\0\0{k}")).unwrap();
        std::fs::write(d.path().join("big.txt"), format!("{k}{}", " ".repeat(2000))).unwrap();
        let opts = ScanOptions {
            max_file_bytes: 1000,
            threads: 2,
        };
        let (hits, stats) = scan_paths(&[d.path().to_path_buf()], opts).unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(hits[0].path.ends_with("a.env"));
        assert_eq!((hits[0].line, hits[0].column), (3, 5));
        assert_eq!(hits[0].key_suffix, "wxyz");
        assert_eq!(hits[0].key_prefix, "k_live");
        assert!(!format!("{hits:?}").contains(&k));
        assert_eq!((stats.skipped_binary, stats.skipped_large), (1, 1));
        assert!(scan_paths(&[d.path().join("nope")], opts).is_err());
    }
}
