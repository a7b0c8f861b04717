//! keyward-core's integration tests, one test binary for the crate: each module covers a
//! capability against a real sandbox over loopback (or, for the client, a fake server), and
//! `support` is what they all use. Apart, in their own binaries: `sync_kill` (re-runs its own
//! binary as the child it kills) and `keyring_real` (the real OS keyring, run by
//! `scripts/keyring-test.sh`).

#[path = "../support/mod.rs"]
mod support;

/// The Management API client: every route, the token, errors, faults, odd answers.
mod kinde {
    mod errors;
    mod faults;
    mod fuzz;
    mod nulls;
    mod routes;
    mod status_counts;
    mod token;
}

/// The key and connection doctors.
mod doctor {
    mod connection;
    mod key;
}

/// Syncs into SQLite on real files, alone and two at once.
mod sync {
    mod engine;
    mod lock;
}

mod alerts;
mod answer_without_key;
mod audit;
mod audit_intent;
mod bounded_answers;
mod client_fuzz;
mod config;
mod demo;
mod export;
mod handover;
mod history;
mod history_rollup;
mod keys;
mod keys_by_ids;
mod paging;
mod profile_binding;
mod profiles;
mod rules_agree;
mod scopes_contract;
mod store;
mod store_faults;
mod unknown_ids;
mod wild_server;
mod window_search;
