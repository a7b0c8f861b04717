#!/usr/bin/env bash
# The package itself, as a user gets it: installs the .deb that `make package` made (apt-get, so
# that its dependencies resolve), runs the installed `keyward --version`, drives the installed
# /usr/bin/keyward-app through the e2e smoke test (welcome -> demo -> keys listed -> key detail,
# tests/e2e/test_package.py) under Xvfb with tauri-driver, then removes the package and checks that
# nothing of it is left on PATH. Needs root (CI) or password-less sudo; otherwise it skips, loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if sudo -n true 2>/dev/null; then
    SUDO="sudo"
  else
    echo "################################################################################" >&2
    echo "package-test: SKIPPED: installing a .deb needs root or password-less sudo" >&2
    echo "################################################################################" >&2
    exit 0
  fi
fi

deb=$(ls -t target/release/bundle/deb/*.deb 2>/dev/null | head -n1 || true)
[[ -n "$deb" ]] || { echo "package-test: no .deb under target/release/bundle/deb (make package)" >&2; exit 1; }
pkg=$(dpkg-deb -f "$deb" Package)
version=$(dpkg-deb -f "$deb" Version)

# Never replace a Keyward that someone installed on this machine.
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
  echo "package-test: $pkg is already installed on this machine; remove it first (apt-get remove $pkg)" >&2
  exit 1
fi

export PATH="$HOME/.cargo/bin:$PATH"
for tool in tauri-driver WebKitWebDriver xvfb-run dbus-run-session; do
  command -v "$tool" >/dev/null || { echo "package-test: $tool is missing (make deps)" >&2; exit 1; }
done
VENV="$ROOT/target/e2e-venv"
if [[ ! -x "$VENV/bin/pytest" ]]; then
  echo "package-test: creating $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "selenium>=4.20,<5" "pytest>=8,<9"
fi

WORK=$(mktemp -d /tmp/keyward-package-test.XXXXXX)
removed=""
cleanup() {
  if [[ -z "$removed" ]]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get purge -y -qq "$pkg" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "package-test: installing $deb ($pkg $version)"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$ROOT/$deb" >/dev/null
dpkg-query -W -f='${Status}\n' "$pkg" | grep -q "install ok installed"
for f in /usr/bin/keyward /usr/bin/keyward-app; do
  [[ -x "$f" ]] || { echo "package-test: $f is not installed" >&2; exit 1; }
  dpkg -S "$f" | grep -q "^$pkg:" || { echo "package-test: $f does not belong to $pkg" >&2; exit 1; }
done
dpkg -L "$pkg" | grep -q '^/usr/share/applications/.*\.desktop$'
dpkg -L "$pkg" | grep -q '^/usr/share/icons/hicolor/.*/apps/.*\.png$'
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate $(dpkg -L "$pkg" | grep '^/usr/share/applications/.*\.desktop$')
fi

# The CLI from PATH, as a user types it.
out=$(cd / && env -i PATH=/usr/bin:/bin keyward --version)
echo "package-test: keyward --version: $out"
[[ "$out" == *"$version"* ]] || { echo "package-test: expected version $version" >&2; exit 1; }
(cd / && env -i PATH=/usr/bin:/bin HOME="$WORK" keyward --help >/dev/null)

# The installed app, driven over WebDriver in a scratch HOME (its data, logs and webview caches).
mkdir -p "$WORK/home" "$WORK/keyward-home"
ART="$ROOT/target/package-test-artifacts"
rm -rf "$ART" && mkdir -p "$ART"
export KEYWARD_APP=/usr/bin/keyward-app KEYWARD_E2E_ARTIFACTS="$ART" KEYWARD_E2E_SCREENSHOTS=""
export KEYWARD_HOME="$WORK/keyward-home" KEYWARD_E2E_HOME="$WORK/home"
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" XDG_DATA_HOME="$WORK/home/.local/share" XDG_CACHE_HOME="$WORK/home/.cache"
unset KEYWARD_CLIENT_SECRET
set +e
dbus-run-session -- xvfb-run -a -s "-screen 0 1440x900x24" \
  "$VENV/bin/python" -m pytest -p no:cacheprovider -v "$ROOT/tests/e2e/test_package.py" "$@"
rc=$?
set -e
find "$WORK/home" -name '*.log' -path '*logs*' -exec cp {} "$ART/" \; 2>/dev/null || true
echo "package-test: artifacts (screenshots, app log) in $ART"

echo "package-test: removing $pkg"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get purge -y -qq "$pkg" >/dev/null
removed=1
left=$(ls /usr/bin/keyward* 2>/dev/null || true)
[[ -z "$left" ]] || { echo "package-test: left behind after removal: $left" >&2; exit 1; }
status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
if [[ "$status" == *" installed"* || "$status" == *"config-files"* ]]; then
  echo "package-test: dpkg still has $pkg after the purge ($status)" >&2; exit 1
fi
[[ $rc -eq 0 ]] || { echo "package-test: the installed app failed the smoke test (rc $rc)" >&2; exit $rc; }
echo "package-test: ok ($pkg $version installed, CLI and app work, removed cleanly)"
