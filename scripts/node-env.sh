# Sourced by the Makefile's recipes: prefers the private Node under target/node when deps.sh
# fetched one (system Node older than 20.19).
if [[ -x "$(dirname "${BASH_SOURCE[0]}")/../target/node/bin/node" ]]; then
  PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")/../target/node/bin" && pwd):$PATH"
  export PATH
fi
