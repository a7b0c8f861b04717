//! The audit log against a real sandbox: failed operations are audited, and ambiguous writes
//! are reconciled once.

use keyward_core::ErrorCode;
use keyward_core::model::audit::{AuditAction, AuditFilter, AuditOutcome, NewAudit};
use keyward_core::{audit, keys, sync};
use kinde_sandbox::{Config, EMPTY_API_ID, EMPTY_ORG_CODE};

use crate::support::{ctx, ctx_as, one_retry, org_key, sandbox, sync};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_are_audited_and_ambiguous_writes_reconciled() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let (id, secret) = kinde_sandbox::READONLY_CLIENT;
    let ro = ctx_as(&sb, home.path(), id, secret).with_client_options(one_retry());
    let e = keys::create(&ro, org_key("nope", &["read:data"]))
        .await
        .unwrap_err();
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
    let ctx = ctx(&sb, home.path()).with_client_options(one_retry());
    let kept = keys::create(&ctx, org_key("kept", &["read:data"]))
        .await
        .unwrap();
    let spun = keys::create(&ctx, org_key("spun", &["read:data"]))
        .await
        .unwrap();
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
                    actor: None,
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
