#!/usr/bin/env bash
# Release figures for `make bench`, beside Tauri's own hello world (bench/tauri-hello: one window,
# a static page, the same release profile), built here and measured in the same run, the same way:
#   - the release binaries' and the packages' sizes (goal: keyward-app < 25 MB);
#   - launch to painted, over WebDriver (tauri-driver) under Xvfb, timed from launch to the frame
#     after the first paint (in-page clock, same epoch): the hello world's page, and Keyward's keys
#     table from a cached store of 10,000 keys (the CLI syncs a sandbox of 10,000 keys into the
#     store first); each app launched once, then BENCH_RUNS times each, alternating
#     (goal: Keyward's median <= 1.5x the hello world's);
#   - idle memory of the whole process tree (the app, WebKitWebProcess, WebKitNetworkProcess)
#     after 60 s, PSS and RSS summed from /proc/*/smaps_rollup: the hello world, then Keyward in
#     demo mode (goal: Keyward's PSS <= 1.25x the hello world's);
#   - `keyward --help` start-up time (hyperfine if installed, else a loop).
# Builds the packages and the hello world first (scripts/package.sh; the hello world offline into
# target/tauri-hello, its own workspace); RELEASE_BENCH_NO_BUILD=1 uses the last ones;
# BENCH_SKIP=cli,cold,idle skips phases; BENCH_RUNS, BENCH_IDLE_SECS: see scripts/release_bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"

if [[ -z "${RELEASE_BENCH_NO_BUILD:-}" ]]; then
  make --no-print-directory ui-build
  bash scripts/package.sh
  echo "release-bench: building Tauri's hello world (bench/tauri-hello, release, offline)"
  (cd bench/tauri-hello && cargo build --release --offline --locked -q --target-dir "$ROOT/target/tauri-hello")
fi
HELLO="$ROOT/target/tauri-hello/release/tauri-hello"
[[ -x "$HELLO" ]] || { echo "release-bench: $HELLO is not built (run without RELEASE_BENCH_NO_BUILD)" >&2; exit 1; }
# The sandbox only fills the store before the timed runs: its debug build is enough.
cargo build -q -p kinde-sandbox

for tool in tauri-driver WebKitWebDriver xvfb-run dbus-run-session; do
  command -v "$tool" >/dev/null || { echo "release-bench: $tool is missing (make deps)" >&2; exit 1; }
done
VENV="$ROOT/target/e2e-venv"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import selenium' 2>/dev/null; then
  echo "release-bench: creating $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "selenium>=4.20,<5" "pytest>=8,<9"
fi

WORK=$(mktemp -d /tmp/keyward-release-bench.XXXXXX)
# Logs of the app, the sandbox and tauri-driver are kept in target/release-bench.
trap 'cp "$WORK"/*.log target/release-bench/ 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p target/release-bench
export APP="$ROOT/target/release/keyward-app" CLI="$ROOT/target/release/keyward" HELLO
export SANDBOX="$ROOT/target/debug/kinde-sandbox" WORK BENCH_OUT_DIR="$ROOT/target/release-bench"
DEB=$(ls -t target/release/bundle/deb/*.deb 2>/dev/null | head -n1 || true)
RPM=$(ls -t target/release/bundle/rpm/*.rpm 2>/dev/null | head -n1 || true)
export DEB="${DEB:+$ROOT/$DEB}" RPM="${RPM:+$ROOT/$RPM}"
unset KEYWARD_CLIENT_SECRET KEYWARD_PROFILE
rm -f target/release-bench/release-*.json
for phase in cli cold idle; do
  if [[ ",${BENCH_SKIP:-}," == *",$phase,"* ]]; then continue; fi
  # Each phase in its own D-Bus session and X server: the app is single-instance per session.
  dbus-run-session -- xvfb-run -a -s "-screen 0 1440x900x24" "$VENV/bin/python" scripts/release_bench.py "$phase"
done
"$VENV/bin/python" scripts/release_bench.py report
echo "release-bench: raw figures and logs in target/release-bench"
