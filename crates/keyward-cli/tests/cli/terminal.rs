//! What reaches the terminal from the real `keyward` binary: server text never raw (escape
//! sequences, bidi controls and newlines in names are shown escaped), and, through a real
//! pseudo-terminal (`script` from util-linux; skipped without it), rotate and revoke ask first
//! and a secret typed at the prompt is not echoed.

#![allow(
    clippy::disallowed_methods,
    reason = "the test talks to the sandbox directly"
)]

use std::process::{Command, Stdio};

use crate::support::{Env, create, run};
use kinde_sandbox::{Config, EMPTY_API_ID, EMPTY_ORG_CODE, EMPTY_USER_ID};
use serde_json::{Value, json};

/// True for a character that must not reach a terminal raw.
fn raw_control(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// A key created straight through the sandbox's API (Keyward refuses such names).
async fn create_raw(env: &Env, name: &str) -> String {
    let http = reqwest::Client::new();
    let base = env.sb.base_url();
    let tok: Value = http
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", env.sb.client_id()),
            ("client_secret", env.sb.client_secret()),
            ("audience", &format!("{base}/api")),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .post(format!("{base}/api/v1/api_keys"))
        .bearer_auth(tok["access_token"].as_str().unwrap())
        .json(&json!({
            "name": name, "type": "user", "api_id": EMPTY_API_ID,
            "scope_ids": ["read:data"], "user_id": EMPTY_USER_ID,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "the sandbox accepts the name");
    let v: Value = r.json().await.unwrap();
    v["api_key"]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_text_never_reaches_the_terminal_raw() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let hostile = "evil\u{1b}[2J\u{1b}]0;pwned\u{7}\nforged-row\u{202e}exe.txt\u{9b}";
    let id = create_raw(&env, hostile).await;

    for args in [
        vec!["keys", "list"],
        vec!["keys", "show", &id],
        vec!["audit"],
        vec!["insights"],
    ] {
        let o = run(env.kw(), &args, None);
        assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
        for (what, text) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            assert!(
                !text.chars().any(raw_control),
                "{args:?} {what} holds a raw control: {text:?}"
            );
        }
        if args[0] == "keys" {
            assert!(
                o.stdout
                    .contains("evil\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\nforged-row\\u{202e}exe.txt"),
                "{args:?}: {}",
                o.stdout
            );
        }
    }
    // One row per key: the newline did not forge a second one.
    let o = run(env.kw(), &["keys", "list"], None);
    assert_eq!(o.stdout.lines().count(), 2, "{}", o.stdout);

    // JSON stays exact.
    let o = run(env.kw(), &["--json", "keys", "list"], None);
    assert_eq!(o.json()[0]["name"], hostile);
    let o = run(env.kw(), &["--json", "keys", "show", &id], None);
    assert_eq!(o.json()["name"], hostile);

    // Keyward itself refuses bidi controls in a name, as it refuses other controls.
    for bad in [
        "invoice\u{202e}txt.exe",
        "a\u{2066}b",
        "a\u{200f}b",
        "a\u{1b}[2Jb",
    ] {
        let o = run(
            env.kw(),
            &crate::support::create_args(bad, &["--user", EMPTY_USER_ID]),
            None,
        );
        assert_eq!(o.code, 2, "{bad:?}: {}", o.stderr);
        assert!(
            o.stderr.contains("error[invalid_input]: name"),
            "{}",
            o.stderr
        );
        assert!(!o.stderr.chars().any(raw_control), "{:?}", o.stderr);
    }
}

pub fn have_script() -> bool {
    Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `keyward ARGS` on a pseudo-terminal and types `input` once the terminal shows
/// `prompt` (typing earlier would be echoed by the terminal before keyward can turn echo off).
/// Returns (exit code, everything the terminal showed).
pub fn on_tty(env: &Env, args: &str, prompt: &str, input: &str, secret_env: bool) -> (i32, String) {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let bin = crate::support::keyward_bin();
    let mut c = Command::new("script");
    c.args(["-qec", &format!("{} {args}", bin.display()), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    env.isolate(&mut c);
    if secret_env {
        c.env("KEYWARD_CLIENT_SECRET", env.sb.client_secret());
    }
    let mut child = c.spawn().unwrap();
    let shown = Arc::new(Mutex::new(Vec::<u8>::new()));
    let mut out = child.stdout.take().unwrap();
    let reader = {
        let shown = shown.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                shown.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !String::from_utf8_lossy(&shown.lock().unwrap()).contains(prompt) {
        assert!(std::time::Instant::now() < deadline, "no prompt {prompt:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Give keyward a moment to turn echo off after printing the prompt.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    reader.join().unwrap();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let text = String::from_utf8_lossy(&shown.lock().unwrap()).to_string() + &err;
    (status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_asks_on_a_terminal_and_secrets_are_not_echoed() {
    if !have_script() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let created = create(&env, "tty", &["--org", EMPTY_ORG_CODE]);
    let id = created["id"].as_str().unwrap().to_string();

    let (code, shown) = on_tty(
        &env,
        &format!("keys rotate {id}"),
        "Type 'yes'",
        "no\n",
        true,
    );
    assert_eq!(code, 130, "{shown}");
    assert!(shown.contains("Type 'yes'"), "{shown}");
    assert!(shown.contains("error[cancelled]"), "{shown}");
    assert_eq!(
        env.sb.stats().rotate_key,
        0,
        "nothing is rotated after a no"
    );

    let (code, shown) = on_tty(
        &env,
        &format!("keys rotate {id}"),
        "Type 'yes'",
        "yes\n",
        true,
    );
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("k_live_") && shown.contains("shown once"),
        "{shown}"
    );
    assert_eq!(env.sb.stats().rotate_key, 1);

    let (code, shown) = on_tty(
        &env,
        &format!("keys revoke {id}"),
        "Type 'yes'",
        "yes\n",
        true,
    );
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("1 revoked"), "{shown}");

    // A client secret typed at the prompt is not echoed (the keyring is unreachable here, so
    // the add fails afterwards with keyring_unavailable).
    let typed = "typed-secret-4c1d9e";
    let (code, shown) = on_tty(
        &env,
        "profile add t --domain t.kinde.com --client-id x --client-secret-stdin",
        "not shown",
        &format!("{typed}\n"),
        false,
    );
    assert!(shown.contains("not shown"), "{shown}");
    assert!(!shown.contains(typed), "the secret was echoed: {shown}");
    assert_eq!(code, 3, "{shown}");
}
