//! `keyward doctor key|connection`: why a key or the connection to Kinde does not work.

use clap::Subcommand;
use keyward_core::Result;
use keyward_core::model::doctor::{DoctorKeyInput, DoctorReport, StepStatus};
use keyward_core::secret::Secret;

use crate::app::{App, read_stdin_secret};
use crate::output::{errln, outln};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose a key that does not work, or the connection to Kinde.
    #[command(subcommand)]
    Doctor(DoctorCmd),
}

#[derive(Debug, Subcommand)]
pub enum DoctorCmd {
    /// Diagnose a key read from standard input (verifying it counts as one verification).
    Key {
        /// A scope the key must have.
        #[arg(long, value_name = "S")]
        require_scope: Option<String>,
        /// The organization the key must belong to.
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
    },
    /// Check DNS, TLS, the token, its scopes and the clock for the selected profile.
    Connection,
}

pub async fn run(cmd: Command, app: &App) -> Result<i32> {
    let Command::Doctor(cmd) = cmd;
    let report = match cmd {
        DoctorCmd::Key { require_scope, org } => {
            let input = DoctorKeyInput {
                key: Secret::new(read_stdin_secret("API key")?),
                require_scope,
                org_code: org,
            };
            keyward_core::api::doctor_key(&app.ctx, input).await?
        }
        DoctorCmd::Connection => keyward_core::api::doctor_connection(&app.ctx).await?,
    };
    app.emit(&report, print_report)?;
    Ok(if report.healthy { 0 } else { 1 })
}

/// The ladder: one line per step with ✓ / ! / ✗ / -, then the verdict and the next action.
pub fn print_report(r: &DoctorReport) {
    for s in &r.steps {
        let mark = match s.status {
            StepStatus::Ok => "✓",
            StepStatus::Warn => "!",
            StepStatus::Fail => "✗",
            StepStatus::Skipped => "-",
        };
        outln!("{mark} {:<15} {}", s.name, s.detail);
    }
    outln!();
    outln!("verdict: {}", r.verdict);
    outln!("next:    {}", r.next_action);
    if r.counted_verification {
        errln!("note: verifying the key counted as one verification in Kinde.");
    }
}
