//! The sandbox over HTTP, in one test binary: each module covers one area, and every answer is
//! checked against Kinde's spec by `support::send`. The spec coverage test (`tests/spec.rs`) is
//! a binary of its own: it compares the answers its process has seen with what the sandbox
//! serves, so the answers of these tests must not count there.

#[path = "../support/mod.rs"]
mod support;

mod auth;
mod binary;
mod directory;
mod keys;
mod ops;
mod paging;
mod token;
