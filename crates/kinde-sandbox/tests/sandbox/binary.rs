//! The `kinde-sandbox` binary: prints its URL and credentials, serves, writes the certificate,
//! and saves `--state` when it gets SIGTERM.

#![allow(
    clippy::disallowed_methods,
    reason = "tests of the sandbox itself speak raw HTTP"
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::support::{call, token_at, trusting_client};
use serde_json::Value;

struct Running {
    child: Child,
    lines: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary and reads its banner up to the client secret line.
fn run(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kinde-sandbox"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "banner ended early: {lines:?}"
        );
        let done = line.starts_with("client secret:");
        lines.push(line.trim_end().to_string());
        if done {
            break;
        }
    }
    std::thread::spawn(move || for _ in reader.lines() {});
    Running { child, lines }
}

fn field<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .map(str::trim)
        .unwrap()
}

#[cfg(unix)]
#[tokio::test]
async fn binary_prints_banner_serves_and_saves_state_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut r = run(&[
        "--seed",
        "demo",
        "--keys",
        "10",
        "--state",
        state.to_str().unwrap(),
    ]);
    let base = field(&r.lines, "listening on").to_string();
    assert!(
        base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"),
        "{base}"
    );
    assert_eq!(field(&r.lines, "audience:"), format!("{base}/api"));
    assert_eq!(field(&r.lines, "client id:"), "sandbox_admin");
    assert_eq!(field(&r.lines, "client secret:"), "sandbox_admin_secret");

    let http = reqwest::Client::new();
    // Answers are checked against Kinde's spec (`support::send`), the demo seed's included.
    let tok = token_at(&http, &base, "sandbox_admin", "sandbox_admin_secret").await;
    let (_, v) = call(
        http.get(format!("{base}/api/v1/api_keys?page_size=500"))
            .bearer_auth(&tok),
    )
    .await;
    assert_eq!(v["api_keys"].as_array().unwrap().len(), 160);

    let pid = r.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = r.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["keys"].as_object().unwrap().len(), 160);
}

#[tokio::test]
async fn binary_tls_writes_a_pem_that_clients_can_trust() {
    let dir = tempfile::tempdir().unwrap();
    let pem_path = dir.path().join("sandbox.pem");
    let r = run(&[
        "--seed",
        "empty",
        "--tls",
        "--cert-out",
        pem_path.to_str().unwrap(),
    ]);
    let base = field(&r.lines, "listening on").to_string();
    assert!(base.starts_with("https://"), "{base}");
    let http = trusting_client(&std::fs::read(&pem_path).unwrap());
    let localhost = base.replace("127.0.0.1", "localhost");
    for b in [&base, &localhost] {
        let (st, _) = call(http.get(format!("{b}/.well-known/jwks"))).await;
        assert_eq!(st, reqwest::StatusCode::OK);
    }
}
