//! A one-time secret is never lost silently: `keys create`, `keys rotate`, `keys reissue` with
//! a standard output that cannot take it (`/dev/full`, a closed pipe, a full tmpfs) exit 12
//! with `secret_not_delivered`, name the key and the command that mends it, and the action did
//! happen at the sandbox (the report is true) and stays audited as done.

use std::fs::File;
use std::process::{Command, Stdio};

use kinde_sandbox::{Config, EMPTY_ORG_CODE};

use crate::support::{Env, create, create_args, run};

/// Exit code of `secret_not_delivered`.
const NOT_DELIVERED: i32 = 12;

/// Runs `keyward args` (the sandbox's secret, stdin closed) with stdout going to `stdout`;
/// the exit code and stderr.
fn run_to(env: &Env, args: &[&str], stdout: Stdio) -> (i32, String) {
    let o = env
        .process()
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

fn dev_full() -> Stdio {
    Stdio::from(File::options().write(true).open("/dev/full").unwrap())
}

/// The report names the key, says nobody holds its secret, and gives the command that mends it.
fn assert_reported(stderr: &str, id: &str) {
    assert!(stderr.contains("NOT delivered"), "{stderr}");
    assert!(stderr.contains(id), "{stderr}");
    assert!(stderr.contains("secret nobody holds"), "{stderr}");
    assert!(
        stderr.contains(&format!("keyward keys rotate {id} --yes")),
        "{stderr}"
    );
}

/// The audit rows of `id` as JSON, newest first.
fn audit_of(env: &Env, id: &str) -> serde_json::Value {
    let o = run(env.kw(), &["--json", "audit", "--key", id], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.json()
}

/// Whether `secret` still verifies at the sandbox.
fn verifies(env: &Env, secret: &str) -> bool {
    let o = run(env.kw(), &["--json", "keys", "verify"], Some(secret));
    o.json()["is_valid"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotate_to_dev_full_says_the_secret_was_not_delivered() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let created = create(&env, "Full", &["--org", EMPTY_ORG_CODE]);
    let id = created["id"].as_str().unwrap();
    let old = created["key"].as_str().unwrap();
    let before = env.sb.stats().rotate_key;

    for json in [false, true] {
        let mut args = vec!["keys", "rotate", id, "--yes"];
        if json {
            args.insert(0, "--json");
        }
        let (code, stderr) = run_to(&env, &args, dev_full());
        assert_eq!(code, NOT_DELIVERED, "--json {json}: {stderr}");
        if json {
            let e: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap())
                .unwrap_or_else(|e| panic!("{e}: {stderr}"));
            assert_eq!(e["code"], "secret_not_delivered");
            assert_reported(&format!("{} {}", e["message"], e["hint"]), id);
        } else {
            assert!(stderr.contains("error[secret_not_delivered]"), "{stderr}");
            assert_reported(&stderr, id);
        }
    }
    // The report is true: both rotates happened, the original secret is dead, and the audit
    // says ok for each (the action did happen).
    assert_eq!(env.sb.stats().rotate_key, before + 2);
    assert!(!verifies(&env, old));
    let rows = audit_of(&env, id);
    let rotates: Vec<_> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "rotate")
        .collect();
    assert_eq!(rotates.len(), 2, "{rows}");
    assert!(rotates.iter().all(|r| r["outcome"] == "ok"), "{rows}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_with_json_to_dev_full_names_the_new_key() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let before = env.sb.stats().create_key;
    let mut args = vec!["--json"];
    args.extend(create_args("Lost", &["--org", EMPTY_ORG_CODE]));
    let (code, stderr) = run_to(&env, &args, dev_full());
    assert_eq!(code, NOT_DELIVERED, "{stderr}");
    let e: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_eq!(e["code"], "secret_not_delivered");
    // The key exists at the sandbox, and the error names it.
    assert_eq!(env.sb.stats().create_key, before + 1);
    let o = run(env.kw(), &["--json", "keys", "list"], None);
    let keys = o.json();
    let lost = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "Lost")
        .unwrap_or_else(|| panic!("no key named Lost: {keys}"));
    let id = lost["id"].as_str().unwrap();
    assert_reported(&format!("{} {}", e["message"], e["hint"]), id);
    let rows = audit_of(&env, id);
    assert_eq!(rows[0]["action"], "create", "{rows}");
    assert_eq!(rows[0]["outcome"], "ok", "{rows}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reissue_to_a_closed_pipe_names_the_new_key() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let created = create(&env, "Piped", &["--org", EMPTY_ORG_CODE]);
    let id = created["id"].as_str().unwrap();
    let before = env.sb.stats().create_key;
    // The read end of the pipe is closed before the child writes anything: EPIPE (Rust
    // ignores SIGPIPE), never a silent exit 0.
    let mut child = env
        .process()
        .args(["keys", "reissue", id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(NOT_DELIVERED), "{stderr}");
    assert_eq!(
        env.sb.stats().create_key,
        before + 1,
        "the re-issue happened"
    );
    let o = run(env.kw(), &["--json", "handovers"], None);
    let new_id = o.json()[0]["new_id"].as_str().unwrap().to_string();
    assert_reported(&stderr, &new_id);
    assert!(stderr.contains("Broken pipe"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotate_to_a_closed_pipe_and_a_full_tmpfs() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let created = create(&env, "Closed", &["--org", EMPTY_ORG_CODE]);
    let id = created["id"].as_str().unwrap();
    let before = env.sb.stats().rotate_key;
    let mut child = env
        .process()
        .args(["keys", "rotate", id, "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(NOT_DELIVERED), "{stderr}");
    assert_reported(&stderr, id);
    assert_eq!(env.sb.stats().rotate_key, before + 1);

    // The literal case of the issue: `> file-on-a-full-disk` (a 1 MiB tmpfs, filled).
    let Some((dir, _m)) = tmpfs("1m") else {
        return;
    };
    fill(dir.path());
    let out = File::create(dir.path().join("secret.txt")).unwrap();
    let (code, stderr) = run_to(&env, &["keys", "rotate", id, "--yes"], Stdio::from(out));
    assert_eq!(code, NOT_DELIVERED, "{stderr}");
    assert_reported(&stderr, id);
    assert!(stderr.contains("No space left"), "{stderr}");
    assert_eq!(env.sb.stats().rotate_key, before + 2);
    assert_eq!(
        std::fs::metadata(dir.path().join("secret.txt"))
            .unwrap()
            .len(),
        0
    );
}

struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A tmpfs of `size` at a fresh folder, unmounted on drop; `None` (the reason printed) when
/// mounting is not permitted.
fn tmpfs(size: &str) -> Option<(tempfile::TempDir, Mounted)> {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir.path())
        .output();
    match o {
        Ok(o) if o.status.success() => {
            let m = Mounted(dir.path().to_path_buf());
            Some((dir, m))
        }
        Ok(o) => {
            eprintln!(
                "skipped the full-tmpfs case: mount failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            None
        }
        Err(e) => {
            eprintln!("skipped the full-tmpfs case: mount not runnable: {e}");
            None
        }
    }
}

/// Fills the file system holding `dir` to the last byte.
fn fill(dir: &std::path::Path) {
    use std::io::Write;
    let mut f = File::create(dir.join("filler")).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let one = [0u8; 1];
    while f.write_all(&one).is_ok() {}
    let _ = f.sync_all();
}
