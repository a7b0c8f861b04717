//! `keyward apis|orgs|users [list] [--search]` and `keyward doctor key|connection`.

use clap::{Args, Subcommand};
use keyward_core::Result;
use keyward_core::model::doctor::{DoctorKeyInput, DoctorReport, StepStatus};
use keyward_core::secret::Secret;

use crate::app::{App, read_stdin_secret};
use crate::table::{Table, opt};
use crate::table::{errln, outln};
use keyward_core::{directory, doctor};

#[derive(Debug, Args)]
pub struct DirArgs {
    #[command(subcommand)]
    cmd: Option<DirCmd>,
    /// Case-insensitive search (orgs: code and name; users: id, email and names).
    #[arg(long, value_name = "TEXT")]
    search: Option<String>,
}

#[derive(Debug, Subcommand)]
enum DirCmd {
    /// List them (the default).
    List {
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
    },
}

impl DirArgs {
    fn search(self) -> Option<String> {
        let inner = match self.cmd {
            Some(DirCmd::List { search }) => search,
            None => None,
        };
        inner.or(self.search).filter(|s| !s.trim().is_empty())
    }
}

pub async fn apis(args: DirArgs, app: &App) -> Result<i32> {
    let search = args.search().map(|s| s.to_lowercase());
    let mut list = directory::apis(&app.ctx).await?;
    if let Some(s) = &search {
        list.retain(|a| {
            a.name.to_lowercase().contains(s)
                || a.id.to_lowercase().contains(s)
                || a.audience.to_lowercase().contains(s)
        });
    }
    app.emit(&list, |list| {
        let mut t = Table::new(&["ID", "NAME", "AUDIENCE", "SCOPES"]);
        for a in list {
            let scopes: Vec<String> = a
                .scopes
                .iter()
                .map(|s| format!("{} ({})", s.key, s.id))
                .collect();
            t.row(vec![
                a.id.clone(),
                a.name.clone(),
                a.audience.clone(),
                scopes.join(", "),
            ]);
        }
        t.print();
    })?;
    Ok(0)
}

pub async fn orgs(args: DirArgs, app: &App) -> Result<i32> {
    let list = directory::orgs(&app.ctx, args.search().as_deref()).await?;
    app.emit(&list, |list| {
        let mut t = Table::new(&["CODE", "NAME"]);
        for o in list {
            t.row(vec![o.code.clone(), o.name.clone()]);
        }
        t.print();
    })?;
    Ok(0)
}

pub async fn users(args: DirArgs, app: &App) -> Result<i32> {
    let list = directory::users(&app.ctx, args.search().as_deref()).await?;
    app.emit(&list, |list| {
        let mut t = Table::new(&["ID", "NAME", "EMAIL"]);
        for u in list {
            t.row(vec![
                u.id.clone(),
                u.display_name(),
                opt(u.email.as_deref()),
            ]);
        }
        t.print();
    })?;
    Ok(0)
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

pub async fn doctor(cmd: DoctorCmd, app: &App) -> Result<i32> {
    let report = match cmd {
        DoctorCmd::Key { require_scope, org } => {
            let input = DoctorKeyInput {
                key: Secret::new(read_stdin_secret("API key")?),
                require_scope,
                org_code: org,
            };
            doctor::key(&app.ctx, &input).await?
        }
        DoctorCmd::Connection => doctor::connection(&app.ctx).await?,
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
