//! How `keyward` ends on an error: `error[code]: message` and `hint: ...` on stderr (or
//! `{"code","message","hint"}` with `--json`), and the exit code of the code's class
//! (`ErrorCode::exit_code`). Bad arguments become `invalid_input` errors with clap's message
//! and a hint made of clap's tip and the usage line.

use std::io::Write as _;

use keyward_core::{Error, ErrorCode};

use crate::output::errln;

/// Bad arguments: an `invalid_input` error with clap's message, and a hint made of clap's tip
/// and the usage line, in human form (`error[invalid_input]: ...`) or with `--json` as JSON;
/// exit 2. Help and version requests print as clap prints them. `cli` is the whole command
/// tree, to find the usage of the subcommand named on the command line.
pub fn usage_error(e: clap::Error, cli: clap::Command) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit()
    }
    // `args_os`: an argument that is not UTF-8 is clap's error to report, not a panic here.
    let wants_json = std::env::args_os().any(|a| a == "--json");
    let (mut message, mut hint) = usage_parts(&e.to_string(), &usage_of_subcommand(cli));
    if e.kind() == ErrorKind::InvalidUtf8 {
        message = "an argument is not valid UTF-8 text".into();
        hint = format!(
            "Give names, searches, profiles and file names as UTF-8 text (check the terminal's \
             or the script's encoding). {hint}"
        );
    }
    exit_with(
        &Error::new(ErrorCode::InvalidInput, message, hint),
        wants_json,
    )
}

/// Prints the error (human or JSON) on stderr and exits with its class's code.
pub fn exit_with(e: &Error, json: bool) -> ! {
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

/// The usage line of the deepest subcommand named on the command line (`keyward export keys
/// [OPTIONS] --format <FORMAT> --out <OUT> <WHAT>`), without the `Usage:` label.
fn usage_of_subcommand(mut cmd: clap::Command) -> String {
    cmd.build();
    let mut cur = &cmd;
    for a in std::env::args_os().skip(1) {
        let Some(a) = a.to_str() else {
            continue;
        };
        if a.starts_with('-') {
            continue;
        }
        match cur.find_subcommand(a) {
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
