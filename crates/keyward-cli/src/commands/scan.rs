//! `keyward scan PATH...`: find Kinde key secrets in files, match them to known keys, and
//! optionally rotate or re-issue a matched active key once a person confirms it (leak
//! remediation). Exit 1: secrets found; 13: no file was read.

use std::path::PathBuf;

use std::io::IsTerminal;

use clap::Subcommand;
use keyward_core::leaks::scan::{ScanOptions, SecretHit};
use keyward_core::model::key::KeyStatus;
use keyward_core::model::leak::{LeakAction, MatchCertainty, ScanMatch, ScanReport};
use keyward_core::{Error, ErrorCode, Result};

use super::keys::{deliver, print_new_key};
use crate::app::{App, confirm};
use crate::args::YesArg;
use crate::output::{self, Table, ago, errln, opt, outln};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find Kinde key secrets in files and folders (respects .gitignore) and match them to
    /// known keys. Found secrets are shown masked and never verified.
    Scan {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Rotate each active key that a found string may belong to. A match rests on the
        /// last 4 characters of a secret (all Kinde keeps), so each one is asked on a terminal,
        /// naming that doubt; --yes does not skip it, and without a terminal nothing is done.
        #[arg(long, conflicts_with = "reissue")]
        rotate: bool,
        /// Re-issue each such key instead (the old one keeps working), asked the same way.
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

/// Exit code of a scan that read no file at all (everything given was skipped): not clean.
pub const READ_NOTHING: i32 = 13;

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
    let read_nothing = report.stats.files == 0;
    let Some(action) = action else {
        app.emit(&report, print_scan)?;
        return Ok(if read_nothing {
            READ_NOTHING
        } else if report.findings.is_empty() {
            0
        } else {
            1
        });
    };
    if !app.json {
        print_scan(&report);
    }
    // One candidate per active key that a found string may belong to, with every place. A
    // string matching several keys names none of them: it is left to a person.
    let mut by_key: Vec<(&ScanMatch, Vec<SecretHit>)> = Vec::new();
    for f in report
        .findings
        .iter()
        .filter(|f| f.certainty == MatchCertainty::Possible && f.matches.len() == 1)
    {
        let m = &f.matches[0];
        if m.status != KeyStatus::Active || m.gone {
            continue;
        }
        match by_key.iter_mut().find(|(k, _)| k.key_id == m.key_id) {
            Some((_, hits)) => hits.push(f.hit.clone()),
            None => by_key.push((m, vec![f.hit.clone()])),
        }
    }
    let verb = match action {
        LeakAction::Rotate => "Rotate",
        LeakAction::Reissue => "Re-issue",
    };
    // Every match rests on 4 characters (Kinde keeps no more of a secret), so a person must
    // confirm each one, having read the doubt; `--yes` cannot stand in for that. Without a
    // terminal nothing is done at all.
    if !by_key.is_empty() && !std::io::stdin().is_terminal() {
        let ids: Vec<&str> = by_key.iter().map(|(m, _)| m.key_id.as_str()).collect();
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "{} only possible: the string found matches by the last 4 characters of the \
                 secret, which any string can end with; nothing was {} without a person's \
                 confirmation{}",
                if ids.len() == 1 {
                    format!("the match to key {} is", ids[0])
                } else {
                    format!("the matches to keys {} are", ids.join(", "))
                },
                if action == LeakAction::Rotate {
                    "rotated"
                } else {
                    "re-issued"
                },
                if yes {
                    " (--yes does not confirm a possible match)"
                } else {
                    ""
                },
            ),
            format!(
                "Run the scan on a terminal and answer for each key, or check the file and \
                 rotate the key yourself: `keyward keys rotate {} --yes`.",
                ids[0]
            ),
        ));
    }
    let _ = yes;
    let mut done = Vec::new();
    for (m, hits) in &by_key {
        let places: Vec<String> = hits
            .iter()
            .map(|h| format!("{}:{}", h.path, h.line))
            .collect();
        confirm(
            &format!(
                "Key {} ({}) matched only by the last 4 characters of its secret (…{}): the \
                 string at {} may not be its secret at all, only a string that ends the same \
                 way. {verb} {} anyway{}?",
                m.key_id,
                m.name,
                hits[0].key_suffix,
                places.join(", "),
                m.key_id,
                if action == LeakAction::Rotate {
                    " (its current secret stops working at once)"
                } else {
                    ""
                }
            ),
            false,
        )?;
        let r = keyward_core::api::leak_remediate(&app.ctx, m.key_id.clone(), action, hits.clone())
            .await?;
        if !app.json {
            print_new_key(app, &r.new_key, verb)?;
        }
        done.push(r);
    }
    if app.json {
        let ids: Vec<&str> = done.iter().map(|r| r.new_key.id.as_str()).collect();
        let text = output::json_text(&serde_json::json!({ "report": report, "remediated": done }))?;
        if ids.is_empty() {
            output::out_checked(&text)
                .map_err(|e| keyward_core::Error::io("writing the report", &e))?;
        } else {
            deliver(&text, &ids)?;
        }
    }
    Ok(if read_nothing { READ_NOTHING } else { 0 })
}

fn print_scan(r: &ScanReport) {
    if !r.findings.is_empty() {
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
            "MATCH",
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
                match (f.hit.kinde_shaped, f.matches.len()) {
                    (false, _) => "none: not a Kinde secret's length".into(),
                    (true, 0) => "no known key".into(),
                    (true, 1) => "possible (last 4 characters)".into(),
                    (true, n) => format!("possible, {n} keys (last 4 characters)"),
                },
            ]);
        }
        t.print();
    }
    let mb = r.stats.bytes as f64 / 1_048_576.0;
    let skipped =
        r.stats.not_regular + r.stats.unreadable + r.stats.skipped_binary + r.stats.skipped_large;
    outln!(
        "{} secrets found ({} possibly a known key's) in {} files read, {mb:.1} MiB, {} ms; {} \
         skipped ({} not regular, {} unreadable, {} binary, {} too large). Found secrets were \
         not verified.",
        r.findings.len(),
        r.matched,
        r.stats.files,
        r.stats.duration_ms,
        skipped,
        r.stats.not_regular,
        r.stats.unreadable,
        r.stats.skipped_binary,
        r.stats.skipped_large,
    );
    const SHOWN: usize = 50;
    for s in r.skipped.iter().take(SHOWN) {
        outln!("skipped {}: {}", s.path, s.detail);
    }
    if skipped > SHOWN as u64 {
        outln!(
            "… and {} more skipped (`--json` lists up to 1000)",
            skipped - SHOWN as u64
        );
    }
    if r.stats.files == 0 {
        errln!(
            "warning: no file was read, so this is not a clean scan (exit {READ_NOTHING}). Give \
             folders or regular text files."
        );
    } else if r
        .findings
        .iter()
        .any(|f| f.certainty == MatchCertainty::Possible)
    {
        errln!(
            "note: a match is only possible: Kinde keeps the last 4 characters of a secret, \
             and any string can end with them."
        );
    }
}
