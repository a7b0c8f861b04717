//! Terminal behaviour through a real pseudo-terminal (`script` from util-linux): rotate and
//! revoke ask first, and a secret typed at the prompt is not echoed. Skipped without `script`.

mod common;

use std::process::{Command, Stdio};

use common::{Env, create};
use kinde_sandbox::{Config, EMPTY_ORG_CODE};

fn have_script() -> bool {
    Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `keyward ARGS` on a pseudo-terminal and types `input` once the terminal shows
/// `prompt` (typing earlier would be echoed by the terminal before keyward can turn echo off).
/// Returns (exit code, everything the terminal showed).
fn on_tty(env: &Env, args: &str, prompt: &str, input: &str, secret_env: bool) -> (i32, String) {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let bin = assert_cmd::cargo::cargo_bin("keyward");
    let mut c = Command::new("script");
    c.args(["-qec", &format!("{} {args}", bin.display()), "/dev/null"])
        .env("KEYWARD_HOME", env.home())
        .env_remove("KEYWARD_PROFILE")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/keyward-test-bus",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if secret_env {
        c.env("KEYWARD_CLIENT_SECRET", env.sb.client_secret());
    } else {
        c.env_remove("KEYWARD_CLIENT_SECRET");
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
