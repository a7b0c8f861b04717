//! Generates the `allow-<command>` permissions from the one command list in `src/commands.rs`
//! (its `fn name(` lines), so that the capability cannot drift from the handler.

fn command_names() -> Vec<&'static str> {
    let src = std::fs::read_to_string("src/commands.rs").unwrap_or_default();
    let mut names = Vec::new();
    let mut inside = false;
    for line in src.lines() {
        let t = line.trim_start();
        if t.starts_with("declare_commands!") {
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
    names
}

fn main() {
    println!("cargo:rerun-if-changed=src/commands.rs");
    let names = command_names();
    println!("cargo:rustc-env=KEYWARD_BUILD_COMMANDS={}", names.join(","));
    let names: &'static [&'static str] = Box::leak(names.into_boxed_slice());
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(names)),
    )
    .expect("tauri-build failed");
}
