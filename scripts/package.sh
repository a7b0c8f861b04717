#!/usr/bin/env bash
# `make package`: the release app (UI embedded) and the `keyward` CLI, then a .deb and an .rpm
# through Tauri's bundler (`tauri bundle`, @tauri-apps/cli from ui/node_modules). Nothing is
# downloaded: no AppImage (its bundler fetches linuxdeploy from GitHub; see README "Install").
# Expects ui/dist to be current (`make package` runs `make ui-build` first).
#   scripts/package.sh            build and bundle
#   PACKAGE_NO_BUILD=1 ...        bundle the last release build again
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[[ -f scripts/node-env.sh ]] && source scripts/node-env.sh

TAURI="$ROOT/ui/node_modules/.bin/tauri"
[[ -x "$TAURI" ]] || { echo "package: $TAURI is missing (make ui-deps)" >&2; exit 1; }
[[ -f ui/dist/index.html ]] || { echo "package: ui/dist is missing (make ui-build)" >&2; exit 1; }

start=$(date +%s)
if [[ -z "${PACKAGE_NO_BUILD:-}" ]]; then
  # One cargo run for both binaries, with the same features every time, so that a second
  # `make package` with nothing changed rebuilds nothing (fat LTO relinks take minutes).
  echo "package: cargo build --release (keyward-app with the UI embedded, keyward CLI)"
  cargo build --release --locked -p keyward-app --features keyward-app/custom-protocol -p keyward-cli
fi
for bin in keyward-app keyward; do
  [[ -x "target/release/$bin" ]] || { echo "package: target/release/$bin was not built" >&2; exit 1; }
done
built=$(date +%s)

# `tauri bundle` packs the binary that cargo just built (it does not rebuild it); the CLI goes in
# through bundle.linux.{deb,rpm}.files in src-tauri/tauri.conf.json.
rm -rf target/release/bundle/deb target/release/bundle/rpm
echo "package: tauri bundle --bundles deb,rpm"
(cd src-tauri && "$TAURI" bundle --bundles deb,rpm --config packaging/bundle.linux.json)
done_at=$(date +%s)

deb=$(ls target/release/bundle/deb/*.deb)
rpm=$(ls target/release/bundle/rpm/*.rpm)

# The packages hold what they must: both binaries on PATH, the desktop entry, the icons.
contents=$(dpkg-deb -c "$deb")
for want in usr/bin/keyward-app usr/bin/keyward usr/share/applications/Keyward.desktop \
            usr/share/icons/hicolor/32x32/apps/keyward-app.png usr/share/icons/hicolor/512x512/apps/keyward-app.png; do
  awk '{print $NF}' <<<"$contents" | sed 's|^\./||' | grep -qxF "$want" \
    || { echo "package: $deb lacks /$want" >&2; echo "$contents" >&2; exit 1; }
done
# The desktop entry passes desktop-file-validate (desktop-file-utils), when installed.
if command -v desktop-file-validate >/dev/null; then
  entry=$(mktemp -d)
  dpkg-deb -x "$deb" "$entry"
  out=$(desktop-file-validate "$entry/usr/share/applications/Keyward.desktop" 2>&1) || { echo "$out" >&2; exit 1; }
  [[ -z "$out" ]] || echo "package: desktop-file-validate: $out"
  rm -rf "$entry"
fi
if command -v rpm >/dev/null; then
  rlist=$(rpm -qlp "$rpm" 2>/dev/null)
  for want in /usr/bin/keyward-app /usr/bin/keyward /usr/share/applications/Keyward.desktop; do
    grep -qxF "$want" <<<"$rlist" || { echo "package: $rpm lacks $want" >&2; echo "$rlist" >&2; exit 1; }
  done
else
  echo "package: rpm is not installed: the .rpm's file list is not checked (apt-get install rpm)"
fi

size() { stat -c %s "$1" | awk '{printf "%.1f MB", $1/1e6}'; }
echo
echo "package: keyward-app $(size target/release/keyward-app), keyward $(size target/release/keyward)"
echo "package: $deb ($(size "$deb"))"
echo "package: $rpm ($(size "$rpm"))"
echo "package: build $((built - start)) s, bundle $((done_at - built)) s"
