//! What the local store remembers, read back: `keyward history` (a key's verifications over
//! time), `insights` (totals, busiest, stale and rotation-due keys), `audit` (the log of
//! changes made through Keyward) and `export` (any of them to a file).

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use keyward_core::export::{ExportFormat, ExportWhat};
use keyward_core::insights::{GroupTotal, Insights, KeyInsight};
use keyward_core::model::audit::{AuditAction, AuditFilter, AuditOutcome};
use keyward_core::model::history::Bucket;
use keyward_core::{Result, api, history, insights};

use crate::app::App;
use crate::args::{Ages, parse_time};
use crate::output::{Table, ago, date, opt, outln};

#[derive(Debug, Subcommand)]
pub enum Command {
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
        /// Only this action (create, rotate, revoke, reissue, reconcile, handover_close,
        /// outside_keyward, leak).
        #[arg(long)]
        action: Option<String>,
        /// Only rows about this key.
        #[arg(long = "key")]
        key_id: Option<String>,
        /// Only failed and ambiguous rows.
        #[arg(long)]
        failed: bool,
        /// How many rows at most (1 or more).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
        /// On a team profile: the last audit log the Keyward Server gave on this machine, with
        /// how old it is, without asking it.
        #[arg(long)]
        offline: bool,
    },
    /// Export keys, history or the audit log to a file.
    Export {
        #[arg(value_enum)]
        what: WhatArg,
        #[arg(long, value_enum)]
        format: FormatArg,
        /// The file to write (replaced atomically), or `-` for standard output.
        #[arg(long)]
        out: PathBuf,
    },
}

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

pub async fn run(cmd: Command, app: &App) -> Result<i32> {
    match cmd {
        Command::History {
            key_id,
            bucket,
            since,
        } => history(app, &key_id, bucket, since.as_deref()).await,
        Command::Insights {
            stale_days,
            rotation_days,
            top,
        } => {
            if app.ctx.is_team().await? {
                let ins = api::insights(&app.ctx, 30).await?;
                app.emit(&ins, print_insights)?;
                return Ok(0);
            }
            let mut opts = insights::options(&app.ctx).await?;
            opts.stale_days = stale_days.unwrap_or(opts.stale_days);
            opts.rotation_days = rotation_days.unwrap_or(opts.rotation_days);
            opts.top = top;
            let ins = insights::summary(&app.ctx, opts).await?;
            app.emit(&ins, print_insights)?;
            Ok(0)
        }
        Command::Audit {
            action,
            key_id,
            failed,
            limit,
            offline,
        } => audit(app, action, key_id, failed, limit, offline).await,
        Command::Export { what, format, out } => {
            let what = match what {
                WhatArg::Keys => ExportWhat::Keys,
                WhatArg::History => ExportWhat::History,
                WhatArg::Audit => ExportWhat::Audit,
            };
            let format = match format {
                FormatArg::Csv => ExportFormat::Csv,
                FormatArg::Json => ExportFormat::Json,
            };
            if out.as_os_str() == "-" {
                return export_to_stdout(app, what, format).await;
            }
            let s = api::export(&app.ctx, what, format, &out).await?;
            app.emit(&s, |s| outln!("Wrote {} rows to {}", s.rows, s.path))?;
            Ok(0)
        }
    }
}

/// `export --out -`: the file's bytes on standard output (and nothing else there), the count
/// on stderr. The export is written as usual into a private temporary folder, then copied out
/// and removed; the write to stdout is checked to the end.
async fn export_to_stdout(app: &App, what: ExportWhat, format: ExportFormat) -> Result<i32> {
    use std::os::unix::fs::DirBuilderExt;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("keyward-export-{}-{nanos}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| keyward_core::Error::io("making a temporary folder for the export", &e))?;
    let file = dir.join("export");
    let r = async {
        let s = api::export(&app.ctx, what, format, &file).await?;
        let bytes = std::fs::read(&file)
            .map_err(|e| keyward_core::Error::io("reading the export back", &e))?;
        Ok::<_, keyward_core::Error>((s, bytes))
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let (s, bytes) = r?;
    crate::output::out_checked(&String::from_utf8_lossy(&bytes))
        .map_err(|e| keyward_core::Error::io("writing the export to standard output", &e))?;
    app.note(format!("Wrote {} rows to standard output", s.rows));
    Ok(0)
}

async fn history(app: &App, id: &str, bucket: BucketArg, since: Option<&str>) -> Result<i32> {
    let since = since
        .map(|s| parse_time("since", s, Ages::Allowed))
        .transpose()?;
    let bucket = match bucket {
        BucketArg::Hour => Bucket::Hour,
        BucketArg::Day => Bucket::Day,
    };
    let h = if app.ctx.is_team().await? {
        let days = since.map_or(30, |t| {
            u32::try_from((chrono::Utc::now() - t).num_days().max(1)).unwrap_or(u32::MAX)
        });
        api::key_history(&app.ctx, id.to_string(), bucket, days).await?
    } else {
        history::key_history(&app.ctx, id, bucket, since).await?
    };
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
    offline: bool,
) -> Result<i32> {
    let action = action.as_deref().map(AuditAction::parse).transpose()?;
    let filter = AuditFilter {
        action,
        key_id,
        limit: if failed { None } else { Some(limit) },
        ..Default::default()
    };
    let mut rows = if offline && app.ctx.is_team().await? {
        let mut rows: Vec<keyward_core::model::audit::AuditEntry> =
            super::team::kept(app, "audit_list").await?;
        rows.retain(|r| {
            filter.action.is_none_or(|a| r.action == a)
                && filter
                    .key_id
                    .as_ref()
                    .is_none_or(|k| r.key_id.as_ref() == Some(k))
        });
        rows
    } else {
        api::audit_list(&app.ctx, filter).await?
    };
    if failed {
        rows.retain(|r| r.outcome != AuditOutcome::Ok);
        rows.truncate(limit as usize);
    }
    app.emit(&rows, |rows| {
        let mut t = Table::new(&["AT", "BY", "ACTION", "OUTCOME", "KEY", "NAME", "ERROR"]);
        for r in rows {
            t.row(vec![
                r.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                opt(r.actor.as_deref()),
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
