//! The store under faults: a read never waits on another process's write, and a full disk is
//! named (`disk_full`, the folder, what to do) while reads keep answering.

#![allow(
    clippy::disallowed_methods,
    reason = "tests hold a write on the database file behind the store, and fill its disk"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::support::{ctx, org_key, sandbox, sync_ok};
use keyward_core::ErrorCode;
use keyward_core::ctx::{AppCtx, blocking};
use keyward_core::model::alert::{AlertFilter, AlertKind, MuteTarget};
use keyward_core::model::audit::AuditFilter;
use keyward_core::model::key::KeyFilter;
use keyward_core::store::without_waiting;
use keyward_core::{alerts, audit, keys, sync};
use kinde_sandbox::Config;

/// A business of 120 keys (and the sandbox's empty API and organization to create one for).
fn business() -> Config {
    Config {
        extra_keys: 120,
        ..Config::default()
    }
}

/// What the read commands answer: `keys list --offline`, `audit`, `alerts`, `sync status`.
#[derive(Debug, PartialEq, Eq)]
struct Reads {
    keys: usize,
    audit: usize,
    alerts: usize,
    runs: usize,
}

async fn reads(ctx: &AppCtx) -> keyward_core::Result<Reads> {
    let keys = keys::list(ctx, &KeyFilter::default(), true).await?.len();
    let audit = audit::list(ctx, AuditFilter::default()).await?.len();
    let alerts = alerts::list(
        ctx,
        AlertFilter {
            include_acknowledged: true,
            include_muted: true,
            ..AlertFilter::default()
        },
    )
    .await?
    .alerts
    .len();
    let runs = sync::runs(ctx, 100).await?.len();
    Ok(Reads {
        keys,
        audit,
        alerts,
        runs,
    })
}

/// A demo business synced into the store under `home`, with one key created through Keyward
/// (an audit row). Returns what the reads answer then.
async fn filled(sb: &kinde_sandbox::Sandbox, home: &Path) -> Reads {
    let c = ctx(sb, home);
    sync_ok(&c).await;
    keys::create(&c, org_key("store-faults", &["read:data"]))
        .await
        .unwrap();
    sync_ok(&c).await;
    let r = reads(&c).await.unwrap();
    assert!(r.keys > 100 && r.audit >= 1 && r.runs >= 2, "{r:?}");
    r
}

#[tokio::test]
async fn reads_answer_at_once_while_another_connection_holds_a_write() {
    let sb = sandbox(business()).await;
    let home = tempfile::tempdir().unwrap();
    let before = filled(&sb, home.path()).await;
    let db = ctx(&sb, home.path()).db_path().await.unwrap();

    // Another process's writer: an IMMEDIATE transaction with a row in it, held open.
    let writer = rusqlite::Connection::open(&db).unwrap();
    writer
        .execute_batch("BEGIN IMMEDIATE; CREATE TABLE held (x); INSERT INTO held VALUES (1);")
        .unwrap();

    // A fresh context opens the store as a new `keyward` process would.
    let started = Instant::now();
    let c = ctx(&sb, home.path());
    let during = reads(&c).await.expect("reads answer during a write");
    println!(
        "four reads during a held write: {} ms (a wait on the writer would be {} s)",
        started.elapsed().as_millis(),
        keyward_core::store::BUSY_TIMEOUT.as_secs()
    );
    assert_eq!(during, before);

    // A write that a read does on the side (the alert evaluation before `keyward alerts`)
    // does not wait either inside `without_waiting`: it fails at once, and is skipped.
    let store = c.store().await.unwrap();
    let started = Instant::now();
    let side = blocking(move || {
        without_waiting(|| {
            store.alert_mute(
                &MuteTarget::Kind {
                    kind: AlertKind::Stale,
                },
                chrono::Utc::now(),
            )
        })
    })
    .await
    .unwrap_err();
    println!(
        "a side write during a held write gave up in {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(side.code, ErrorCode::Database);
    assert!(side.message.contains("locked"), "{}", side.message);
    assert_eq!(reads(&c).await.unwrap(), before);

    // The writer still holds its transaction, and commits it afterwards; the store waits for
    // a writer again outside `without_waiting`.
    writer.execute_batch("COMMIT").unwrap();
    assert_eq!(reads(&c).await.unwrap(), before);
    alerts::mute(
        &c,
        MuteTarget::Kind {
            kind: AlertKind::Stale,
        },
    )
    .await
    .unwrap();
    assert_eq!(alerts::mutes(&c).await.unwrap().len(), 1);
}

/// A tmpfs of `size` mounted on a fresh folder, unmounted on drop; `None` (with the reason
/// printed) where mounting is not permitted.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("tmpfs")
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                println!(
                    "SKIPPED: cannot mount a tmpfs (root is needed): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                println!("SKIPPED: cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the disk refuses; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0xa5u8; 64 * 1024];
        loop {
            match f.write_all(&block).and_then(|()| f.flush()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
        }
        // What is left of a partly written block goes too.
        for n in [4096usize, 512, 1] {
            while f.write_all(&block[..n]).and_then(|()| f.flush()).is_ok() {}
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn assert_disk_full(e: &keyward_core::Error, data: &Path) {
    assert_eq!(e.code, ErrorCode::DiskFull, "{e:?}");
    assert!(
        e.message.contains("is full") && e.message.contains(&data.display().to_string()),
        "{}",
        e.message
    );
    assert!(e.hint.contains("Free some space"), "{}", e.hint);
    assert!(!e.hint.contains("bug"), "{}", e.hint);
}

#[tokio::test]
async fn a_full_disk_is_named_and_reads_keep_working() {
    let Some(disk) = Tmpfs::mount("16m") else {
        return;
    };
    let sb = sandbox(business()).await;
    let home = disk.path().join("home");
    let before = filled(&sb, &home).await;
    let data = ctx(&sb, &home).db_path().await.unwrap();
    let data = data.parent().unwrap().to_path_buf();

    // The app: a context whose store is open before the disk fills.
    let open = ctx(&sb, &home);
    assert_eq!(reads(&open).await.unwrap(), before);

    let filler = disk.fill();
    let mute = MuteTarget::Kind {
        kind: AlertKind::Stale,
    };

    // The open store answers every read, and refuses a write with the disk named.
    assert_eq!(reads(&open).await.expect("reads of an open store"), before);
    refuses_writes(&open, &mute, &data).await;
    // Closed (the app quits): nobody holds the database's WAL index any more.
    drop(open);

    // A `keyward` started now: SQLite cannot make the WAL index on this disk, the store opens
    // read-only, and the reads still answer, all of them.
    let fresh = ctx(&sb, &home);
    assert_eq!(
        reads(&fresh).await.expect("reads of a store opened now"),
        before
    );
    refuses_writes(&fresh, &mute, &data).await;
    assert!(alerts::mutes(&fresh).await.unwrap().is_empty());
    assert_eq!(reads(&fresh).await.unwrap(), before);
    drop(fresh);

    // Space again: a new context writes, and the database is sound.
    std::fs::remove_file(filler).unwrap();
    let after = ctx(&sb, &home);
    alerts::mute(&after, mute).await.unwrap();
    assert_eq!(alerts::mutes(&after).await.unwrap().len(), 1);
    sync_ok(&after).await;
    let store = after.store().await.unwrap();
    keyward_core::ctx::blocking(move || store.integrity_check())
        .await
        .unwrap();
}

/// A write through `c` fails with `disk_full` naming `data`, and changes nothing.
async fn refuses_writes(c: &AppCtx, mute: &MuteTarget, data: &Path) {
    let e = alerts::mute(c, mute.clone()).await.unwrap_err();
    assert_disk_full(&e, data);
    // Create writes its intent first: refused before anything is sent to Kinde.
    let e = keys::create(c, org_key("on-a-full-disk", &["read:data"]))
        .await
        .unwrap_err();
    assert_disk_full(&e, data);
}
