//! keyward-core: everything in Keyward that is not UI or Tauri.
//!
//! Front ends (the `keyward` CLI, the Tauri app) call [`ops`] and nothing else that talks to
//! Kinde, the store or the keyring.

pub mod alerts;
pub mod config;
pub mod ctx;
pub mod demo;
pub mod doctor;
pub mod error;
pub mod export;
pub mod fsutil;
pub mod insights;
pub mod kinde;
pub mod model;
pub mod ops;
pub mod ops_store;
pub mod ops_watch;
pub mod scan;
pub mod secret;
pub mod secrets;
pub mod store;
pub mod sync;

pub use error::{Error, ErrorCode, Result};
