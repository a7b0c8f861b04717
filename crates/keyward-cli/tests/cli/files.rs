//! Files through the real `keyward` binary: an export is written only through a random,
//! exclusive temporary file and only over a regular file, a failed export leaves the original,
//! and the config and data are private (0700 folders, 0600 files), fixed on start.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::support::{Env, run};
use keyward_core::store::SqliteStore;
use kinde_sandbox::Config;

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

fn temp_leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_never_writes_through_a_planted_symlink_or_over_a_special_file() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    assert_eq!(run(env.kw(), &["sync"], None).code, 0);

    // The reproduction: a symlink at the old, predictable temporary name.
    let x = env.home().join("x");
    std::fs::create_dir_all(x.join("sym")).unwrap();
    let victim = x.join("victim");
    std::fs::write(&victim, "ORIG\n").unwrap();
    std::os::unix::fs::symlink(&victim, x.join("sym/.out.csv.tmp")).unwrap();
    let out = x.join("sym/out.csv");
    let o = run(
        env.kw(),
        &[
            "export",
            "keys",
            "--format",
            "csv",
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "ORIG\n");
    assert!(
        std::fs::symlink_metadata(&out)
            .unwrap()
            .file_type()
            .is_file()
    );
    assert!(std::fs::read_to_string(&out).unwrap().starts_with("id,"));
    // Only the planted link remains; no temporary file of ours.
    assert_eq!(
        temp_leftovers(&x.join("sym")),
        vec![".out.csv.tmp".to_string()]
    );

    // A symlink, a FIFO, a character device or a folder as --out: refused, nothing written.
    let link = x.join("link.csv");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let fifo = x.join("fifo.csv");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (target, kind) in [
        (link.to_str().unwrap(), "a symbolic link"),
        (fifo.to_str().unwrap(), "a FIFO"),
        ("/dev/full", "a character device"),
        (x.to_str().unwrap(), "a directory"),
    ] {
        let o = run(
            env.kw(),
            &["export", "keys", "--format", "json", "--out", target],
            None,
        );
        assert_eq!(o.code, 2, "{target}: {}", o.stderr);
        assert!(o.stderr.contains("error[invalid_input]"), "{}", o.stderr);
        assert!(o.stderr.contains(kind), "{target}: {}", o.stderr);
        assert!(o.stderr.contains("hint: "), "{}", o.stderr);
        assert!(!o.stdout.contains("Wrote"), "{}", o.stdout);
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "ORIG\n");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert!(temp_leftovers(&x).is_empty(), "{:?}", temp_leftovers(&x));
}

/// A full disk, through RLIMIT_FSIZE (with SIGXFSZ ignored, a write past the limit fails with
/// EFBIG as on a full filesystem): the original stays, and no temporary file stays behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_export_leaves_the_original_and_no_temporary_file() {
    let env = Env::new(Config {
        extra_keys: 1_000,
        ..Config::default()
    })
    .await;
    env.add_profile("sb");
    assert_eq!(run(env.kw(), &["sync"], None).code, 0);
    let dir = env.home().join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("keys.csv");
    std::fs::write(&out, "ORIGINAL\n").unwrap();

    let kw = assert_cmd::cargo::cargo_bin("keyward");
    // 1,150 keys are ~250 KB of CSV; the limit is 128 KiB. SQLite's own writes (the WAL of
    // the export's audit entry, the 32 KiB -shm) stay below it.
    let o = Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 128; exec \"$0\" export keys --format csv --out \"$1\"")
        .arg(&kw)
        .arg(&out)
        .env("KEYWARD_HOME", env.home())
        .env("KEYWARD_CLIENT_SECRET", env.sb.client_secret())
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/keyward-test-bus",
        )
        .env_remove("KEYWARD_PROFILE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(10), "{stderr}");
    assert!(
        stderr.contains("error[io]") && stderr.contains("hint: "),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "ORIGINAL\n");
    assert!(
        temp_leftovers(&dir).is_empty(),
        "{:?}",
        temp_leftovers(&dir)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_and_config_are_private_and_old_installs_are_fixed_on_start() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    assert_eq!(run(env.kw(), &["sync"], None).code, 0);
    let config_dir = env.home().join("config");
    let data_dir = env.home().join("data");
    let db = SqliteStore::path_for(&data_dir, "sb");
    let mut files = vec![config_dir.join("config.toml"), db.clone()];
    for entry in std::fs::read_dir(db.parent().unwrap()).unwrap().flatten() {
        files.push(entry.path());
    }
    let dirs = [
        config_dir.clone(),
        data_dir.clone(),
        db.parent().unwrap().to_path_buf(),
    ];
    for d in &dirs {
        assert_eq!(mode(d), 0o700, "{}", d.display());
    }
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }

    // An install from before the rule: everything world-readable. One command fixes it.
    for d in &dirs {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for f in &files {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    assert_eq!(run(env.kw(), &["profile", "list"], None).code, 0);
    for d in &dirs {
        assert_eq!(mode(d), 0o700, "{}", d.display());
    }
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
}
