#!/usr/bin/env bash
# Installs what building and testing Keyward needs on Debian/Ubuntu, only what is missing.
set -euo pipefail

PKGS=(
  # Tauri build
  libwebkit2gtk-4.1-dev build-essential curl wget file libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev pkg-config libdbus-1-dev
  # GUI tests: Xvfb and WebKitWebDriver
  xvfb xauth webkit2gtk-driver
  # Keyring tests: a real Secret Service
  gnome-keyring dbus-x11 libsecret-tools
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "deps: cargo not found; install Rust from your distribution or rustup first" >&2
  exit 1
fi
