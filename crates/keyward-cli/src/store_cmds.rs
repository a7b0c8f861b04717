//! Local-store subcommands (issue 4): `sync`, `history`, `insights`, `audit`, `reissue`,
//! `migrations`, `export`.
//!
//! Contract with main.rs: `Cmd` is a `clap::Subcommand` flattened into the top level (each
//! variant is a top-level command: `keyward sync`, `keyward history`, ...), and
//! `run(cmd, app)` returns the process exit code (0 = success) or an `Error` that main prints.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use keyward_core::export::{ExportFormat, ExportWhat};
use keyward_core::insights::{GroupTotal, Insights, KeyInsight};
use keyward_core::model::audit::{AuditAction, AuditFilter, AuditOutcome};
use keyward_core::model::history::Bucket;
use keyward_core::model::sync::{SyncOptions, SyncPhase, SyncProgress, SyncSummary};
use keyward_core::{Error, ErrorCode, Result};

use crate::app::{App, cancel_on_ctrl_c};
use crate::table::{Table, ago, date, opt};
use crate::table::{errln, outln};
use keyward_core::{audit, export, history, insights, keys, sync};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BucketArg {
    Hour,
    Day,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WhatArg {
    Keys,
    History,
    Audit,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum SyncCmd {
    /// The recent sync runs, newest first. A run whose process died (killed, crashed) shows
    /// as `interrupted`; `running` means a sync is running now.
    Status {
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
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
    /// A key's verifications over time, from the local store (run `keyward sync` first).
    History {
        key_id: String,
        /// Bucket size of the chart.
        #[arg(long, value_enum, default_value = "day")]
        bucket: BucketArg,
        /// Start: a date (2026-01-31), a time (RFC 3339) or an age (7d, 48h).
        #[arg(long)]
        since: Option<String>,
    },
    /// Totals per org and API, busiest keys, stale keys and keys due for rotation.
    Insights {
        /// No verification in this many days makes a key stale (default: settings, 30).
        #[arg(long)]
        stale_days: Option<u32>,
        /// Older than this many days since creation or rotation (default: settings, 90).
        #[arg(long)]
        rotation_days: Option<u32>,
        /// How many busiest keys to show.
        #[arg(long, default_value_t = 10)]
        top: u32,
    },
    /// The audit log of creates, rotations, revocations and re-issues (newest first).
    Audit {
        /// Only this action (create, rotate, revoke, reissue, reconcile, migration_close).
        #[arg(long)]
        action: Option<String>,
        /// Only rows about this key.
        #[arg(long = "key")]
        key_id: Option<String>,
        /// Only failed and ambiguous rows.
        #[arg(long)]
        failed: bool,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Re-issue a key: a new key with the same API and owner, and the same or new scopes.
    /// The old key keeps working until you revoke it (`keyward migrations` says when).
    Reissue {
        key_id: String,
        /// Scopes of the new key (repeat); default: the old key's.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Open re-issues, and whether each old key is safe to revoke yet.
    Migrations {
        /// Quiet days before an old key is safe to revoke (default: settings, 7).
        #[arg(long)]
        quiet_days: Option<u32>,
    },
    /// Export keys, history or the audit log to a file.
    Export {
        #[arg(value_enum)]
        what: WhatArg,
        #[arg(long, value_enum)]
        format: FormatArg,
        #[arg(long)]
        out: PathBuf,
    },
}

pub async fn run(cmd: Cmd, app: &App) -> Result<i32> {
    match cmd {
        Cmd::Sync {
            what: Some(SyncCmd::Status { limit }),
            ..
        } => sync_status(app, limit).await,
        Cmd::Sync {
            what: None,
            full,
            concurrency,
            max_concurrency,
            wait,
        } => sync(app, full, concurrency, max_concurrency, wait).await,
        Cmd::History {
            key_id,
            bucket,
            since,
        } => history(app, &key_id, bucket, since.as_deref()).await,
        Cmd::Insights {
            stale_days,
            rotation_days,
            top,
        } => {
            let mut opts = insights::options(&app.ctx).await?;
            opts.stale_days = stale_days.unwrap_or(opts.stale_days);
            opts.rotation_days = rotation_days.unwrap_or(opts.rotation_days);
            opts.top = top;
            let ins = insights::summary(&app.ctx, opts).await?;
            app.emit(&ins, print_insights)?;
            Ok(0)
        }
        Cmd::Audit {
            action,
            key_id,
            failed,
            limit,
        } => audit(app, action, key_id, failed, limit).await,
        Cmd::Reissue { key_id, scopes } => reissue(app, &key_id, scopes).await,
        Cmd::Migrations { quiet_days } => migrations(app, quiet_days).await,
        Cmd::Export { what, format, out } => {
            let what = match what {
                WhatArg::Keys => ExportWhat::Keys,
                WhatArg::History => ExportWhat::History,
                WhatArg::Audit => ExportWhat::Audit,
            };
            let format = match format {
                FormatArg::Csv => ExportFormat::Csv,
                FormatArg::Json => ExportFormat::Json,
            };
            let s = export::to_file(&app.ctx, what, format, &out).await?;
            app.emit(&s, |s| outln!("Wrote {} rows to {}", s.rows, s.path))?;
            Ok(0)
        }
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
    let runs = sync::runs(&app.ctx, limit).await?;
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

/// `7d`, `48h`, `2026-01-31` or RFC 3339.
pub(crate) fn parse_since(s: &str) -> Result<DateTime<Utc>> {
    let s = s.trim();
    let bad = || {
        Error::invalid_input(
            "since",
            format!("{s:?} is not a date, a time or an age"),
            "Use a date (2026-01-31), an RFC 3339 time (2026-01-31T08:00:00Z) or an age \
             (7d, 48h).",
        )
    };
    if let Some(n) = s.strip_suffix('d') {
        let n: i64 = n.parse().map_err(|_| bad())?;
        return Ok(Utc::now() - chrono::Duration::days(n.clamp(0, 36_600)));
    }
    if let Some(n) = s.strip_suffix('h') {
        let n: i64 = n.parse().map_err(|_| bad())?;
        return Ok(Utc::now() - chrono::Duration::hours(n.clamp(0, 878_400)));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?;
    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).ok_or_else(bad)
}

async fn history(app: &App, id: &str, bucket: BucketArg, since: Option<&str>) -> Result<i32> {
    let since = since.map(parse_since).transpose()?;
    let bucket = match bucket {
        BucketArg::Hour => Bucket::Hour,
        BucketArg::Day => Bucket::Day,
    };
    let h = history::key_history(&app.ctx, id, bucket, since).await?;
    app.emit(&h, |h| {
        outln!(
            "{} ({}): {} verifications since {}",
            h.key_id,
            h.name.as_deref().unwrap_or("-"),
            h.total,
            date(Some(h.since))
        );
        let max = h.buckets.iter().map(|b| b.verifications).max().unwrap_or(0);
        let mut t = Table::new(&[
            if bucket == Bucket::Hour {
                "HOUR"
            } else {
                "DAY"
            },
            "COUNT",
            "",
        ]);
        for b in &h.buckets {
            let label = match bucket {
                Bucket::Hour => b.start.format("%Y-%m-%d %H:00").to_string(),
                Bucket::Day => b.start.format("%Y-%m-%d").to_string(),
            };
            let width = if max > 0 {
                ((b.verifications * 40 + max - 1) / max) as usize
            } else {
                0
            };
            t.row(vec![label, b.verifications.to_string(), "#".repeat(width)]);
        }
        t.print();
    })?;
    Ok(0)
}

fn print_groups(title: &str, groups: &[GroupTotal]) {
    outln!();
    outln!("{title}");
    let mut t = Table::new(&["NAME", "KEYS", "ACTIVE", "TOTAL", "RECENT"]);
    for g in groups {
        t.row(vec![
            g.name.clone(),
            g.keys.to_string(),
            g.active_keys.to_string(),
            g.verifications_total.to_string(),
            g.verifications_recent.to_string(),
        ]);
    }
    t.print();
}

fn print_keys(title: &str, keys: &[KeyInsight], days_label: &str) {
    outln!();
    outln!("{title} ({})", keys.len());
    if keys.is_empty() {
        return;
    }
    let mut t = Table::new(&[
        "ID",
        "NAME",
        "OWNER",
        "RECENT",
        "LAST USED",
        days_label,
        "WHY",
    ]);
    for k in keys.iter().take(50) {
        t.row(vec![
            k.id.clone(),
            k.name.clone(),
            opt(k.owner_name.as_deref()),
            k.verifications_recent.to_string(),
            ago(k.last_verified_on),
            k.days.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
            k.reason.clone(),
        ]);
    }
    t.print();
    if keys.len() > 50 {
        outln!("... and {} more (use --json for all)", keys.len() - 50);
    }
}

fn print_insights(i: &Insights) {
    outln!(
        "{} keys ({} active); last sync {}. Recent = last {} days.",
        i.keys,
        i.active_keys,
        ago(i.last_sync),
        i.options.recent_days
    );
    print_groups("By organization", &i.by_org);
    print_groups("By API", &i.by_api);
    print_keys("Busiest keys", &i.top_keys, "DAYS");
    print_keys(
        &format!("Stale (no verification in {} days)", i.options.stale_days),
        &i.stale,
        "DAYS QUIET",
    );
    print_keys(
        &format!("Due for rotation (over {} days)", i.options.rotation_days),
        &i.rotation_due,
        "AGE DAYS",
    );
}

async fn audit(
    app: &App,
    action: Option<String>,
    key_id: Option<String>,
    failed: bool,
    limit: u32,
) -> Result<i32> {
    let action = action.as_deref().map(AuditAction::parse).transpose()?;
    let mut rows = audit::list(
        &app.ctx,
        AuditFilter {
            action,
            key_id,
            limit: if failed { None } else { Some(limit) },
            ..Default::default()
        },
    )
    .await?;
    if failed {
        rows.retain(|r| r.outcome != AuditOutcome::Ok);
        rows.truncate(limit as usize);
    }
    app.emit(&rows, |rows| {
        let mut t = Table::new(&["AT", "ACTION", "OUTCOME", "KEY", "NAME", "ERROR"]);
        for r in rows {
            t.row(vec![
                r.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.action.as_str().to_string(),
                r.outcome.as_str().to_string(),
                opt(r.key_id.as_deref()),
                opt(r.key_name.as_deref()),
                match (&r.error_code, r.details.get("found")) {
                    (Some(c), _) => c.clone(),
                    (None, Some(f)) => format!("found: {}", f.as_str().unwrap_or("?")),
                    _ => "-".into(),
                },
            ]);
        }
        t.print();
    })?;
    Ok(0)
}

/// `keyward reissue` (and `keyward keys reissue` where cmd_keys wires it).
pub async fn reissue(app: &App, id: &str, scopes: Vec<String>) -> Result<i32> {
    let scopes = (!scopes.is_empty()).then_some(scopes);
    let r = keys::reissue(&app.ctx, id, scopes).await?;
    if app.json {
        crate::app::print_json(&r)?;
        return Ok(0);
    }
    let k = &r.new_key;
    errln!(
        "Re-issued {} as {}. Secret {}…{}:",
        r.old_id,
        k.id,
        k.key_prefix,
        k.key_suffix
    );
    outln!("{}", k.key.expose());
    errln!("warning: {}", k.warning);
    errln!(
        "The old key keeps working. Move its clients to the new key, then check \
         `keyward migrations` before revoking {}.",
        r.old_id
    );
    Ok(0)
}

async fn migrations(app: &App, quiet_days: Option<u32>) -> Result<i32> {
    let list = match quiet_days {
        Some(q) => keys::handover::list_with(&app.ctx, q).await?,
        None => keys::handover::list(&app.ctx).await?,
    };
    app.emit(&list, |list| {
        if list.is_empty() {
            outln!("No open re-issues.");
            return;
        }
        if list.iter().any(|m| m.from_cache) {
            errln!("note: Kinde could not be reached; figures come from the local store.");
        }
        let mut t = Table::new(&[
            "OLD",
            "NEW",
            "OPENED",
            "OLD USES SINCE",
            "OLD LAST USED",
            "SAFE",
        ]);
        for m in list {
            t.row(vec![
                m.old_id.clone(),
                m.new_id.clone(),
                date(Some(m.opened_at)),
                m.old_verifications_since.to_string(),
                ago(m.old_last_verified_on),
                if m.safe_to_revoke { "yes" } else { "no" }.into(),
            ]);
        }
        t.print();
        for m in list {
            outln!("{}: {}", m.old_id, m.advice);
        }
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_dates_times_and_ages() {
        assert!(parse_since("7d").unwrap() < Utc::now());
        assert!(parse_since("48h").is_ok());
        assert_eq!(
            parse_since("2026-01-31").unwrap().to_rfc3339(),
            "2026-01-31T00:00:00+00:00"
        );
        assert!(parse_since("2026-01-31T08:00:00Z").is_ok());
        assert!(parse_since("yesterday").is_err());
        assert!(parse_since("xd").is_err());
    }
}
