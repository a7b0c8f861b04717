//! `keyward sync` (pull the keys from Kinde into the local store) and `keyward sync status`
//! (the recent runs).

use std::time::Duration;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use keyward_core::model::sync::{SyncOptions, SyncPhase, SyncProgress, SyncSummary};
use keyward_core::{ErrorCode, Result, sync};

use crate::app::{App, cancel_on_ctrl_c};
use crate::output::{Table, errln, outln};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pull the keys from Kinde into the local store (details only for keys that changed).
    /// One sync per profile runs at a time: another one (the app, another `keyward`) makes
    /// this fail with `sync_in_progress`, unless --wait. `keyward sync status` lists the runs.
    #[command(args_conflicts_with_subcommands = true)]
    Sync {
        #[command(subcommand)]
        what: Option<SyncCmd>,
        /// Fetch every key's details, not only the changed ones.
        #[arg(long)]
        full: bool,
        /// Pin the detail requests in flight at once (default: adaptive, up to
        /// --max-concurrency; the settings' sync_concurrency pins it too).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
        concurrency: Option<u32>,
        /// The cap of the adaptive detail concurrency (default: the settings'
        /// sync_max_concurrency, 64).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
        max_concurrency: Option<u32>,
        /// When another sync of the profile is running, wait for it to end, then sync.
        #[arg(long)]
        wait: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SyncCmd {
    /// The recent sync runs, newest first. A run whose process died (killed, crashed) shows
    /// as `interrupted`; `running` means a sync is running now.
    Status {
        /// How many runs (1 or more).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
    },
}

pub async fn run(cmd: Command, app: &App) -> Result<i32> {
    match cmd {
        Command::Sync {
            what: Some(SyncCmd::Status { limit }),
            ..
        } => sync_status(app, limit).await,
        Command::Sync {
            what: None,
            full,
            concurrency,
            max_concurrency,
            wait,
        } => sync(app, full, concurrency, max_concurrency, wait).await,
    }
}

async fn sync(
    app: &App,
    full: bool,
    concurrency: Option<u32>,
    max_concurrency: Option<u32>,
    wait: bool,
) -> Result<i32> {
    let bar = if app.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} details")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let (cancel, on_ctrl_c) = cancel_on_ctrl_c();
    let b = bar.clone();
    let progress = move |p: SyncProgress| {
        b.set_length(p.details_total);
        b.set_position(p.details_done);
        match p.phase {
            SyncPhase::Listing => {
                b.set_message(format!("listing: page {}, {} keys", p.pages, p.keys_seen))
            }
            _ => b.set_message(format!(
                "{} keys listed; details ({} in flight)",
                p.keys_seen, p.concurrency
            )),
        }
    };
    let defaults = SyncOptions::default();
    let opts = SyncOptions {
        full,
        concurrency,
        max_concurrency: max_concurrency.unwrap_or(defaults.max_concurrency),
        ..defaults
    };
    if app.ctx.is_team().await? {
        // The team's server syncs on its schedule; this asks it for one now and shows its
        // progress as the server streams it.
        let result = keyward_core::api::team_sync(&app.ctx, &progress).await;
        on_ctrl_c.abort();
        bar.finish_and_clear();
        let s = result?.ok_or_else(|| keyward_core::Error::internal("not a team profile"))?;
        app.emit(&s, print_sync)?;
        return Ok(if s.status == "ok" { 0 } else { 1 });
    }
    let mut result = sync::run(&app.ctx, opts, &progress, cancel.clone()).await;
    if wait && matches!(&result, Err(e) if e.code == ErrorCode::SyncInProgress) {
        app.note("Another sync of this profile is running; waiting for it to end (Ctrl-C stops waiting).");
        bar.set_message("waiting for the other sync");
        result = sync::run_wait(&app.ctx, opts, &progress, cancel).await;
    }
    on_ctrl_c.abort();
    bar.finish_and_clear();
    let s = result?;
    app.emit(&s, print_sync)?;
    Ok(if s.status == "ok" { 0 } else { 1 })
}

fn print_sync(s: &SyncSummary) {
    outln!(
        "Synced {} keys ({} new, {} changed, {} gone) in {:.1} s ({} sync).",
        s.keys,
        s.new,
        s.changed,
        s.gone,
        s.duration_ms as f64 / 1000.0,
        s.mode
    );
    let r = &s.requests;
    outln!(
        "Requests: {} list, {} detail, {} token, {} other ({} retries).",
        r.list,
        r.detail,
        r.token,
        r.other,
        r.retries
    );
    if s.reconciled > 0 {
        outln!(
            "Reconciled {} ambiguous change(s): see `keyward audit --action reconcile`.",
            s.reconciled
        );
    }
    if !s.errors.is_empty() {
        errln!(
            "{} problem(s); the next sync retries what is missing:",
            s.errors.len()
        );
        for e in s.errors.iter().take(10) {
            errln!("  {e}");
        }
    }
}

async fn sync_status(app: &App, limit: u32) -> Result<i32> {
    // On a team profile: the runs of the team's Keyward Server.
    let runs = keyward_core::api::sync_runs(&app.ctx, limit).await?;
    app.emit(&runs, |runs| {
        if runs.is_empty() {
            errln!("No sync yet. Run `keyward sync`.");
            return;
        }
        let mut t = Table::new(&[
            "RUN", "STARTED", "MODE", "STATUS", "SEEN", "NEW", "CHANGED", "GONE", "TIME", "ERRORS",
        ]);
        for r in runs {
            t.row(vec![
                r.id.to_string(),
                r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.mode.clone(),
                r.status.clone(),
                r.keys_seen.to_string(),
                r.keys_new.to_string(),
                r.keys_changed.to_string(),
                r.keys_gone.to_string(),
                r.duration_ms
                    .map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
                    .unwrap_or_else(|| "-".into()),
                r.errors.len().to_string(),
            ]);
        }
        t.print();
        if runs
            .iter()
            .any(|r| r.status == keyward_core::store::INTERRUPTED)
        {
            errln!(
                "interrupted: the process running that sync died before it finished; the next \
                 sync completes its work."
            );
        }
    })?;
    Ok(0)
}
