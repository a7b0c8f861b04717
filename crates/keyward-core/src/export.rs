//! Export of keys, history and the audit log as CSV or JSON.
//!
//! CSV opens cleanly in a spreadsheet: a header row, RFC 4180 quoting and CRLF line ends,
//! ISO 8601 (RFC 3339, UTC) dates, and text cells that start with `=`, `+`, `-`, `@`, a tab or
//! a carriage return are prefixed with `'` so that no spreadsheet runs them as a formula.

use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::ctx::{AppCtx, blocking};
use crate::error::{Error, Result};
use crate::keys::rules::Windows;
use crate::model::audit::AuditFilter;
use crate::model::key::KeyFilter;
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ExportWhat {
    Keys,
    History,
    Audit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ExportFormat {
    Csv,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ExportSummary {
    pub what: ExportWhat,
    pub format: ExportFormat,
    pub path: String,
    pub rows: u32,
}

/// Makes a text cell safe for spreadsheets (see the module docs).
pub fn csv_cell(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

fn iso(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(T::to_string).unwrap_or_default()
}

/// A table: header and rows of cells (already strings); text cells get [`csv_cell`].
struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

/// An export as the text of its file (`export_text`: a team's server answers it, the member's
/// machine writes the file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ExportText {
    pub what: ExportWhat,
    pub format: ExportFormat,
    pub rows: u32,
    /// The file's content: CSV (CRLF line ends) or pretty JSON, as [`export_to`] writes it.
    pub text: String,
}

/// Writes `what` from `store` to `path` in `format`; returns how many rows were written.
pub fn export_to(
    store: &dyn Store,
    what: ExportWhat,
    format: ExportFormat,
    path: &Path,
    windows: Windows,
    now: DateTime<Utc>,
) -> Result<ExportSummary> {
    let (bytes, rows) = render(store, what, format, windows, now)?;
    crate::fsutil::write_atomic(path, &bytes, crate::fsutil::Mode::KeepOrPrivate)?;
    Ok(ExportSummary {
        what,
        format,
        path: path.display().to_string(),
        rows,
    })
}

/// `what` from `store` as the bytes of a file in `format`, and its number of rows.
pub fn render(
    store: &dyn Store,
    what: ExportWhat,
    format: ExportFormat,
    windows: Windows,
    now: DateTime<Utc>,
) -> Result<(Vec<u8>, u32)> {
    let (json, table) = match what {
        ExportWhat::Keys => {
            let mut keys = store.list_keys(&KeyFilter::default(), now)?;
            for v in &mut keys {
                crate::keys::rules::apply(v, windows, now);
            }
            let rows = keys
                .iter()
                .map(|k| {
                    let key = &k.key;
                    vec![
                        csv_cell(&key.id),
                        csv_cell(&key.name),
                        key.key_type.as_str().to_string(),
                        key.status.as_str().to_string(),
                        csv_cell(&opt(&k.owner_name)),
                        csv_cell(&opt(&key.org_code)),
                        csv_cell(&opt(&key.user_id)),
                        csv_cell(&opt(&k.api_name)),
                        csv_cell(&key.api_ids.join(" ")),
                        csv_cell(&key.scopes.join(" ")),
                        csv_cell(&key.key_prefix),
                        csv_cell(&opt(&key.key_suffix)),
                        iso(key.created_on),
                        iso(k.rotated_on),
                        iso(key.last_verified_on),
                        csv_cell(&opt(&key.last_verified_ip)),
                        opt(&key.verification_count),
                        k.spark_7d.iter().sum::<i64>().to_string(),
                        k.stale.to_string(),
                        k.rotation_due.to_string(),
                        k.gone.to_string(),
                    ]
                })
                .collect();
            let header = vec![
                "id",
                "name",
                "type",
                "status",
                "owner_name",
                "org_code",
                "user_id",
                "api_name",
                "api_ids",
                "scopes",
                "key_prefix",
                "key_suffix",
                "created_on",
                "rotated_on",
                "last_verified_on",
                "last_verified_ip",
                "verification_count",
                "verifications_7d",
                "stale",
                "rotation_due",
                "gone",
            ];
            (to_json(&keys)?, Table { header, rows })
        }
        ExportWhat::History => {
            let points = store.all_history()?;
            let rows = points
                .iter()
                .map(|(id, p)| {
                    vec![
                        csv_cell(id),
                        iso(Some(p.at)),
                        opt(&p.verification_count),
                        iso(p.last_verified_on),
                        csv_cell(&opt(&p.last_verified_ip)),
                        p.status.clone(),
                        p.delta.to_string(),
                    ]
                })
                .collect();
            let header = vec![
                "key_id",
                "at",
                "verification_count",
                "last_verified_on",
                "last_verified_ip",
                "status",
                "verifications",
            ];
            let json: Vec<serde_json::Value> = points
                .iter()
                .map(|(id, p)| {
                    let mut v = serde_json::to_value(p).unwrap_or_default();
                    v["key_id"] = serde_json::Value::String(id.clone());
                    v
                })
                .collect();
            (to_json(&json)?, Table { header, rows })
        }
        ExportWhat::Audit => {
            let rows_in = store.audit_list(&AuditFilter::default())?;
            let rows = rows_in
                .iter()
                .map(|a| {
                    vec![
                        a.id.to_string(),
                        iso(Some(a.at)),
                        csv_cell(&a.profile),
                        a.action.as_str().to_string(),
                        csv_cell(&opt(&a.key_id)),
                        csv_cell(&opt(&a.key_name)),
                        a.outcome.as_str().to_string(),
                        csv_cell(&opt(&a.error_code)),
                        csv_cell(&opt(&a.error_message)),
                        csv_cell(&a.details.to_string()),
                        csv_cell(&opt(&a.actor)),
                    ]
                })
                .collect();
            let header = vec![
                "id",
                "at",
                "profile",
                "action",
                "key_id",
                "key_name",
                "outcome",
                "error_code",
                "error_message",
                "details",
                "actor",
            ];
            (to_json(&rows_in)?, Table { header, rows })
        }
    };
    let rows = u32::try_from(table.rows.len()).unwrap_or(u32::MAX);
    let bytes = match format {
        ExportFormat::Json => json,
        ExportFormat::Csv => to_csv(&table)?,
    };
    Ok((bytes, rows))
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(v)
        .map_err(|e| Error::internal(format!("export as JSON: {e}")))?;
    out.push(b'\n');
    Ok(out)
}

fn to_csv(t: &Table) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    let err = |e: csv::Error| Error::internal(format!("export as CSV: {e}"));
    w.write_record(&t.header).map_err(err)?;
    for r in &t.rows {
        w.write_record(r).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| Error::internal(format!("export as CSV: {e}")))
}

/// Writes keys, history or the audit log of the profile to `path` as CSV or JSON.
pub async fn to_file(
    ctx: &AppCtx,
    what: ExportWhat,
    format: ExportFormat,
    path: &Path,
) -> Result<ExportSummary> {
    if path.as_os_str().is_empty() {
        return Err(Error::invalid_input(
            "out",
            "is empty",
            "Give a file to write, e.g. --out keys.csv.",
        ));
    }
    let windows = Windows::from(&ctx.settings().await?);
    let store = ctx.store().await?;
    let path = path.to_path_buf();
    blocking(move || export_to(&*store, what, format, &path, windows, Utc::now())).await
}

/// Keys, history or the audit log of the profile as the text of a CSV or JSON file.
pub async fn text(ctx: &AppCtx, what: ExportWhat, format: ExportFormat) -> Result<ExportText> {
    let windows = Windows::from(&ctx.settings().await?);
    let store = ctx.store().await?;
    let (bytes, rows) =
        blocking(move || render(&*store, what, format, windows, Utc::now())).await?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Error::internal(format!("the export is not UTF-8: {e}")))?;
    Ok(ExportText {
        what,
        format,
        rows,
        text,
    })
}
