# Sourced by the test scripts (e2e.sh, keyring-test.sh). Every debug binary the tests run comes
# from one cargo resolution: the one `make test-rust` builds (cargo test --workspace with the UI
# embedded; keep the two in step with the Makefile's test-rust). A `cargo build -p X` resolves
# features for X alone, and `cargo test` adds the dev-dependencies' features (keyward-core's
# store-contract, for one), so every other command compiled a second copy of keyward-core and of
# everything above it: 3.7 GB more target/debug in a fresh `make test` (2026-12-08), which filled a CI
# machine's disk. Here the tests' binaries (keyward-app, keyward, kinde-sandbox, keyward-server)
# are the ones cargo test already built, and nothing is compiled twice.
KW_TEST_CARGO=(--workspace --features keyward-app/custom-protocol)

# Builds (or finds fresh) every test and binary of that resolution; `cargo test --no-run` puts
# each package's binaries in target/debug, where the tests look for them.
kw_build_test_bins() {
  cargo test "${KW_TEST_CARGO[@]}" --no-run "$@"
}
