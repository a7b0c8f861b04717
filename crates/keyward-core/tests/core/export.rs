//! Exports of the local record: CSV that a spreadsheet opens safely.

use keyward_core::ErrorCode;
use keyward_core::export;
use keyward_core::export::{ExportFormat, ExportWhat};
use keyward_core::keys;
use kinde_sandbox::Config;

use crate::support::{ctx, one_retry, org_key, sandbox, sync};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn export_csv_is_spreadsheet_safe() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path()).with_client_options(one_retry());
    let nasty = "=HYPERLINK(\"http://x\",\"a, b\")";
    keys::create(&ctx, org_key(nasty, &["read:data"]))
        .await
        .unwrap();
    keys::create(&ctx, org_key("plain", &["read:data"]))
        .await
        .unwrap();
    sync(&ctx).await;

    let out = home.path().join("keys.csv");
    let s = export::to_file(&ctx, ExportWhat::Keys, ExportFormat::Csv, &out)
        .await
        .unwrap();
    assert_eq!(s.rows, 2);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("id,name,type,status,"));
    assert!(text.contains("\r\n"));
    let mut r = csv::Reader::from_path(&out).unwrap();
    let headers = r.headers().unwrap().clone();
    let name_col = headers.iter().position(|h| h == "name").unwrap();
    let created_col = headers.iter().position(|h| h == "created_on").unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    let names: Vec<&str> = rows.iter().map(|r| &r[name_col]).collect();
    assert!(names.contains(&format!("'{nasty}").as_str()), "{names:?}");
    for r in &rows {
        assert!(chrono::DateTime::parse_from_rfc3339(&r[created_col]).is_ok());
    }

    for what in [ExportWhat::History, ExportWhat::Audit] {
        let out = home.path().join("x.json");
        let s = export::to_file(&ctx, what, ExportFormat::Json, &out)
            .await
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(v.as_array().unwrap().len() as u32, s.rows);
        assert_eq!(s.rows, 2);
    }
    let e = export::to_file(&ctx, ExportWhat::Keys, ExportFormat::Csv, home.path())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
}

#[test]
fn csv_cells_that_look_like_formulas_are_quoted() {
    use keyward_core::export::csv_cell;
    for s in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx"] {
        assert_eq!(csv_cell(s), format!("'{s}"));
    }
    assert_eq!(csv_cell("plain, text"), "plain, text");
    assert_eq!(csv_cell(""), "");
}
