//! Lists `migrations/NNNN_name.sql` in order and embeds them (`OUT_DIR/migrations.rs`), so
//! that a migration is added by dropping its file in. 0001..0099 are the store's, 0100 and up
//! the server's own tables.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<(u32, String, std::path::PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("crates/keyward-server/migrations") {
        let path = entry.expect("a directory entry").path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if !name.ends_with(".sql") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let num: u32 = name
            .split('_')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("migration {name}: the name must start with NNNN_"));
        files.push((num, name, path));
    }
    files.sort();
    for w in files.windows(2) {
        assert!(
            w[0].0 != w[1].0,
            "two migrations numbered {}: {} and {}",
            w[0].0,
            w[0].1,
            w[1].1
        );
    }
    let mut out = String::from(
        "/// The embedded migrations, in order: (version, file name, SQL).\n\
         pub const MIGRATIONS: &[(i64, &str, &str)] = &[\n",
    );
    for (num, name, path) in &files {
        writeln!(
            out,
            "    ({num}, {name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .expect("write to a string");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("migrations.rs");
    std::fs::write(dest, out).expect("write OUT_DIR/migrations.rs");
}
