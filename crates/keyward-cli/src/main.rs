//! `keyward`: manage Kinde API keys from a terminal.
//!
//! Only argument parsing and output live here; every operation is a `keyward_core::ops` call.
//! Errors print `error[code]: message` and `hint: ...` on stderr (or `{"code","message","hint"}`
//! with `--json`) and exit with the code's class (`ErrorCode::exit_code`).
//!
//! ## Adding subcommands (store helper: `store_cmds.rs`)
//! `store_cmds.rs` owns `pub enum Cmd` (a `clap::Subcommand`, flattened into the top level, so
//! its variants become `keyward sync`, `keyward history`, ...) and
//! `pub async fn run(cmd: Cmd, app: &App) -> Result<i32>` (the exit code; 0 = success).
//! `main.rs` already wires both: edit only `store_cmds.rs`. Use `app.emit(&value, |v| ...)` for
//! human-or-JSON output, `table::Table` for tables, and `app.ctx` for the `AppCtx`.

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod app;
mod cmd_keys;
mod cmd_misc;
mod cmd_profile;
mod cmd_watch;
mod store_cmds;
mod table;

use std::io::Write as _;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use keyward_core::ctx::AppCtx;
use keyward_core::secret::keyring::KeyringStore;
use keyward_core::{Error, Result};

use app::App;
use table::errln;

#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about = "Manage the API keys of a Kinde business",
    long_about = "Manage the API keys of a Kinde business: list, create, rotate, revoke, verify, \
                  and diagnose keys and connections.\n\nConfig and data live in the platform \
                  dirs, or under $KEYWARD_HOME. Client secrets live in the OS keyring; \
                  KEYWARD_CLIENT_SECRET overrides it (and is never stored). \
                  KEYWARD_CA_CERT names a PEM file with one more trusted root certificate."
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Add, list, remove and test connection profiles.
    #[command(subcommand)]
    Profile(cmd_profile::ProfileCmd),
    /// List, show, create, rotate, revoke and verify API keys.
    #[command(subcommand)]
    Keys(cmd_keys::KeysCmd),
    /// The APIs registered in Kinde, with their scopes.
    Apis(cmd_misc::DirArgs),
    /// Organizations (owners of organization keys).
    Orgs(cmd_misc::DirArgs),
    /// Users (owners of user keys).
    Users(cmd_misc::DirArgs),
    /// Diagnose a key that does not work, or the connection to Kinde.
    #[command(subcommand)]
    Doctor(cmd_misc::DoctorCmd),
    /// Local store commands (sync, history, insights, audit, ...): see store_cmds.rs.
    #[command(flatten)]
    Store(store_cmds::Cmd),
    /// Alerts, policies, canaries and leak scans: see cmd_watch.rs.
    #[command(flatten)]
    Watch(cmd_watch::Cmd),
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => usage_error(e),
    };
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => exit_with(
            &Error::internal(format!("cannot start the runtime: {e}")),
            json,
        ),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => std::process::exit(code),
        Err(e) => exit_with(&e, json),
    }
}

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
        Command::Profile(c) => cmd_profile::run(c, &app).await,
        Command::Keys(c) => cmd_keys::run(c, &app).await,
        Command::Apis(a) => cmd_misc::apis(a, &app).await,
        Command::Orgs(a) => cmd_misc::orgs(a, &app).await,
        Command::Users(a) => cmd_misc::users(a, &app).await,
        Command::Doctor(c) => cmd_misc::doctor(c, &app).await,
        Command::Store(c) => store_cmds::run(c, &app).await,
        Command::Watch(c) => cmd_watch::run(c, &app).await,
    }
}

/// Bad arguments: an `invalid_input` error with clap's message, and a hint made of clap's tip
/// and the usage line, in human form (`error[invalid_input]: ...`) or with `--json` as JSON;
/// exit 2. Help and version requests print as clap prints them.
fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit()
    }
    let wants_json = std::env::args().any(|a| a == "--json");
    let (message, hint) = usage_parts(&e.to_string(), &usage_of_subcommand());
    exit_with(
        &Error::new(keyward_core::ErrorCode::InvalidInput, message, hint),
        wants_json,
    )
}

/// The usage line of the deepest subcommand named on the command line (`keyward export keys
/// [OPTIONS] --format <FORMAT> --out <OUT> <WHAT>`), without the `Usage:` label.
fn usage_of_subcommand() -> String {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    cmd.build();
    let mut cur = &cmd;
    for a in std::env::args().skip(1) {
        if a.starts_with('-') {
            continue;
        }
        match cur.find_subcommand(&a) {
            Some(sub) => cur = sub,
            None => break,
        }
    }
    let usage = cur.clone().render_usage().to_string();
    usage
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .trim_start_matches("Usage:")
        .trim()
        .to_string()
}

/// Splits clap's plain-text error into the message (its first paragraph) and a hint: clap's
/// `tip:` lines, the usage line (clap's, or else the named subcommand's), and where the full
/// help is.
fn usage_parts(text: &str, fallback_usage: &str) -> (String, String) {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let message = lines
        .iter()
        .take_while(|l| {
            !l.starts_with("tip:")
                && !l.starts_with("Usage:")
                && !l.starts_with("For more information")
        })
        .filter(|l| !l.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_string();
    let tips: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("tip:"))
        .map(str::trim)
        .collect();
    let usage = lines
        .iter()
        .find_map(|l| l.strip_prefix("Usage:"))
        .map(str::trim)
        .or(Some(fallback_usage).filter(|u| !u.is_empty()));
    // `keyward export keys [OPTIONS] --out <PATH>` → `keyward export keys --help`.
    let command = usage
        .map(|u| {
            u.split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "keyward".into());
    let mut hint = String::new();
    for tip in tips {
        hint.push_str(&capitalize(tip));
        if !tip.ends_with('.') {
            hint.push('.');
        }
        hint.push(' ');
    }
    if let Some(u) = usage {
        hint.push_str(&format!("Usage: {u}. "));
    }
    hint.push_str(&format!("Run `{command} --help` for every option."));
    (message, hint)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Prints the error (human or JSON) on stderr and exits with its class's code.
fn exit_with(e: &Error, json: bool) -> ! {
    if json {
        // JSON stays exact (serde escapes control characters itself).
        let body = serde_json::json!({ "code": e.code, "message": e.message, "hint": e.hint });
        let _ = writeln!(std::io::stderr().lock(), "{body}");
    } else {
        errln!("error[{}]: {}", e.code, e.message);
        if !e.hint.is_empty() {
            errln!("hint: {}", e.hint);
        }
    }
    std::process::exit(e.code.exit_code())
}
