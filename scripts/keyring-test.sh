#!/usr/bin/env bash
# The real keyring test: a private D-Bus session with gnome-keyring as the Secret Service, HOME in
# a scratch dir so that no real keyring is touched. Needs: dbus-run-session (dbus), gnome-keyring,
# secret-tool (libsecret-tools).
#  1. crates/keyward-core/tests/keyring_real.rs (--ignored): set, read back from a fresh entry,
#     check with secret-tool, delete; and keyring_unavailable when no Secret Service exists.
#  2. The `keyward` binary end to end: `profile add --client-secret-stdin` stores the secret in
#     the Secret Service (checked with secret-tool), `profile test` uses it against a sandbox, no
#     file under KEYWARD_HOME holds it, and `profile remove` deletes the entry.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" != "--inner" ]]; then
  for tool in dbus-run-session gnome-keyring-daemon secret-tool; do
    command -v "$tool" >/dev/null || { echo "keyring-test: $tool is missing (make deps)" >&2; exit 1; }
  done
  # Build outside the session; keep cargo's and rustup's homes when HOME moves.
  export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
  # The CLI and the sandbox that `make test-rust` built, from the same resolution (test-build.sh).
  source scripts/test-build.sh
  kw_build_test_bins -q
  # Without any Secret Service, the store reports keyring_unavailable (no silent mock).
  DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/keyward-bus \
    cargo test "${KW_TEST_CARGO[@]}" --test keyring_real -q -- --ignored --exact \
    no_secret_service_is_keyring_unavailable_with_a_hint
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  mkdir -p "$scratch/.local/share" "$scratch/.cache" "$scratch/.config"
  HOME="$scratch" XDG_DATA_HOME="$scratch/.local/share" XDG_CONFIG_HOME="$scratch/.config" \
    XDG_CACHE_HOME="$scratch/.cache" XDG_RUNTIME_DIR="$scratch" \
    dbus-run-session -- bash "$0" --inner
  echo "keyring-test: ok"
  exit 0
fi

# ---- inside the private session ----
eval "$(echo -n pw | gnome-keyring-daemon --unlock --components=secrets)"
# The daemon registers org.freedesktop.secrets asynchronously: wait until it answers.
for _ in $(seq 1 50); do
  if secret-tool search --all keyward-probe none >/dev/null 2>&1; then break; fi
  sleep 0.1
done

source scripts/test-build.sh
cargo test "${KW_TEST_CARGO[@]}" --test keyring_real -q -- --ignored --exact --nocapture \
  keyring_set_read_back_from_a_fresh_entry_and_delete

echo "keyring-test: keyward CLI with the real keyring"
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
keyward="$target_dir/debug/keyward"
sandbox_log="$HOME/sandbox.log"
"$target_dir/debug/kinde-sandbox" --listen 127.0.0.1:0 >"$sandbox_log" 2>&1 &
sandbox_pid=$!
trap 'kill "$sandbox_pid" 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 100); do
  url="$(sed -n 's/^listening on \(http[^ ]*\).*/\1/p' "$sandbox_log" | head -n1)"
  [[ -n "$url" ]] && break
  sleep 0.1
done
[[ -n "$url" ]] || { echo "keyring-test: the sandbox did not start" >&2; cat "$sandbox_log" >&2; exit 1; }
id="$(sed -n 's/^client id: *//p' "$sandbox_log")"
secret="$(sed -n 's/^client secret: *//p' "$sandbox_log")"

export KEYWARD_HOME="$HOME/keyward-home"
unset KEYWARD_CLIENT_SECRET KEYWARD_PROFILE
printf '%s\n' "$secret" | "$keyward" profile add kr --domain "$url" --client-id "$id" \
  --client-secret-stdin --environment development
stored="$(secret-tool lookup service keyward username kr)"
[[ "$stored" == "$secret" ]] || { echo "keyring-test: secret-tool does not find the secret" >&2; exit 1; }
secret-tool search service keyward username kr 2>&1 | grep -q "attribute.username = kr"
"$keyward" profile test >/dev/null
"$keyward" --json apis list | grep -q '"scopes"'
if grep -rqF -- "$secret" "$KEYWARD_HOME"; then
  echo "keyring-test: the client secret was written under KEYWARD_HOME" >&2
  exit 1
fi
"$keyward" profile remove kr >/dev/null
if secret-tool lookup service keyward username kr >/dev/null 2>&1; then
  echo "keyring-test: profile remove left the keyring entry" >&2
  exit 1
fi
echo "keyring-test: CLI ok (stored, used, not on disk, removed)"
