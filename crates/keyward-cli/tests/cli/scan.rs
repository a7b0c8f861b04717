//! `keyward scan` and what it cannot be sure of: a string that only ends like a key's secret
//! (a suffix match is possible, never sure, and never rotated without a person), a string
//! that cannot be a Kinde secret (matched to nothing), and files it did not read (FIFOs,
//! devices, unreadable, binary, too large: listed with their reason; reading nothing is exit
//! 13, never "clean").

use std::process::Command;

use kinde_sandbox::{Config, EMPTY_ORG_CODE};

use crate::support::{Env, create, run};

/// Exit code of a scan that read no file.
const READ_NOTHING: i32 = 13;

/// The string of the report that made a real key rotate: `k_live_` and 33 characters.
const ISSUE_STRING: &str = "API_KEY=k_live_ThisIsNotARealSecretAtAll0000id53";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fake_string_rotates_nothing() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let created = create(&env, "Target", &["--org", EMPTY_ORG_CODE]);
    let id = created["id"].as_str().unwrap();
    let secret = created["key"].as_str().unwrap();
    let suffix = &secret[secret.len() - 4..];
    let dir = tempfile::tempdir().unwrap();
    // The report's string, with the target key's suffix in place of `id53`: its 33
    // characters after `k_live_` cannot be a Kinde secret (32), so it matches nothing.
    let issue = ISSUE_STRING.replace("id53", suffix);
    std::fs::write(dir.path().join("f"), format!("{issue}\n")).unwrap();
    // A fake of exactly a Kinde secret's shape, ending like the key: a possible match only.
    let fake = format!("k_live_ThisIsNotARealSecretAtAll000{suffix}");
    assert_eq!(fake.len(), 39);
    std::fs::write(dir.path().join("g"), format!("TOKEN={fake}\n")).unwrap();
    let d = dir.path().to_str().unwrap();

    let o = run(env.kw(), &["--json", "scan", d], None);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let r = o.json();
    let f = r["findings"].as_array().unwrap();
    assert_eq!(f.len(), 2, "{r}");
    assert!(f[0]["path"].as_str().unwrap().ends_with("/f"));
    assert_eq!(f[0]["kinde_shaped"], false);
    assert_eq!(f[0]["matches"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(f[0]["certainty"], "none");
    assert_eq!(f[1]["kinde_shaped"], true);
    assert_eq!(f[1]["matches"][0]["key_id"], id);
    assert_eq!(f[1]["certainty"], "possible");
    assert_eq!(r["matched"], 1);

    // Human output says how little the match rests on.
    let o = run(env.kw(), &["scan", d], None);
    assert!(
        o.stdout.contains("none: not a Kinde secret's length"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("possible (last 4 characters)"),
        "{}",
        o.stdout
    );

    // The issue's command, and its --json and --reissue forms: refused without a terminal,
    // --yes or not, and nothing is rotated or created at the sandbox.
    for args in [
        vec!["scan", d, "--rotate", "--yes"],
        vec!["--json", "scan", d, "--rotate", "--yes"],
        vec!["scan", d, "--reissue", "--yes"],
    ] {
        let o = run(env.kw(), &args, None);
        assert_eq!(o.code, 2, "{args:?}: {}", o.stderr);
        let text = if args[0] == "--json" {
            let e = o.err_json();
            assert_eq!(e["code"], "invalid_input");
            format!("{} {}", e["message"], e["hint"])
        } else {
            assert!(o.stderr.contains("error[invalid_input]"), "{}", o.stderr);
            o.stderr.clone()
        };
        assert!(text.contains("only possible"), "{text}");
        assert!(text.contains("last 4 characters"), "{text}");
        assert!(text.contains(id), "{text}");
        assert!(text.contains("--yes does not confirm"), "{text}");
    }
    assert_eq!(env.sb.stats().rotate_key, 0);
    assert_eq!(env.sb.stats().create_key, 1, "only the test's own create");
    // The key is untouched: its secret still verifies.
    let o = run(env.kw(), &["--json", "keys", "verify"], Some(secret));
    assert_eq!(o.json()["is_valid"], true);

    // Only the issue's string: nothing matches, so --rotate has nothing to do.
    std::fs::remove_file(dir.path().join("g")).unwrap();
    let o = run(env.kw(), &["scan", d, "--rotate", "--yes"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(env.sb.stats().rotate_key, 0);

    // On a terminal, a "no" to the question that names the doubt rotates nothing.
    std::fs::write(dir.path().join("g"), format!("TOKEN={fake}\n")).unwrap();
    if !crate::terminal::have_script() {
        eprintln!("skipped the terminal case: `script` (util-linux) is not installed");
        return;
    }
    let (code, shown) = crate::terminal::on_tty(
        &env,
        &format!("scan {d} --rotate --yes"),
        "Type 'yes'",
        "no\n",
        true,
    );
    assert_eq!(code, 130, "{shown}");
    assert!(
        shown.contains("matched only by the last 4 characters"),
        "{shown}"
    );
    assert!(shown.contains("may not be its secret at all"), "{shown}");
    assert_eq!(env.sb.stats().rotate_key, 0);
}

/// The skipped files of a `--json` report: (file name, reason).
fn skipped(r: &serde_json::Value) -> Vec<(String, String)> {
    r["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let p = s["path"].as_str().unwrap();
            let name = p.rsplit('/').next().unwrap().to_string();
            (name, s["reason"].as_str().unwrap().to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_not_read_are_named_and_reading_nothing_is_not_clean() {
    let env = Env::new(Config::default()).await;
    env.add_profile("sb");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let ok = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(ok.success());
    let f = fifo.to_str().unwrap();

    // A FIFO alone (nobody writes to it: reading would block for ever) and /dev/zero (reading
    // would never end): not read, named, exit 13.
    for (path, reason) in [(f, "not_regular"), ("/dev/zero", "not_regular")] {
        let o = run(env.kw(), &["--json", "scan", path], None);
        assert_eq!(o.code, READ_NOTHING, "{path}: {}", o.stderr);
        let r = o.json();
        assert_eq!(r["stats"]["files"], 0);
        assert_eq!(r["skipped"][0]["path"], path, "{r}");
        assert_eq!(r["skipped"][0]["reason"], reason, "{r}");
        let o = run(env.kw(), &["scan", path], None);
        assert_eq!(o.code, READ_NOTHING, "{}", o.stderr);
        assert!(
            o.stdout.contains(&format!("skipped {path}: a ")),
            "{}",
            o.stdout
        );
        assert!(o.stderr.contains("not a clean scan"), "{}", o.stderr);
    }

    // A folder with one good file and one of each kind of skip: exit 0 (read, nothing
    // found), every skip named with its reason, in the human output too.
    std::fs::write(dir.path().join("good.txt"), "nothing here\n").unwrap();
    std::fs::write(dir.path().join("nul.txt"), b"KEY=x\0y\n").unwrap();
    let big = vec![b'a'; 20 * 1024 * 1024];
    std::fs::write(dir.path().join("big.txt"), &big).unwrap();
    let (unreadable, expect_unreadable) = unreadable_file(dir.path());
    let d = dir.path().to_str().unwrap();
    let mut args = vec!["--json", "scan", d];
    if let Some(u) = &unreadable {
        args.push(u);
    }
    let o = run(env.kw(), &args, None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r = o.json();
    assert_eq!(r["stats"]["files"], 1, "{r}");
    let s = skipped(&r);
    for want in [
        ("pipe", "not_regular"),
        ("nul.txt", "binary"),
        ("big.txt", "too_large"),
    ] {
        assert!(
            s.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} in {s:?}"
        );
    }
    if expect_unreadable {
        assert!(s.iter().any(|(_, r)| r == "unreadable"), "{s:?}");
        assert_eq!(r["stats"]["unreadable"], 1);
    }
    assert_eq!(r["stats"]["not_regular"], 1);
    assert_eq!(r["stats"]["skipped_binary"], 1);
    assert_eq!(r["stats"]["skipped_large"], 1);

    let mut args = vec!["scan", d];
    if let Some(u) = &unreadable {
        args.push(u);
    }
    let o = run(env.kw(), &args, None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for line in [
        "pipe: a FIFO",
        "nul.txt: a NUL byte",
        "big.txt: 20.0 MiB, over the 16.0 MiB",
    ] {
        assert!(o.stdout.contains(line), "{line:?} in {}", o.stdout);
    }
    assert!(o.stdout.contains("1 files read"), "{}", o.stdout);
}

/// A file this process cannot read: mode 000 in `dir` for a normal user (no extra path); as
/// root (who reads anything) `/proc/self/mem`, whose first page is unmapped (EIO), as an
/// extra path. Whether an unreadable file is to be expected.
fn unreadable_file(dir: &std::path::Path) -> (Option<String>, bool) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("locked.txt");
    std::fs::write(&p, "secret-ish\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&p).is_err() {
        return (None, true);
    }
    std::fs::remove_file(&p).unwrap();
    if std::path::Path::new("/proc/self/mem").exists() {
        return (Some("/proc/self/mem".into()), true);
    }
    eprintln!("skipped the unreadable case: running as root without /proc");
    (None, false)
}
