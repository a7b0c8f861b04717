#!/usr/bin/env bash
# The keyward-server .deb (`make package`): the release binary, the hardened systemd unit and
# the documented example configuration, staged and packed with `dpkg-deb --build` (no cargo-deb:
# nothing downloaded). Output: target/release/bundle/keyward-server/keyward-server_<v>_<arch>.deb
# (apart from the app's bundle/deb, which scripts/package-test.sh installs).
#   packaging/keyward-server/build-deb.sh            build and pack
#   PACKAGE_NO_BUILD=1 packaging/keyward-server/...  pack the last release build again
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

if [[ -z "${PACKAGE_NO_BUILD:-}" ]]; then
  echo "package: cargo build --release -p keyward-server"
  cargo build --release --locked -p keyward-server
fi
BIN=target/release/keyward-server
[[ -x "$BIN" ]] || { echo "package: $BIN was not built" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
OUT=target/release/bundle/keyward-server
STAGE=$(mktemp -d /tmp/keyward-server-deb.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT

install -D -m 0755 "$BIN" "$STAGE/usr/bin/keyward-server"
install -D -m 0644 packaging/keyward-server.service "$STAGE/lib/systemd/system/keyward-server.service"
install -D -m 0644 crates/keyward-server/config.example.toml \
  "$STAGE/usr/share/doc/keyward-server/config.example.toml"
printf 'keyward-server, part of Keyward (https://github.com/keyward/keyward).\nLicense: MIT\n' \
  > "$STAGE/usr/share/doc/keyward-server/copyright"
mkdir -p "$STAGE/DEBIAN"
install -m 0755 packaging/keyward-server/debian/postinst packaging/keyward-server/debian/prerm \
  packaging/keyward-server/debian/postrm "$STAGE/DEBIAN/"

# The shared libraries the binary links (glibc only: rustls, no OpenSSL).
# The glibc version from getconf, one line read whole by sed. (`ldd --version | head -n1` lost a
# race: head closed the pipe, ldd died of SIGPIPE, pipefail failed the pipeline and the fallback
# appended a second line to the version, so dpkg-deb refused the control file.)
libc=$(getconf GNU_LIBC_VERSION 2>/dev/null | sed -n 's/^glibc \([0-9]\+\.[0-9]\+\).*/\1/p')
[[ "$libc" =~ ^[0-9]+\.[0-9]+$ ]] || libc=2.31
size_kb=$(du -sk "$STAGE/usr" "$STAGE/lib" | awk '{s+=$1} END {print s}')
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: keyward-server
Version: $version
Section: admin
Priority: optional
Architecture: $arch
Maintainer: Keyward <keyward@users.noreply.github.com>
Depends: libc6 (>= $libc), adduser
Recommends: postgresql
Installed-Size: $size_kb
Homepage: https://github.com/keyward/keyward
Description: Keyward Server, the always-on watchtower of Kinde API keys
 Syncs a Kinde business's API keys into PostgreSQL on a schedule, keeps their
 verification history, raises alerts (tripped canaries, spikes, new IPs,
 drift) and delivers them to Standard Webhooks endpoints and Slack. Replicas
 share one database; a lease in PostgreSQL picks the one that syncs.
CONTROL

mkdir -p "$OUT"
rm -f "$OUT"/keyward-server_*.deb
deb="$OUT/keyward-server_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$STAGE" "$deb" >/dev/null

contents=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./||')
for want in usr/bin/keyward-server lib/systemd/system/keyward-server.service \
            usr/share/doc/keyward-server/config.example.toml; do
  grep -qxF "$want" <<<"$contents" || { echo "package: $deb lacks /$want" >&2; exit 1; }
done
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$STAGE/lib/systemd/system/keyward-server.service" 2>&1 \
    | grep -v -e 'keyward-server: Command .* is not executable' -e 'No such file' || true
fi
echo "package: $deb ($(stat -c %s "$deb" | awk '{printf "%.1f MB", $1/1e6}'))"
