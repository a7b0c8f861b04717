//! The `keyward` binary end to end against a real sandbox, one test binary for the whole CLI:
//! each file covers a command group or a concern, and `support` is what they all use.

mod support;

mod alerts;
mod arguments;
mod delivery;
mod files;
mod keys;
mod profiles;
mod scan;
mod small;
mod sync;
mod team;
mod terminal;
