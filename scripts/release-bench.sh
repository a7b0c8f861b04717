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
# WebKit's compositing: Keyward ships with WebKit's hardware acceleration policy set to "never"
# (src-tauri/src/webview.rs; the phases set KEYWARD_WEBKIT_ACCEL=never explicitly, since under
# WebDriver the app keeps WebKit's own); the cold and idle phases also run once with WebKit's own policy
# (KEYWARD_WEBKIT_ACCEL=webkit) and print both side by side, so that the shipped choice is
# measured against the other in the same run; BENCH_ACCEL_VARIANT=0 skips that variant.
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
# The apps' own logs (Keyward's start-up timing lines), then their scratch homes go: the next
# phase starts from nothing.
keep_app_logs() {
  local d
  for d in "$WORK"/cold "$WORK"/idle-keyward; do
    [[ -d "$d" ]] || continue
    cat "$d"/home/.local/share/app.keyward.desktop/logs/*.log > "target/release-bench/$1$(basename "$d")-app.log" 2>/dev/null || true
    rm -rf "$d"
  done
}
run_phase() {
  # Each phase in its own D-Bus session and X server: the app is single-instance per session.
  dbus-run-session -- xvfb-run -a -s "-screen 0 1440x900x24" "$VENV/bin/python" scripts/release_bench.py "$1"
}
if [[ "${BENCH_ACCEL_VARIANT:-1}" != 0 ]]; then
  for phase in cold idle; do
    if [[ ",${BENCH_SKIP:-}," == *",$phase,"* ]]; then continue; fi
    echo "release-bench: $phase, Keyward with WebKit's own hardware acceleration policy (KEYWARD_WEBKIT_ACCEL=webkit)"
    KEYWARD_WEBKIT_ACCEL=webkit run_phase "$phase"
    mv "target/release-bench/release-$phase.json" "target/release-bench/accel-webkit-$phase.json"
    for f in "$WORK"/*.log; do [[ -e "$f" ]] && mv "$f" "${f%.log}-accel-webkit.log"; done
    keep_app_logs "accel-webkit-"
  done
fi
for phase in cli cold idle; do
  if [[ ",${BENCH_SKIP:-}," == *",$phase,"* ]]; then continue; fi
  # The shipped policy, said explicitly: under WebDriver (the cold phase) the app would
  # otherwise keep WebKit's own (src-tauri/src/webview.rs, Accel::choose).
  KEYWARD_WEBKIT_ACCEL=never run_phase "$phase"
done
keep_app_logs ""
"$VENV/bin/python" scripts/release_bench.py report
if [[ "${BENCH_ACCEL_VARIANT:-1}" != 0 ]]; then
  "$VENV/bin/python" - target/release-bench <<'PY'
import json, os, sys
d = sys.argv[1]
def load(name):
    p = os.path.join(d, name)
    return json.load(open(p)) if os.path.exists(p) else None
print()
print("WebKit's hardware acceleration policy (src-tauri/src/webview.rs), each variant against the hello world of its own phase run:")
print(f"  {'figure':<44} {'never (shipped)':>22} {'WebKit default':>22}")
cn, cw = load("release-cold.json"), load("accel-webkit-cold.json")
if cn and cw:
    f = lambda c: f"{c['cold_start_median_s']:.2f} s = {c['cold_start_median_s'] / c['hello_median_s']:.2f}x"
    print(f"  {'launch to painted table (median; x hello)':<44} {f(cn):>22} {f(cw):>22}")
im, iw = load("release-idle.json"), load("accel-webkit-idle.json")
if im and iw:
    f = lambda m: f"{m['pss_mib']:.0f} MiB = {m['pss_mib'] / m['hello']['pss_mib']:.2f}x"
    print(f"  {'idle PSS of the process tree (x hello)':<44} {f(im):>22} {f(iw):>22}")
    w = lambda m: f"{m['processes'].get('WebKitWebProces', {}).get('pss_mib', 0):.0f} MiB"
    print(f"  {'  of which the web process':<44} {w(im):>22} {w(iw):>22}")
PY
fi
echo "release-bench: raw figures and logs in target/release-bench"
