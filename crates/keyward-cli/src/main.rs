//! `keyward`: manage Kinde API keys from a terminal.
//!
//! Only argument parsing and output live in this crate; every operation is a call into a
//! `keyward_core` capability (`keys`, `sync`, `alerts`, ...). Each command group has one file
//! under `commands/` with its clap arguments and its output; `output` is the only module that
//! writes to the terminal, `args` holds the arguments several groups share, and `exit` turns
//! an error into its message and exit code.

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod app;
mod args;
mod commands;
mod exit;
mod output;

use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand};
use keyward_core::ctx::AppCtx;
use keyward_core::secret::keyring::KeyringStore;
use keyward_core::{Error, Result};

use app::App;
use commands::{alerts, directory, doctor, history, keys, profile, scan, sync};

#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about = "Manage the API keys of a Kinde business",
    long_about = "Manage the API keys of a Kinde business: list, create, rotate, revoke, verify, \
                  and diagnose keys and connections.\n\nConfig and data live in the platform \
                  dirs, or under $KEYWARD_HOME. Client secrets live in the OS keyring; \
                  KEYWARD_CLIENT_SECRET overrides it (and is never stored). \
                  KEYWARD_CA_CERT names a PEM file with one more trusted root certificate.",
    after_long_help = EXIT_CODES
)]
struct Cli {
    /// The profile to use (default: KEYWARD_PROFILE, then the default or only profile).
    #[arg(long, global = true, env = "KEYWARD_PROFILE", value_name = "NAME")]
    profile: Option<String>,
    /// Print JSON (Kinde's field names) instead of tables; errors as JSON on stderr.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// The exit codes, shown by `keyward --help` (and in crates/keyward-cli/README.md).
const EXIT_CODES: &str = "Exit codes:
  0    success
  1    findings: a doctor found a problem, `keys verify` says invalid, `alerts` has open
       high/critical alerts, `scan` found secrets; an unexpected answer; a bug
  2    invalid input (also a non-UTF-8 argument), unknown profile, a confirmation refused
  3    credentials (secret missing, keyring unavailable, invalid_client, unauthorized_client)
  4    missing_scope          5  not_found          6  bad_request       7  rate_limited
  8    network (DNS, TLS, refused, timeout, offline, server error)
  9    ambiguous: a create, rotate or revoke may or may not have happened
  10   local database or file; sync_in_progress
  11   forbidden (a team server refused it to your role)
  12   secret_not_delivered: a new secret could not be written to standard output (a full
       disk, a closed pipe); the key at Kinde has a secret nobody holds: rotate it again
  13   `scan` read no file at all (everything given was skipped): not a clean scan
  130  cancelled";

/// Every top-level command, group by group (each group's file declares its own).
#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Profile(profile::Command),
    #[command(flatten)]
    Keys(keys::Command),
    #[command(flatten)]
    Directory(directory::Command),
    #[command(flatten)]
    Doctor(doctor::Command),
    #[command(flatten)]
    Sync(sync::Command),
    #[command(flatten)]
    History(history::Command),
    #[command(flatten)]
    Alerts(alerts::Command),
    #[command(flatten)]
    Scan(scan::Command),
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => exit::usage_error(e, Cli::command()),
    };
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => exit::exit_with(
            &Error::internal(format!("cannot start the runtime: {e}")),
            json,
        ),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => std::process::exit(code),
        Err(e) => exit::exit_with(&e, json),
    }
}

/// Runs the command; the process exit code (0 = success) or the error to print.
async fn run(cli: Cli) -> Result<i32> {
    let mut ctx = AppCtx::new(None, Arc::new(KeyringStore::new()))?;
    if let Some(p) = cli.profile.filter(|p| !p.is_empty()) {
        ctx = ctx.with_profile(p);
    }
    let app = App {
        ctx,
        json: cli.json,
    };
    match cli.command {
        Command::Profile(c) => profile::run(c, &app).await,
        Command::Keys(c) => keys::run(c, &app).await,
        Command::Directory(c) => directory::run(c, &app).await,
        Command::Doctor(c) => doctor::run(c, &app).await,
        Command::Sync(c) => sync::run(c, &app).await,
        Command::History(c) => history::run(c, &app).await,
        Command::Alerts(c) => alerts::run(c, &app).await,
        Command::Scan(c) => scan::run(c, &app).await,
    }
}
