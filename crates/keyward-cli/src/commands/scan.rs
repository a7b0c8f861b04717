//! `keyward scan PATH...`: find Kinde key secrets in files, match them to known keys, and
//! optionally rotate or re-issue each uniquely matched active key (leak remediation).

use std::path::PathBuf;

use clap::Subcommand;
use keyward_core::Result;
use keyward_core::leaks::scan::{ScanOptions, SecretHit};
use keyward_core::model::key::KeyStatus;
use keyward_core::model::leak::{LeakAction, ScanReport};

use super::keys::print_new_key;
use crate::app::{App, confirm};
use crate::args::YesArg;
use crate::output::{self, Table, ago, opt, outln};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find Kinde key secrets in files and folders (respects .gitignore) and match them to
    /// known keys. Found secrets are shown masked and never verified.
    Scan {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Rotate each uniquely matched active key (asks first; --yes in scripts).
        #[arg(long, conflicts_with = "reissue")]
        rotate: bool,
        /// Re-issue each uniquely matched active key instead (the old one keeps working).
        #[arg(long)]
        reissue: bool,
        #[command(flatten)]
        yes: YesArg,
        /// Skip files bigger than this many MiB.
        #[arg(long, default_value_t = 16)]
        max_size_mb: u64,
    },
}

pub async fn run(cmd: Command, app: &App) -> Result<i32> {
    match cmd {
        Command::Scan {
            paths,
            rotate,
            reissue,
            yes: YesArg { yes },
            max_size_mb,
        } => {
            let action = match (rotate, reissue) {
                (true, _) => Some(LeakAction::Rotate),
                (_, true) => Some(LeakAction::Reissue),
                _ => None,
            };
            scan(app, paths, action, yes, max_size_mb).await
        }
    }
}

async fn scan(
    app: &App,
    paths: Vec<PathBuf>,
    action: Option<LeakAction>,
    yes: bool,
    max_size_mb: u64,
) -> Result<i32> {
    let opts = ScanOptions {
        max_file_bytes: max_size_mb.clamp(1, 4096) * 1024 * 1024,
        ..ScanOptions::default()
    };
    let report = keyward_core::api::scan(&app.ctx, paths, opts).await?;
    let Some(action) = action else {
        app.emit(&report, print_scan)?;
        return Ok(if report.findings.is_empty() { 0 } else { 1 });
    };
    if !app.json {
        print_scan(&report);
    }
    // One action per uniquely matched, active key, with every place it was found.
    let mut by_key: Vec<(String, Vec<SecretHit>)> = Vec::new();
    for f in report.findings.iter().filter(|f| f.unique) {
        let m = &f.matches[0];
        if m.status != KeyStatus::Active || m.gone {
            continue;
        }
        match by_key.iter_mut().find(|(k, _)| *k == m.key_id) {
            Some((_, hits)) => hits.push(f.hit.clone()),
            None => by_key.push((m.key_id.clone(), vec![f.hit.clone()])),
        }
    }
    let verb = match action {
        LeakAction::Rotate => "Rotate",
        LeakAction::Reissue => "Re-issue",
    };
    let mut done = Vec::new();
    for (key_id, hits) in &by_key {
        confirm(
            &format!(
                "{verb} {key_id}? Its secret was found in {} place(s){}.",
                hits.len(),
                if action == LeakAction::Rotate {
                    "; the current secret stops working at once"
                } else {
                    ""
                }
            ),
            yes,
        )?;
        let r = keyward_core::api::leak_remediate(&app.ctx, key_id.clone(), action, hits.clone())
            .await?;
        if !app.json {
            print_new_key(app, &r.new_key, verb)?;
        }
        done.push(r);
    }
    if app.json {
        output::print_json(&serde_json::json!({ "report": report, "remediated": done }))?;
    }
    Ok(0)
}

fn print_scan(r: &ScanReport) {
    let mut t = Table::new(&[
        "FILE",
        "LINE",
        "SECRET",
        "KEY",
        "NAME",
        "OWNER",
        "SCOPES",
        "STATUS",
        "LAST VERIFIED",
        "UNIQUE",
    ]);
    for f in &r.findings {
        let m = f.matches.first();
        t.row(vec![
            f.hit.path.clone(),
            f.hit.line.to_string(),
            f.hit.masked.clone(),
            opt(m.map(|m| m.key_id.as_str())),
            opt(m.map(|m| m.name.as_str())),
            opt(m.and_then(|m| m.owner_name.as_deref().or(m.org_code.as_deref()))),
            m.map_or("-".into(), |m| m.scopes.join(" ")),
            opt(m.map(|m| m.status.as_str())),
            ago(m.and_then(|m| m.last_verified_on)),
            match f.matches.len() {
                0 => "no known key".into(),
                1 => "yes".into(),
                n => format!("no ({n} keys)"),
            },
        ]);
    }
    t.print();
    let mb = r.stats.bytes as f64 / 1_048_576.0;
    outln!(
        "{} secrets found ({} match a known key) in {} files, {mb:.1} MiB, {} ms. Found \
         secrets were not verified.",
        r.findings.len(),
        r.matched,
        r.stats.files,
        r.stats.duration_ms
    );
}
