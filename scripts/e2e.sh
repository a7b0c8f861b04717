#!/usr/bin/env bash
# End-to-end tests of the real Keyward binary (embedded assets) in a real WebKit webview, driven by
# tauri-driver + WebKitWebDriver under Xvfb, in a temporary KEYWARD_HOME and HOME.
# Installs what it needs (tauri-driver, a Python venv with selenium + pytest) on first use.
#   scripts/e2e.sh            build, then run every test
#   E2E_NO_BUILD=1 scripts/e2e.sh   reuse the last build
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[[ -f scripts/node-env.sh ]] && source scripts/node-env.sh

export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v tauri-driver >/dev/null; then
  echo "e2e: installing tauri-driver"
  cargo install tauri-driver --locked --quiet
fi
for tool in WebKitWebDriver xvfb-run dbus-run-session; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool is missing (run scripts/deps.sh)" >&2; exit 1; }
done

if [[ -z "${E2E_NO_BUILD:-}" ]]; then
  echo "e2e: building the UI"
  (cd ui && { [[ -d node_modules ]] || npm ci --no-audit --no-fund; } && npm run --silent build)
  # keyward-app with embedded assets, and test_team.py's server, sandbox and CLI
  # (tests/e2e/team_harness.py): the binaries `make test-rust` built (scripts/test-build.sh).
  echo "e2e: building keyward-app (embedded assets), keyward-server, kinde-sandbox and keyward"
  start=$(date +%s)
  source scripts/test-build.sh
  kw_build_test_bins -q
  echo "e2e: build took $(( $(date +%s) - start )) s"
fi
APP="$ROOT/target/debug/keyward-app"
[[ -x "$APP" ]] || { echo "e2e: $APP not built" >&2; exit 1; }

VENV="$ROOT/target/e2e-venv"
if [[ ! -x "$VENV/bin/pytest" ]]; then
  echo "e2e: creating $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "selenium>=4.20,<5" "pytest>=8,<9"
fi

WORK=$(mktemp -d /tmp/keyward-e2e.XXXXXX)
mkdir -p "$WORK/home" "$WORK/keyward-home"
ART="$ROOT/target/e2e-artifacts"
rm -rf "$ART" && mkdir -p "$ART"
export KEYWARD_APP="$APP" KEYWARD_E2E_ARTIFACTS="$ART" KEYWARD_E2E_SCREENSHOTS="${KEYWARD_E2E_SCREENSHOTS:-}"
export KEYWARD_HOME="$WORK/keyward-home" KEYWARD_E2E_HOME="$WORK/home"
# The app and its webview write their caches, logs and window state under HOME/XDG dirs: keep
# them in the scratch dir, where the secret-hygiene test looks.
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" XDG_DATA_HOME="$WORK/home/.local/share" XDG_CACHE_HOME="$WORK/home/.cache"
# The demo's watchtower script (a new IP, a spike, drift, a canary touched...) one event every
# 1.5 s instead of 30 s, so that the alerts test sees every kind within the run.
export KEYWARD_DEMO_SCRIPT_STEP_MS=1500
# The demo needs no keyring; KEYWARD_CLIENT_SECRET must not leak in from the caller.
unset KEYWARD_CLIENT_SECRET

# Every GUI test file on the one app session: test_app.py first (it opens the demo), the others
# by name, test_zz_hygiene.py last (no secret shown by any of them is found at rest). The scale
# and package tests run on their own below and in `make test-package`.
# `scripts/e2e.sh tests/e2e/test_layout.py -k NAME` runs those files only.
FILES=()
if [[ $# -eq 0 || "$1" == -* ]]; then
  FILES+=("$ROOT/tests/e2e/test_app.py")
  for f in "$ROOT"/tests/e2e/test_*.py; do
    case "$(basename "$f")" in
      test_app.py|test_scale.py|test_package.py|test_zz_hygiene.py) ;;
      *) FILES+=("$f") ;;
    esac
  done
  FILES+=("$ROOT/tests/e2e/test_zz_hygiene.py")
fi
set +e
dbus-run-session -- xvfb-run -a -s "-screen 0 1440x900x24" \
  "$VENV/bin/python" -m pytest -p no:cacheprovider -v "${FILES[@]}" "$@"
rc=$?
if [[ $rc -eq 0 && -z "${E2E_NO_SCALE:-}" ]]; then
  # The same app at 10,000 keys, in a fresh home.
  rm -rf "$KEYWARD_HOME" && mkdir -p "$KEYWARD_HOME"
  KEYWARD_DEMO_KEYS=10000 KEYWARD_DEMO_DETAIL_LATENCY_MS=40 dbus-run-session -- xvfb-run -a -s "-screen 0 1440x900x24" \
    "$VENV/bin/python" -m pytest -p no:cacheprovider -v -s "$ROOT/tests/e2e/test_scale.py"
  rc=$?
fi
set -e
find "$WORK/home" -name '*.log' -path '*logs*' -exec cp {} "$ART/" \; 2>/dev/null || true
echo "e2e: artifacts (screenshots per step, app log) in $ART"
rm -rf "$WORK"
exit $rc
