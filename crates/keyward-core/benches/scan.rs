//! `make bench`: the leak scanner's rate over a generated tree of at least 1 GiB, side by side
//! with ripgrep over the same tree and the same pattern. Goal: >= 300 MB/s (release build).
//!
//! The tree lives in `target/scan-bench-tree` and is generated once (source-like text, 2,048
//! files of 512 KiB, with a few planted secrets). `KEYWARD_SCAN_BENCH_MB` changes its size.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use keyward_core::leaks::scan::{RG_PATTERN, ScanOptions, scan_paths};

const FILE_BYTES: usize = 512 * 1024;
const PLANTED_EVERY: usize = 97;

fn tree_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/scan-bench-tree")
        .to_path_buf()
}

fn generate(dir: &Path, files: usize) -> u64 {
    let marker = dir.join(format!(".complete-{files}"));
    if marker.exists() {
        return (files * FILE_BYTES) as u64;
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let words = [
        "let",
        "value",
        "config",
        "token",
        "request",
        "handler",
        "fn",
        "return",
        "match",
        "self",
        "kinde",
        "live",
        "key_id",
        "=>",
        "{",
        "}",
        "(",
        ")",
        "k_live",
        "api",
        "0x1f",
        "// TODO",
        "\"string\"",
        "import",
        "export",
        "async",
        "await",
        "struct",
        "impl",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..files {
        let sub = dir.join(format!("pkg{:03}", i % 64));
        std::fs::create_dir_all(&sub).unwrap();
        let mut body = Vec::with_capacity(FILE_BYTES + 128);
        while body.len() < FILE_BYTES {
            let n = (next() % 12 + 2) as usize;
            for _ in 0..n {
                body.extend_from_slice(words[(next() % words.len() as u64) as usize].as_bytes());
                body.push(b' ');
            }
            body.push(b'\n');
        }
        if i % PLANTED_EVERY == 0 {
            let pos = FILE_BYTES / 2;
            let secret = format!("\nKEY=\"k_live_{:032x}\"\n", next() as u128 * 7919);
            body.splice(pos..pos, secret.bytes());
        }
        body.truncate(FILE_BYTES);
        let mut f = std::fs::File::create(sub.join(format!("file{i:05}.rs"))).unwrap();
        f.write_all(&body).unwrap();
    }
    std::fs::write(&marker, b"").unwrap();
    (files * FILE_BYTES) as u64
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that is not ours skips this bench.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "scan".contains(a.as_str())) {
        return;
    }
    let mb: usize = std::env::var("KEYWARD_SCAN_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let files = (mb * 1024 * 1024).div_ceil(FILE_BYTES);
    let dir = tree_dir();
    let t = Instant::now();
    let bytes = generate(&dir, files);
    println!(
        "scan bench: tree of {files} files, {:.0} MB at {} (ready in {:.1} s)",
        bytes as f64 / 1e6,
        dir.display(),
        t.elapsed().as_secs_f64()
    );
    let mut best = f64::MAX;
    let mut hits = 0;
    for run in 0..3 {
        let t = Instant::now();
        let (h, stats) = scan_paths(std::slice::from_ref(&dir), ScanOptions::default()).unwrap();
        let s = t.elapsed().as_secs_f64();
        assert!(
            stats.bytes >= bytes,
            "scanned {} of {bytes} bytes",
            stats.bytes
        );
        hits = h.len();
        println!(
            "  keyward scan run {run}: {:.2} s, {:.0} MB/s, {hits} secrets",
            s,
            stats.bytes as f64 / 1e6 / s
        );
        best = best.min(s);
    }
    let expected = files.div_ceil(PLANTED_EVERY);
    assert_eq!(hits, expected, "planted secrets found");
    let rate = bytes as f64 / 1e6 / best;
    println!(
        "keyward scan: {rate:.0} MB/s (best of 3; goal >= 300 MB/s: {})",
        if rate >= 300.0 { "met" } else { "NOT met" }
    );
    let mut rg_best = f64::MAX;
    for run in 0..3 {
        let t = Instant::now();
        let out = Command::new("rg")
            .args(["--hidden", "--no-messages", "-c", RG_PATTERN])
            .arg(&dir)
            .output();
        let s = t.elapsed().as_secs_f64();
        match out {
            Ok(o) => {
                let n: usize = String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter_map(|l| l.rsplit(':').next()?.parse::<usize>().ok())
                    .sum();
                println!(
                    "  rg run {run}: {s:.2} s, {:.0} MB/s, {n} matches",
                    bytes as f64 / 1e6 / s
                );
                rg_best = rg_best.min(s);
            }
            Err(e) => {
                println!("rg: not available ({e}); `make bench` installs ripgrep from Debian");
                return;
            }
        }
    }
    println!(
        "rg {RG_PATTERN:?}: {:.0} MB/s (best of 3) — keyward is {:.2}x rg",
        bytes as f64 / 1e6 / rg_best,
        rg_best / best
    );
}
