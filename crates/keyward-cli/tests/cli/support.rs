//! What every CLI test uses: a real sandbox on 127.0.0.1:0 (served by the test's tokio
//! runtime), the real `keyward` binary run against it with KEYWARD_HOME in a scratch folder and
//! no reachable OS keyring, a sandbox profile, and readers of what the binary printed.

use std::path::Path;
use std::process::Stdio;

use assert_cmd::Command;
use kinde_sandbox::{Config, EMPTY_API_ID, Sandbox};
use serde_json::Value;

pub struct Env {
    pub sb: Sandbox,
    pub home: tempfile::TempDir,
}

impl Env {
    pub async fn new(config: Config) -> Env {
        let sb = kinde_sandbox::spawn("127.0.0.1:0".parse().unwrap(), config)
            .await
            .expect("sandbox starts");
        Env {
            sb,
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// Gives `c` (`keyward`, or a program that runs it) this test's KEYWARD_HOME, no
    /// KEYWARD_PROFILE, no secret and no keyring.
    pub fn isolate<'c>(&self, c: &'c mut std::process::Command) -> &'c mut std::process::Command {
        c.env("KEYWARD_HOME", self.home.path())
            .env_remove("KEYWARD_PROFILE")
            .env_remove("KEYWARD_CLIENT_SECRET")
            // Never touch a real keyring from tests: no Secret Service is reachable.
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/keyward-test-bus",
            )
            .env("NO_COLOR", "1")
    }

    /// `keyward` with KEYWARD_HOME set, no KEYWARD_PROFILE, no secret and no keyring.
    pub fn bare(&self) -> Command {
        let mut c = std::process::Command::new(keyward_bin());
        self.isolate(&mut c);
        Command::from_std(c)
    }

    /// `keyward` as a child process that runs alongside the test (a sync to hold, kill or
    /// wait on): the sandbox's secret, stdin closed.
    pub fn process(&self) -> std::process::Command {
        let mut c = std::process::Command::new(keyward_bin());
        self.isolate(&mut c)
            .env("KEYWARD_CLIENT_SECRET", self.sb.client_secret())
            .stdin(Stdio::null());
        c
    }

    /// `keyward` with the sandbox's client secret in KEYWARD_CLIENT_SECRET.
    pub fn kw(&self) -> Command {
        let mut c = self.bare();
        c.env("KEYWARD_CLIENT_SECRET", self.sb.client_secret());
        c
    }

    /// Adds profile `name` for the sandbox (the secret comes from KEYWARD_CLIENT_SECRET).
    pub fn add_profile(&self, name: &str) {
        self.kw()
            .args(["profile", "add", name, "--domain", &self.sb.base_url()])
            .args([
                "--client-id",
                self.sb.client_id(),
                "--environment",
                "development",
            ])
            .assert()
            .success();
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }
}

/// The `keyward` binary under test.
pub fn keyward_bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("keyward")
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    pub fn err_json(&self) -> Value {
        serde_json::from_str(self.stderr.trim())
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {}", self.stderr))
    }
}

pub fn run(mut c: Command, args: &[&str], stdin: Option<&str>) -> Out {
    c.args(args);
    if let Some(s) = stdin {
        c.write_stdin(s.to_string());
    } else {
        c.write_stdin("");
    }
    let o = c.output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).to_string(),
        stderr: String::from_utf8_lossy(&o.stderr).to_string(),
    }
}

/// `keys create` for a key named `name` on the sandbox's empty API with scope `read:data`,
/// owned as `owner` says (`["--org", EMPTY_ORG_CODE]`, `["--user", EMPTY_USER_ID]`).
pub fn create_args<'a>(name: &'a str, owner: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "keys",
        "create",
        "--name",
        name,
        "--api",
        EMPTY_API_ID,
        "--scope",
        "read:data",
    ];
    args.extend(owner);
    args
}

/// Creates that key with `--json` and returns the answer; the test fails unless it succeeded.
pub fn create(env: &Env, name: &str, owner: &[&str]) -> Value {
    let mut args = vec!["--json"];
    args.extend(create_args(name, owner));
    let o = run(env.kw(), &args, None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.json()
}

/// Every file under `dir`, recursively, as bytes.
pub fn all_files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out
}

pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}
