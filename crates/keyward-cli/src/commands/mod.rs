//! One file per command group. Each declares its top-level commands as a `Command` enum
//! (flattened into `keyward`'s by main.rs) and runs them with `run(cmd, app)`, which returns
//! the exit code. A group may use another's printer (`keys::print_new_key`,
//! `doctor::print_report`); none imports this file.

pub mod alerts;
pub mod directory;
pub mod doctor;
pub mod history;
pub mod keys;
pub mod profile;
pub mod scan;
pub mod sync;
pub mod team;
