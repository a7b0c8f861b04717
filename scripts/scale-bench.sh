#!/usr/bin/env bash
# The keys table at 150, 10,000 and 100,000 keys in the real app (make bench): see
# tests/e2e/bench_scale.py. Builds what it drives like scripts/e2e.sh (debug app with the UI
# embedded; release sandbox and CLI), in a scratch HOME.
#   KW_SCALE_SIZES=150,10000 scripts/scale-bench.sh     other sizes (the first is the baseline)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[[ -f scripts/node-env.sh ]] && source scripts/node-env.sh
export PATH="$HOME/.cargo/bin:$PATH"

if [[ -z "${E2E_NO_BUILD:-}" ]]; then
  (cd ui && { [[ -d node_modules ]] || npm ci --no-audit --no-fund; } && npm run --silent build)
  cargo build -p keyward-app --features custom-protocol
  cargo build --release -p kinde-sandbox -p keyward-cli
fi
VENV="$ROOT/target/e2e-venv"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import selenium' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "selenium>=4.20,<5" "pytest>=8,<9"
fi

WORK=$(mktemp -d /tmp/keyward-scale.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/home"
export KEYWARD_APP="$ROOT/target/debug/keyward-app" KEYWARD_CLI="$ROOT/target/release/keyward" \
  KINDE_SANDBOX="$ROOT/target/release/kinde-sandbox" KEYWARD_E2E_ARTIFACTS="$ROOT/target/e2e-artifacts"
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" XDG_DATA_HOME="$WORK/home/.local/share" \
  XDG_CACHE_HOME="$WORK/home/.cache" TMPDIR="$WORK"
mkdir -p "$KEYWARD_E2E_ARTIFACTS"
dbus-run-session -- xvfb-run -a -s "-screen 0 1440x900x24" "$VENV/bin/python" "$ROOT/tests/e2e/bench_scale.py"
