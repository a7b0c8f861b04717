//! kinde-sandbox: a Kinde-compatible Management API server, for tests, demos and manual work.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sb = kinde_sandbox::spawn("127.0.0.1:0".parse()?, kinde_sandbox::Config::default()).await?;
//! println!("{} {} {}", sb.base_url(), sb.client_id(), sb.client_secret());
//! sb.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The modules, from the leaves up (each imports only modules listed before it):
//! - `model` (the data), `http` (Kinde's answer shapes), `conn` (what the accept loop and the
//!   router share), `config`, `clients` (M2M apps and scopes), `stats` (request counters);
//! - `keys` (key operations on the data), `token` (signing and checking access tokens),
//!   `seed` (starting data);
//! - `state` (what every request shares), then `auth` (bearer checks), `store` (initial data and
//!   the state file), `traffic` (simulated verifications);
//! - `routes` (the router and its handlers), `server` (the accept loop);
//! - `sandbox` (a running sandbox: [`spawn`], [`Sandbox`]).

mod auth;
mod clients;
mod config;
mod conn;
mod http;
mod keys;
mod model;
mod routes;
mod sandbox;
mod seed;
mod server;
mod state;
mod stats;
mod store;
mod token;
mod traffic;

pub use clients::{ADMIN_CLIENT, ALL_SCOPES, READONLY_CLIENT, read_scopes};
pub use config::{Config, Seed};
pub use conn::Peer;
pub use sandbox::{Sandbox, spawn};
pub use seed::{EMPTY_API_ID, EMPTY_ORG_CODE, EMPTY_USER_ID};
pub use stats::Stats;
