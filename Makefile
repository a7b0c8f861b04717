# Keyward: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test fmt lint deps sandbox check-fmt clippy test-rust

## run: install what is missing, build, and start (for now) the sandbox with demo data
run: deps
	$(CARGO) run -p kinde-sandbox --release -- --listen 127.0.0.1:8787 --seed demo --traffic 5

## test: formatting, lints and every test
test: deps check-fmt clippy test-rust

## deps: install the system packages the build and the tests need (Debian/Ubuntu)
deps:
	@bash scripts/deps.sh

fmt:
	$(CARGO) fmt --all

check-fmt:
	$(CARGO) fmt --all -- --check

clippy lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test --workspace

sandbox:
	$(CARGO) run -p kinde-sandbox -- --listen 127.0.0.1:8787 --seed demo
