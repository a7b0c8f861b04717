//! `keyward-server`: serve, migrate, check.

fn main() {
    eprintln!("keyward-server: being built");
    std::process::exit(2);
}
