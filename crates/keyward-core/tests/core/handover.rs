//! A re-issue against a real sandbox: the old key's verifications are watched over the
//! migration window, and revoking the old key closes the handover.

use keyward_core::model::audit::{AuditAction, AuditFilter, AuditOutcome};
use keyward_core::secret::Secret;
use keyward_core::{audit, keys};
use kinde_sandbox::Config;

use crate::support::{ctx, one_retry, org_key, sandbox, sync};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reissue_migration_window_and_close_on_revoke() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path()).with_client_options(one_retry());
    let old = keys::create(&ctx, org_key("billing", &["read:data"]))
        .await
        .unwrap();
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
