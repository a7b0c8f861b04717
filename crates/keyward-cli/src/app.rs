//! What every command gets: the core context and the output mode, and the helpers for Ctrl-C,
//! standard input and confirmation. Commands only adapt arguments and output; the operations
//! are `keyward_core`'s.

use std::io::{IsTerminal, Read};

use keyward_core::ctx::AppCtx;
use keyward_core::{Error, ErrorCode, Result};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::output::{self, errln};

pub struct App {
    pub ctx: AppCtx,
    /// `--json`: machine output on stdout, errors as JSON on stderr.
    pub json: bool,
}

impl App {
    /// Prints `value` as pretty JSON with `--json`, else runs `human`.
    pub fn emit<T: Serialize + ?Sized>(&self, value: &T, human: impl FnOnce(&T)) -> Result<()> {
        output::emit(self.json, value, human)
    }

    /// A one-line note for humans on stderr (suppressed with `--json`).
    pub fn note(&self, msg: impl AsRef<str>) {
        if !self.json {
            errln!("{}", msg.as_ref());
        }
    }
}

/// A token that Ctrl-C cancels, and the task that waits for Ctrl-C: abort it once the work
/// that watches the token is over.
pub fn cancel_on_ctrl_c() -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let on_ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            token.cancel();
        }
    });
    (cancel, on_ctrl_c)
}

/// Reads a secret from standard input: everything piped, or one line typed on a terminal.
/// Exactly one trailing newline (what `echo` adds) is removed; nothing else is touched.
pub fn read_stdin_secret(what: &str) -> Result<String> {
    let stdin = std::io::stdin();
    let mut text = String::new();
    if stdin.is_terminal() {
        // Typed or pasted on a terminal: no echo, so the secret stays off the screen.
        text =
            rpassword::prompt_password(format!("Paste the {what} (not shown), then press Enter: "))
                .map_err(|e| Error::io("reading from the terminal", &e))?;
    } else {
        stdin
            .lock()
            .take(64 * 1024)
            .read_to_string(&mut text)
            .map_err(|e| {
                Error::new(
                    ErrorCode::InvalidInput,
                    format!("could not read the {what} from standard input: {e}"),
                    "Pipe the value as UTF-8 text, e.g. `printf %s \"$VALUE\" | keyward ...`.",
                )
            })?;
    }
    if let Some(t) = text.strip_suffix('\n') {
        text = t.strip_suffix('\r').unwrap_or(t).to_string();
    }
    if text.trim().is_empty() {
        return Err(Error::invalid_input(
            what,
            "nothing was read from standard input",
            format!(
                "Pipe the {what} in, e.g. `printf %s \"$VALUE\" | keyward ...`. It is never taken from the command line, where it would land in shell history."
            ),
        ));
    }
    Ok(text)
}

/// Asks before a dangerous action. `--yes` skips the question; without a terminal and without
/// `--yes` the action is refused (scripts must say what they mean).
pub fn confirm(question: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::invalid_input(
            "confirmation",
            "this action needs confirmation and there is no terminal to ask on",
            "Add --yes to confirm it in a script.",
        ));
    }
    output::err_prompt(&format!("{question} Type 'yes' to continue: "));
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Error::io("reading the confirmation", &e))?;
    if answer.trim().eq_ignore_ascii_case("yes") {
        Ok(())
    } else {
        Err(Error::cancelled())
    }
}
