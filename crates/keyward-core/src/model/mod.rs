//! The data that crosses boundaries: between capabilities, to the CLI's `--json`, and to the UI
//! (every type here derives its TypeScript with ts-rs). Plain data and its own checks only.
//!
//! JSON field names follow Kinde's (`id`, `name`, `type`, `status`, `key_prefix`, ...), so that
//! `keyward --json` reads like Kinde's own output.

pub mod alert;
pub mod audit;
pub mod doctor;
pub mod history;
pub mod key;
pub mod leak;
pub mod sync;
