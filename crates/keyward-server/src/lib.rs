//! Keyward Server: the always-on watchtower of a business's Kinde API keys, on PostgreSQL.
//!
//! It holds the business's M2M credentials and does what the app does in the background,
//! without a window: syncs on a schedule with keyward-core's sync, evaluates the same alert
//! rules, and delivers what they raise to signed webhooks and Slack. Replicas share one
//! database; a lease in PostgreSQL picks the one that syncs and delivers.

pub mod api;
pub mod config;
pub mod deliver;
pub mod http;
pub mod lease;
pub mod metrics;
pub mod pg;
pub mod serve;
