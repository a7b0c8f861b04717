//! Generates the `allow-<command>` permissions from the command lists (the `fn name(` lines of
//! `src/commands.rs` and of the core's `operations.rs`), so that the capability cannot drift
//! from the handler.

/// The `fn name(` lines of a command list, inside `marker` up to the closing line at column 0.
fn names_in(path: &str, marker: &str, names: &mut Vec<&'static str>) {
    let src = std::fs::read_to_string(path).unwrap_or_default();
    let mut inside = false;
    for line in src.lines() {
        let t = line.trim_start();
        if t.starts_with(marker) {
            inside = true;
            continue;
        }
        if inside && line.starts_with('}') {
            break;
        }
        if inside && let Some(rest) = t.strip_prefix("fn ") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.push(&*Box::leak(name.into_boxed_str()));
            }
        }
    }
}

/// The shell's commands, then the core's operations: the order of `COMMAND_NAMES`.
fn command_names() -> Vec<&'static str> {
    let mut names = Vec::new();
    names_in(SHELL_LIST, "keyward_core::operations!", &mut names);
    names_in(CORE_LIST, "macro_rules! operations", &mut names);
    names
}

const SHELL_LIST: &str = "src/commands.rs";
const CORE_LIST: &str = "../crates/keyward-core/src/operations.rs";

fn main() {
    println!("cargo:rerun-if-changed={SHELL_LIST}");
    println!("cargo:rerun-if-changed={CORE_LIST}");
    let names = command_names();
    println!("cargo:rustc-env=KEYWARD_BUILD_COMMANDS={}", names.join(","));
    let names: &'static [&'static str] = Box::leak(names.into_boxed_slice());
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(names)),
    )
    .expect("tauri-build failed");
}
