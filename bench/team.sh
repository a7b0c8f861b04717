#!/usr/bin/env bash
# Team mode's figures for `make bench`, each beside its goal (release build), with real parts:
# a kinde-sandbox on loopback with 10,000 keys, a throwaway PostgreSQL, keyward-server's API on
# 127.0.0.1, and the member's side through keyward_core::api as the app and the CLI call it
# (crates/keyward-server/tests/team_bench.rs, the ignored bench_team_list_and_delta):
#   - listing 10,000 keys (keys_changed_since from 0, the app's whole table) through the server
#     on a team profile against the same operation on a local SQLite store, p50 and p95 over 30
#     runs (goal: server p95 < 250 ms, or <= 3x the local p95);
#   - a change in the sandbox (a key rotated outside Keyward) to its keys delta at a connected
#     Server-Sent Events client, the server syncing every second, p50 and p95 over 10 changes
#     (goal: p95 <= 5 s).
# KW_BENCH_KEYS, KW_BENCH_RUNS, KW_BENCH_CHANGES change the sizes; TEAM_BENCH_DEBUG=1 measures
# the debug build. Prints the figures again at the end; exits non-zero only when the
# measurement could not run (a missed goal is a figure, not a failure). Log: target/team-bench/.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
OUT=target/team-bench
mkdir -p "$OUT"
PROFILE=(--release)
[[ -n "${TEAM_BENCH_DEBUG:-}" ]] && PROFILE=()
BUILD="${PROFILE[*]:-debug}"

echo "== team mode benchmarks (${BUILD#--} build; log in $OUT)"
if ! cargo test -q -p keyward-server "${PROFILE[@]}" --test team_bench --no-run; then
  echo "team-bench: the test binary does not build" >&2
  exit 1
fi
cargo test -q -p keyward-server "${PROFILE[@]}" --test team_bench -- --ignored --nocapture \
  bench_team_list_and_delta 2>&1 | tee "$OUT/team_bench.log"
rc=${PIPESTATUS[0]}
echo
echo "== team mode figures (${BUILD#--} build, $(nproc) cores)"
if ! grep '^FIGURE ' "$OUT/team_bench.log" | sed 's/^FIGURE /  /'; then
  echo "  NO FIGURE (see $OUT/team_bench.log)"
fi
if [[ $rc -ne 0 ]]; then
  echo "team-bench: the measurement did not run to the end (exit $rc)" >&2
  exit 1
fi
