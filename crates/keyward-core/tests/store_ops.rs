//! Issue-4 operations over an AppCtx on a real sandbox, with the store on real files.

use std::time::Duration;

use keyward_core::ErrorCode;
use keyward_core::ctx::AppCtx;
use keyward_core::export;
use keyward_core::export::{ExportFormat, ExportWhat};
use keyward_core::insights;
use keyward_core::insights::InsightsOptions;
use keyward_core::kinde::ClientOptions;
use keyward_core::model::audit::{AuditAction, AuditFilter, AuditOutcome, NewAudit};
use keyward_core::model::history::Bucket;
use keyward_core::model::key::CreateKeyInput;
use keyward_core::model::key::KeyFilter;
use keyward_core::model::sync::SyncOptions;
use keyward_core::secret::Secret;
use keyward_core::{audit, history, keys, sync};
use kinde_sandbox::{Config, EMPTY_API_ID, EMPTY_ORG_CODE, Sandbox};
use tokio_util::sync::CancellationToken;

async fn sandbox(cfg: Config) -> Sandbox {
    kinde_sandbox::spawn("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .unwrap()
}

fn ctx_as(sb: &Sandbox, home: &std::path::Path, id: &str, secret: &str) -> AppCtx {
    let opts = ClientOptions {
        retry_base_delay: Duration::from_millis(10),
        max_jitter: Duration::from_millis(10),
        max_retries: 1,
        ..ClientOptions::default()
    };
    AppCtx::for_sandbox(
        &sb.base_url(),
        id,
        Secret::new(secret),
        Some(home.to_path_buf()),
    )
    .unwrap()
    .with_client_options(opts)
}

fn ctx(sb: &Sandbox, home: &std::path::Path) -> AppCtx {
    ctx_as(sb, home, sb.client_id(), sb.client_secret())
}

async fn sync(ctx: &AppCtx) -> keyward_core::model::sync::SyncSummary {
    sync::run(
        ctx,
        SyncOptions::default(),
        |_| {},
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

fn create_input(name: &str) -> CreateKeyInput {
    CreateKeyInput {
        name: name.into(),
        api_id: EMPTY_API_ID.into(),
        scopes: vec!["read:data".into()],
        org_code: Some(EMPTY_ORG_CODE.into()),
        user_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn history_insights_and_cached_listing() {
    let sb = sandbox(Config {
        extra_keys: 40,
        rng_seed: Some(3),
        ..Default::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path());

    // Offline before any sync: nothing to show, and it says so.
    let e = keys::list_cached(&ctx, &KeyFilter::default(), true)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Offline);

    let first = sync(&ctx).await;
    assert_eq!(first.keys, 40);
    let verified = sb.simulate_verifications(5);
    let listed = keys::list_cached(&ctx, &KeyFilter::default(), false)
        .await
        .unwrap();
    assert_eq!(listed.keys.len(), 40);
    assert!(!listed.from_cache_only && listed.synced_at.is_some());
    let busy = listed
        .keys
        .iter()
        .find(|k| k.key.id == verified[0])
        .unwrap();
    assert_eq!(busy.spark_7d.iter().sum::<i64>(), 1);

    let h = history::key_history(&ctx, &verified[0], Bucket::Hour, None)
        .await
        .unwrap();
    assert_eq!(h.buckets.len(), 48);
    assert_eq!(h.total, 1);
    assert_eq!(h.points.len(), 2, "baseline and one change");
    let e = history::key_history(&ctx, "api_key_nope", Bucket::Day, None)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);

    let ins = insights::summary(&ctx, InsightsOptions::default())
        .await
        .unwrap();
    assert_eq!(ins.keys, 40);
    assert_eq!(ins.top_keys.len(), 5);
    assert!(ins.top_keys.iter().all(|k| k.verifications_recent == 1));
    let orgs_total: u32 = ins.by_org.iter().map(|g| g.keys).sum();
    assert_eq!(orgs_total, 40);
    assert_eq!(
        ins.by_api
            .iter()
            .map(|g| g.verifications_recent)
            .sum::<i64>(),
        5
    );

    // Kinde unreachable: the cache answers, with its age and why.
    sb.shutdown().await;
    let cached = keys::list_cached(&ctx, &KeyFilter::default(), false)
        .await
        .unwrap();
    assert!(cached.from_cache_only);
    assert_eq!(cached.keys.len(), 40);
    assert!(cached.warning.is_some());
    let offline = keys::list_cached(&ctx, &KeyFilter::default(), true)
        .await
        .unwrap();
    assert_eq!(offline.warning.unwrap().code, ErrorCode::Offline);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reissue_migration_window_and_close_on_revoke() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path());
    let old = keys::create(&ctx, create_input("billing")).await.unwrap();
    sync(&ctx).await;

    let r = keys::reissue(
        &ctx,
        &old.id,
        Some(vec!["read:data".into(), "write:data".into()]),
    )
    .await
    .unwrap();
    assert_ne!(r.new_key.id, old.id);
    assert_eq!(r.new_key.scopes.len(), 2);

    let m = keys::handover::list_with(&ctx, 7).await.unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(
        (m[0].old_id.as_str(), m[0].new_id.as_str()),
        (old.id.as_str(), r.new_key.id.as_str())
    );
    assert!(!m[0].safe_to_revoke);
    assert_eq!(m[0].old_verifications_since, 0);

    // The old key is still used: counted since the re-issue.
    let v = keys::verify(&ctx, &Secret::new(old.key.expose()))
        .await
        .unwrap();
    assert!(v.is_valid);
    let m = keys::handover::list_with(&ctx, 0).await.unwrap();
    assert_eq!(m[0].old_verifications_since, 1);
    assert!(m[0].safe_to_revoke, "quiet period 0");

    let summary = keys::revoke(&ctx, std::slice::from_ref(&old.id))
        .await
        .unwrap();
    assert_eq!(summary.revoked, 1);
    assert!(
        keys::handover::list(&ctx).await.unwrap().is_empty(),
        "closed by revoke"
    );

    let audit = audit::list(&ctx, AuditFilter::default()).await.unwrap();
    let actions: Vec<AuditAction> = audit.iter().rev().map(|a| a.action).collect();
    assert_eq!(
        actions,
        vec![
            AuditAction::Create,
            AuditAction::Create,
            AuditAction::Reissue,
            AuditAction::Revoke,
            AuditAction::HandoverClose
        ]
    );
    assert!(audit.iter().all(|a| a.outcome == AuditOutcome::Ok));
    let dump = serde_json::to_string(&audit).unwrap();
    assert!(!dump.contains(old.key.expose()) && !dump.contains(r.new_key.key.expose()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_are_audited_and_ambiguous_writes_reconciled() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let (id, secret) = kinde_sandbox::READONLY_CLIENT;
    let ro = ctx_as(&sb, home.path(), id, secret);
    let e = keys::create(&ro, create_input("nope")).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::MissingScope);
    let rows = audit::list(&ro, AuditFilter::default()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].action, rows[0].outcome),
        (AuditAction::Create, AuditOutcome::Failed)
    );
    assert_eq!(rows[0].error_code.as_deref(), Some("missing_scope"));
    let e = keys::reissue(&ro, "api_key_0000000000000000000000000000000f", None)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);

    // An ambiguous create whose key did get created, and an ambiguous rotate that did not.
    let ctx = ctx(&sb, home.path());
    let kept = keys::create(&ctx, create_input("kept")).await.unwrap();
    let spun = keys::create(&ctx, create_input("spun")).await.unwrap();
    sync(&ctx).await;
    let store = ctx.store().await.unwrap();
    let amb = keyward_core::Error::new(ErrorCode::Ambiguous, "timed out", "reconcile");
    for (action, key_id, name) in [
        (AuditAction::Create, None, Some("ghost")),
        (AuditAction::Rotate, Some(kept.id.as_str()), None),
        (AuditAction::Rotate, Some(spun.id.as_str()), None),
    ] {
        store
            .audit_append(
                chrono::Utc::now(),
                &NewAudit {
                    action,
                    key_id,
                    key_name: name,
                    outcome: AuditOutcome::Ambiguous,
                    error: Some(&amb),
                    details: serde_json::json!({}),
                },
            )
            .unwrap();
    }
    // The create did reach Kinde (made here without Keyward's audit).
    let client = ctx.client().await.unwrap();
    let ghost = client
        .create_key(&keyward_core::kinde::CreateKeyRequest {
            name: "ghost".into(),
            owner: keyward_core::model::key::Owner::Organization {
                org_code: EMPTY_ORG_CODE.into(),
            },
            api_id: EMPTY_API_ID.into(),
            scope_ids: client
                .api_scopes(EMPTY_API_ID)
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.id)
                .take(1)
                .collect(),
        })
        .await
        .unwrap();
    // ... and so did one rotate.
    client.rotate_key(&spun.id).await.unwrap();
    let rec = sync::reconcile::reconcile(&ctx).await.unwrap();
    assert_eq!(rec.len(), 3);
    let found: Vec<(&str, Vec<String>)> = rec
        .iter()
        .map(|r| {
            let ids = r.details["key_ids"].as_array().unwrap();
            (
                r.details["found"].as_str().unwrap(),
                ids.iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    assert!(
        found.contains(&("created", vec![ghost.id.clone()])),
        "{found:?}"
    );
    assert!(found.iter().any(|(f, _)| *f == "not_rotated"), "{found:?}");
    assert!(found.iter().any(|(f, _)| *f == "rotated"), "{found:?}");
    let by_key = |id: &str| {
        rec.iter()
            .find(|r| r.key_id.as_deref() == Some(id))
            .unwrap()
    };
    assert_eq!(by_key(&spun.id).details["found"], "rotated");
    assert_eq!(by_key(&kept.id).details["found"], "not_rotated");
    assert!(
        sync::reconcile::reconcile(&ctx).await.unwrap().is_empty(),
        "answered once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn export_csv_is_spreadsheet_safe() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path());
    let nasty = "=HYPERLINK(\"http://x\",\"a, b\")";
    keys::create(&ctx, create_input(nasty)).await.unwrap();
    keys::create(&ctx, create_input("plain")).await.unwrap();
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
