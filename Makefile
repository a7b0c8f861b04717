# Keyward: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
# Recipes that use Node source this first: it prefers the private Node 22 that deps.sh fetches
# when the system's Node is older than Vite 7 needs.
NODE := source scripts/node-env.sh &&
# The app is always built with its UI embedded (what a user runs and what the tests drive).
APP_FEATURES := --features keyward-app/custom-protocol

.PHONY: run test deps fmt lint check-fmt check-layers clippy test-rust test-keyring e2e \
        ui-deps ui-check ui-build app bindings check-bindings sandbox cli bench screenshots \
        package test-package bench-server

## run: install what is missing, build, and open the app on the embedded demo sandbox
run: deps ui-build
	$(CARGO) build -p keyward-app $(APP_FEATURES)
	./target/debug/keyward-app --demo

## test: formatting, the layers check, lints, type checks, every unit/integration test, the real keyring test,
## the TypeScript bindings drift check, the end-to-end tests of the real app under Xvfb, and the
## package test (the .deb installed, its CLI and app driven, removed)
test: deps check-fmt check-layers ui-check ui-build clippy test-rust check-bindings test-keyring e2e test-package
# One whole run builds everything once, so cargo's incremental caches would only take disk: 3.5 GB
# of a fresh run's target/debug (2026-12-08). A CARGO_INCREMENTAL set by the caller wins.
test: export CARGO_INCREMENTAL ?= 0

## deps: install the system packages, Node and tauri-driver that build and tests need
deps:
	@bash scripts/deps.sh

fmt:
	$(CARGO) fmt --all

check-fmt:
	$(CARGO) fmt --all -- --check

## check-layers: no two Rust files import each other (directly or in a circle), and
## keyward-core's lower layers import nothing above them (docs/architecture.md)
check-layers:
	python3 scripts/check-layers.py

clippy lint: ui-build
	$(CARGO) clippy --workspace --all-targets $(APP_FEATURES) -- -D warnings

# The one resolution every debug build of the tests shares (scripts/test-build.sh: keep in step).
test-rust: ui-build
	$(CARGO) test --workspace $(APP_FEATURES)

## the OS keyring for real: gnome-keyring in a private D-Bus session
test-keyring: ui-build
	bash scripts/keyring-test.sh

## the real app binary in WebKit under Xvfb, driven by tauri-driver
e2e: ui-build
	bash scripts/e2e.sh

## screenshots: the e2e run, also refreshing the README's screenshots in docs/screenshots
screenshots: ui-build
	KEYWARD_E2E_SCREENSHOTS=$(CURDIR)/docs/screenshots bash scripts/e2e.sh

ui/node_modules/.package-lock.json: ui/package-lock.json
	$(NODE) cd ui && npm ci --no-audit --no-fund

ui-deps: ui/node_modules/.package-lock.json

ui-check: ui-deps
	$(NODE) cd ui && npm run --silent check && npm test --silent

ui-build: ui-deps
	$(NODE) cd ui && npm run --silent build

app: ui-build
	$(CARGO) build -p keyward-app $(APP_FEATURES)

## bindings: regenerate the TypeScript types that ts-rs derives from Rust (commit the result)
bindings:
	rm -f ui/src/lib/bindings/*.ts
	$(CARGO) test --workspace $(APP_FEATURES) export_bindings -q >/dev/null
	UPDATE_BINDINGS=1 $(CARGO) test --workspace $(APP_FEATURES) --test bindings -q >/dev/null

check-bindings:
	@$(MAKE) --no-print-directory bindings
	@if [[ -n "$$(git status --porcelain -- ui/src/lib/bindings ui/src/lib/backend/commands.ts ui/src/lib/backend/ipc-types.ts src-tauri/capabilities)" ]]; then \
	  git status --short -- ui/src/lib/bindings ui/src/lib/backend/commands.ts ui/src/lib/backend/ipc-types.ts src-tauri/capabilities; \
	  echo "bindings drifted from the Rust types: run 'make bindings' and commit" >&2; exit 1; fi

sandbox:
	$(CARGO) run -p kinde-sandbox -- --listen 127.0.0.1:8787 --seed demo --traffic 5

cli:
	$(CARGO) build -p keyward-cli --release

## package: the release build (UI embedded) and a .deb and an .rpm in target/release/bundle, each
## holding keyward-app and the keyward CLI; no AppImage (its tools are downloaded: README, Install);
## and the server's own .deb (keyward-server, its systemd unit) in target/release/bundle/keyward-server
package: deps ui-build
	bash scripts/package.sh
	bash packaging/keyward-server/build-deb.sh

## bench-server: keyward-server's figures beside their goals (release, real PostgreSQL): a full
## sync of 10,000 keys into PostgreSQL vs SQLite (goal <= 1.3x), alert to webhook p50/p95 (goal
## p95 < 2 s), failover over 5 kills (goal < 30 s), the server's RSS at 10,000 keys
bench-server:
	bash bench/server.sh

## test-package: install the .deb (root or sudo), run the installed CLI, drive the installed app
## through the e2e smoke test under Xvfb, and remove the package; the same for the server's .deb
## (installed, its unit and user checked, migrate and check run against real parts, purged)
test-package: package
	bash scripts/package-test.sh
	bash packaging/keyward-server/test-deb.sh

## bench: sync, history and scan benchmarks (release; the scan bench compares with ripgrep), the
## server's figures (bench-server), team mode's (bench/team.sh: 10,000 keys listed through the
## server vs the local store, a sandbox change to its delta at a connected app), the keys
## window in the core (search, filters, sorts, pages) at 150, 10,000 and 100,000 keys and the real
## app at the same sizes (paint, scroll, cold start, memory; scripts/scale-bench.sh), and the release build
## beside Tauri's own hello world (bench/tauri-hello, built offline with the same profile) in the
## same run: launch to painted and idle PSS, each with its goal (<= 1.5x and <= 1.25x hello)
bench: ui-deps
	@command -v rg >/dev/null || { echo "installing ripgrep from Debian for the scan bench"; \
	  (apt-get install -y ripgrep || sudo apt-get install -y ripgrep) >/dev/null; }
	$(CARGO) bench -p keyward-core
	bash bench/server.sh
	bash bench/team.sh
	bash scripts/scale-bench.sh
	bash scripts/release-bench.sh
