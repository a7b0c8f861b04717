//! keyward-core: everything in Keyward that is not UI, Tauri or HTTP serving, cut by capability.
//!
//! A front end (the `keyward` CLI, the Tauri app, a server) calls the operations of a
//! capability (`keys::rotate`, `alerts::list`, `sync::run`, ...) over an [`ctx::AppCtx`], and
//! nothing below them. See `docs/architecture.md` for what each folder owns and may import.

// Data and plumbing, imported by everything above.
pub mod config;
pub mod error;
pub mod fsutil;
pub mod kinde;
pub mod model;
pub mod secret;
pub mod store;

// The context every operation runs against.
pub mod ctx;

// The capabilities: each owns its operations and its rules.
pub mod alerts;
pub mod api;
pub mod audit;
pub mod demo;
pub mod directory;
pub mod doctor;
pub mod export;
pub mod history;
pub mod insights;
pub mod keys;
pub mod leaks;
pub mod operations;
pub mod profiles;
pub mod remote;
pub mod sync;

pub use error::{Error, ErrorCode, Result};
