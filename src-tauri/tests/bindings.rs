//! Drift checks: the TypeScript command wrappers and the capability file are generated from
//! the command list. `UPDATE_BINDINGS=1 cargo test -p keyward-app --test bindings` rewrites
//! them (`make bindings`); without it, this test fails when they are stale (`make check-bindings`).

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn check_or_write(path: PathBuf, want: &str) {
    let update = std::env::var_os("UPDATE_BINDINGS").is_some();
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if update {
        if have != want {
            std::fs::write(&path, want).unwrap();
            eprintln!("wrote {}", path.display());
        }
    } else {
        assert!(
            have == want,
            "{} is stale: run `make bindings` and commit the result",
            path.display()
        );
    }
}

#[test]
fn typescript_command_wrappers_are_current() {
    let ts = keyward_app::commands::typescript();
    check_or_write(root().join("../ui/src/lib/backend/commands.ts"), &ts);
}

#[test]
fn capability_is_current() {
    let cap = keyward_app::tsgen::capability(keyward_app::commands::COMMAND_NAMES);
    check_or_write(root().join("capabilities/default.json"), &cap);
}

#[test]
fn build_script_saw_the_same_commands() {
    let from_build: Vec<&str> = env!("KEYWARD_BUILD_COMMANDS").split(',').collect();
    assert_eq!(from_build, keyward_app::commands::COMMAND_NAMES);
}

#[test]
fn capability_grants_no_fs_http_shell_or_sql() {
    let cap = keyward_app::tsgen::capability(keyward_app::commands::COMMAND_NAMES);
    for bad in ["fs:", "http:", "shell:", "sql:"] {
        assert!(!cap.contains(bad), "capability must not grant {bad}");
    }
}
