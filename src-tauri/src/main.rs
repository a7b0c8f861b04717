// No extra console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// mimalloc for the app's Rust heap: glibc's allocator kept what a sync's details passed through.
/// Measured 2026-12-07 (scripts/scale-bench.sh, release app, after a full sync, RSS of the app's
/// own process): 100,000 keys 404 MiB with glibc's malloc (384 MiB with MALLOC_ARENA_MAX=2), 229
/// MiB with mimalloc; 150 keys 173 vs 209 MiB. The whole tree at 100,000 keys went from 1.53x to
/// 1.15x the 150-key figure (goal <= 1.5x).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    keyward_app::run();
}
