#!/usr/bin/env bash
# The real keyring test: a private D-Bus session with gnome-keyring as the Secret Service, HOME in
# a scratch dir so that no real keyring is touched. Needs: dbus-run-session (dbus), gnome-keyring,
# secret-tool (libsecret-tools). Runs crates/keyward-core/tests/keyring_real.rs with --ignored.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" != "--inner" ]]; then
  for tool in dbus-run-session gnome-keyring-daemon secret-tool; do
    command -v "$tool" >/dev/null || { echo "keyring-test: $tool is missing (make deps)" >&2; exit 1; }
  done
  # Build outside the session; keep cargo's and rustup's homes when HOME moves.
  export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
  cargo test -p keyward-core --test keyring_real --no-run -q
  # Without any Secret Service, the store reports keyring_unavailable (no silent mock).
  env -u DBUS_SESSION_BUS_ADDRESS DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/keyward-bus \
    cargo test -p keyward-core --test keyring_real -q -- --ignored --exact \
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

# Inside the private session: start and unlock gnome-keyring's Secret Service.
eval "$(echo -n pw | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL 2>/dev/null || true
# Wait until org.freedesktop.secrets answers (the daemon registers on the bus asynchronously).
for _ in $(seq 1 50); do
  if secret-tool search --all nosuch-attr nosuch-value >/dev/null 2>&1 || [[ $? -eq 1 ]]; then break; fi
  sleep 0.1
done
cargo test -p keyward-core --test keyring_real -q -- --ignored --exact --nocapture \
  keyring_set_read_back_from_a_fresh_entry_and_delete
