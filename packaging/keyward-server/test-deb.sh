#!/usr/bin/env bash
# The keyward-server .deb as an operator gets it (`make test-package`): installs it with apt-get,
# checks what it put where (the binary on PATH, the hardened unit, the system user, a private
# /etc/keyward-server), runs the installed binary (--version; `check` without configuration is a
# clear error; `migrate` and `check` against a throwaway PostgreSQL and a kinde-sandbox when
# they are at hand), then purges it and checks that nothing of it is left. Needs root or
# password-less sudo; otherwise it skips, loudly.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo"; else
    echo "server-package-test: SKIPPED: installing a .deb needs root or password-less sudo" >&2
    exit 0
  fi
fi
deb=$(ls -t target/release/bundle/keyward-server/keyward-server_*.deb 2>/dev/null | head -n1 || true)
[[ -n "$deb" ]] || { echo "server-package-test: no keyward-server .deb (make package)" >&2; exit 1; }
version=$(dpkg-deb -f "$deb" Version)
if dpkg-query -W -f='${Status}' keyward-server 2>/dev/null | grep -q "install ok installed"; then
  echo "server-package-test: keyward-server is already installed here; remove it first" >&2
  exit 1
fi
removed=""
cleanup() {
  [[ -n "$removed" ]] || DEBIAN_FRONTEND=noninteractive $SUDO apt-get purge -y -qq keyward-server >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "server-package-test: installing $deb"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$ROOT/$deb" >/dev/null
dpkg-query -W -f='${Status}\n' keyward-server | grep -q "install ok installed"
for f in /usr/bin/keyward-server /lib/systemd/system/keyward-server.service \
         /usr/share/doc/keyward-server/config.example.toml; do
  [[ -e "$f" ]] || { echo "server-package-test: $f is not installed" >&2; exit 1; }
done
unit=/lib/systemd/system/keyward-server.service
for want in "User=keyward-server" "ProtectSystem=strict" "NoNewPrivileges=yes" "PrivateTmp=yes" \
            "LoadCredential=kinde-client-secret:/etc/keyward-server/kinde-client-secret"; do
  grep -qxF "$want" "$unit" || { echo "server-package-test: the unit lacks $want" >&2; exit 1; }
done
getent passwd keyward-server >/dev/null || { echo "server-package-test: no keyward-server user" >&2; exit 1; }
[[ "$(stat -c '%U:%G %a' /etc/keyward-server)" == "root:keyward-server 750" ]] \
  || { echo "server-package-test: /etc/keyward-server is $(stat -c '%U:%G %a' /etc/keyward-server)" >&2; exit 1; }

out=$(cd / && env -i PATH=/usr/bin:/bin keyward-server --version)
echo "server-package-test: keyward-server --version: $out"
[[ "$out" == *"$version"* ]] || { echo "server-package-test: expected $version" >&2; exit 1; }
set +e
err=$(cd / && env -i PATH=/usr/bin:/bin keyward-server check 2>&1 >/dev/null)
rc=$?
set -e
[[ $rc -eq 2 && "$err" == *"no database URL"* && "$err" == *"hint:"* ]] \
  || { echo "server-package-test: check without configuration: rc $rc: $err" >&2; exit 1; }

# Against real parts, when this checkout has them built: a throwaway PostgreSQL and a sandbox.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
SANDBOX="$ROOT/target/release/kinde-sandbox"
[[ -x "$SANDBOX" ]] || SANDBOX="$ROOT/target/debug/kinde-sandbox"
if [[ -n "$PGBIN" && -x "$SANDBOX" ]]; then
  W=$(mktemp -d /tmp/keyward-server-pkg.XXXXXX)
  id keyward-pg >/dev/null 2>&1 || $SUDO useradd --system --no-create-home --shell /usr/sbin/nologin keyward-pg
  chown keyward-pg "$W" 2>/dev/null || $SUDO chown keyward-pg "$W"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  sport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  pgrun() { $SUDO runuser -u keyward-pg -- "$@"; }
  pgrun "$PGBIN/initdb" -A trust -U postgres --no-sync -D "$W/data" >/dev/null
  pgrun "$PGBIN/pg_ctl" -D "$W/data" -l "$W/log" -w -o "-p $port -k $W -c listen_addresses=127.0.0.1" start >/dev/null
  "$SANDBOX" --listen "127.0.0.1:$sport" --seed empty --client-id pkg-test \
    --client-secret pkg-test-secret >"$W/sandbox.log" 2>&1 &
  spid=$!
  stop_all() { kill "$spid" 2>/dev/null || true; pgrun "$PGBIN/pg_ctl" -D "$W/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$W"; }
  trap 'stop_all; cleanup' EXIT
  for _ in $(seq 50); do (echo >"/dev/tcp/127.0.0.1/$sport") 2>/dev/null && break; sleep 0.2; done
  env_run() {
    env -i PATH=/usr/bin:/bin KEYWARD_SERVER_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres" \
      KEYWARD_SERVER_KINDE_DOMAIN="http://127.0.0.1:$sport" \
      KEYWARD_SERVER_KINDE_CLIENT_ID=pkg-test KEYWARD_SERVER_KINDE_CLIENT_SECRET=pkg-test-secret \
      keyward-server "$@"
  }
  out=$(env_run migrate)
  echo "server-package-test: migrate: $(tail -n1 <<<"$out")"
  grep -q "0101_lease.sql" <<<"$out" || { echo "server-package-test: migrate did not apply the server's tables: $out" >&2; exit 1; }
  out=$(env_run check) || { echo "server-package-test: check failed: $out" >&2; exit 1; }
  grep -q "all checks passed" <<<"$out" || { echo "server-package-test: check: $out" >&2; exit 1; }
  echo "server-package-test: check against the throwaway PostgreSQL and the sandbox: all checks passed"
  stop_all
  trap cleanup EXIT
else
  echo "server-package-test: no PostgreSQL or sandbox build here: migrate against a database not run"
fi

echo "server-package-test: purging keyward-server"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get purge -y -qq keyward-server >/dev/null
removed=1
for f in /usr/bin/keyward-server /lib/systemd/system/keyward-server.service /etc/keyward-server; do
  [[ ! -e "$f" ]] || { echo "server-package-test: $f left after the purge" >&2; exit 1; }
done
status=$(dpkg-query -W -f='${Status}' keyward-server 2>/dev/null || true)
[[ "$status" != *" installed"* && "$status" != *"config-files"* ]] \
  || { echo "server-package-test: dpkg still has keyward-server ($status)" >&2; exit 1; }
echo "server-package-test: ok (keyward-server $version installed, runs, removed cleanly)"
