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

/// Moves the deadline of the open re-issue `old` → `new` to a minute ago (as if the hours had
/// passed), through the store the app uses (a real SQLite file under the test's home).
async fn deadline_passed(ctx: &keyward_core::ctx::AppCtx, old: &str, new: &str) {
    let store = ctx.store().await.unwrap();
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    assert!(store.reissue_set_deadline(old, new, Some(past)).unwrap());
}

fn expire_rows(
    audit: &[keyward_core::model::audit::AuditEntry],
) -> Vec<&keyward_core::model::audit::AuditEntry> {
    audit
        .iter()
        .filter(|a| a.action == AuditAction::HandoverExpire)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_roll_with_a_deadline_revokes_the_old_key_at_the_first_sync_after_it_once() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path()).with_client_options(one_retry());
    let old = keys::create(&ctx, org_key("billing", &["read:data"]))
        .await
        .unwrap();
    sync(&ctx).await;

    let d = keys::parse_old_key_expires("24h").unwrap().unwrap();
    let r = keys::reissue_with(
        &ctx,
        &old.id,
        keys::ReissueOptions {
            old_key_expires: Some(d),
            ..keys::ReissueOptions::default()
        },
    )
    .await
    .unwrap();
    let deadline = r.link.old_expires_at.expect("a deadline");
    let secs = (deadline - r.link.opened_at).num_seconds();
    assert!((86_399..=86_400).contains(&secs), "{secs}");
    assert!(store_path_is_a_file(&ctx).await);

    // Before the deadline a sync leaves the old key working, and the handover shows the deadline.
    sync(&ctx).await;
    let h = keys::handover::list_with(&ctx, 7).await.unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].old_expires_at, Some(deadline));
    assert!(h[0].advice.contains("first sync after"), "{}", h[0].advice);
    assert!(
        keys::verify(&ctx, &Secret::new(old.key.expose()))
            .await
            .unwrap()
            .is_valid
    );
    assert!(expire_rows(&audit::list(&ctx, AuditFilter::default()).await.unwrap()).is_empty());

    // The deadline passes: the next sync revokes the old key, audits it, closes the handover.
    deadline_passed(&ctx, &old.id, &r.new_key.id).await;
    sync(&ctx).await;
    assert!(
        !keys::verify(&ctx, &Secret::new(old.key.expose()))
            .await
            .unwrap()
            .is_valid,
        "the old key no longer verifies"
    );
    let shown = keys::show(&ctx, &old.id).await.unwrap();
    assert_eq!(shown.key.status.as_str(), "revoked");
    assert!(keys::handover::list(&ctx).await.unwrap().is_empty());
    let audit_rows = audit::list(&ctx, AuditFilter::default()).await.unwrap();
    let rows = expire_rows(&audit_rows);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].outcome, AuditOutcome::Ok);
    assert_eq!(rows[0].key_id.as_deref(), Some(old.id.as_str()));
    assert_eq!(rows[0].key_name.as_deref(), Some("billing"));
    assert_eq!(
        rows[0].details["key_suffix"].as_str(),
        Some(old.key_suffix.as_str())
    );
    assert_eq!(
        AuditAction::parse("handover_expire").unwrap(),
        AuditAction::HandoverExpire
    );

    // The next sync does not revoke it again.
    sync(&ctx).await;
    let again = audit::list(&ctx, AuditFilter::default()).await.unwrap();
    assert_eq!(expire_rows(&again).len(), 1);
    assert_eq!(
        again
            .iter()
            .filter(|a| a.key_id.as_deref() == Some(old.id.as_str())
                && matches!(a.action, AuditAction::Revoke | AuditAction::HandoverExpire))
            .count(),
        1
    );

    // The new key is not touched.
    let new = keys::show(&ctx, &r.new_key.id).await.unwrap();
    assert_eq!(new.key.status.as_str(), "active");
    assert!(
        keys::verify(&ctx, &Secret::new(r.new_key.key.expose()))
            .await
            .unwrap()
            .is_valid
    );
    let dump = serde_json::to_string(&again).unwrap();
    assert!(!dump.contains(old.key.expose()) && !dump.contains(r.new_key.key.expose()));
}

async fn store_path_is_a_file(ctx: &keyward_core::ctx::AppCtx) -> bool {
    let store = ctx.store().await.unwrap();
    store.path().is_some_and(|p| p.is_file())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deadline_passed_on_an_old_key_revoked_elsewhere_revokes_nothing() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path()).with_client_options(one_retry());
    let old = keys::create(&ctx, org_key("ledger", &["read:data"]))
        .await
        .unwrap();
    sync(&ctx).await;
    let r = keys::reissue_with(
        &ctx,
        &old.id,
        keys::ReissueOptions {
            old_key_expires: keys::parse_old_key_expires("1h").unwrap(),
            name: Some("Ledger v2".into()),
            ..keys::ReissueOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(r.new_key.name.as_deref(), Some("Ledger v2"));

    // Revoked in Kinde's dashboard (not through Keyward): the handover is still open.
    crate::support::client(&sb)
        .revoke_key(&old.id)
        .await
        .unwrap();
    deadline_passed(&ctx, &old.id, &r.new_key.id).await;
    sync(&ctx).await;

    let audit_rows = audit::list(&ctx, AuditFilter::default()).await.unwrap();
    assert!(expire_rows(&audit_rows).is_empty(), "not revoked again");
    assert!(
        !audit_rows.iter().any(|a| a.action == AuditAction::Revoke),
        "Keyward revoked nothing"
    );
    assert!(
        keys::handover::list(&ctx).await.unwrap().is_empty(),
        "closed"
    );
    let new = keys::show(&ctx, &r.new_key.id).await.unwrap();
    assert_eq!(new.key.status.as_str(), "active");
}

#[tokio::test]
async fn old_key_lifetimes_parse_as_typed_and_bad_ones_say_what_to_give() {
    let h = |s: &str| {
        keys::parse_old_key_expires(s)
            .unwrap()
            .map(|d| d.num_minutes())
    };
    assert_eq!(h("now"), None);
    assert_eq!(h("1h"), Some(60));
    assert_eq!(h("24h"), Some(1440));
    assert_eq!(h("3d"), Some(3 * 1440));
    assert_eq!(h("7d"), Some(7 * 1440));
    assert_eq!(h("90m"), Some(90));
    assert_eq!(h(" 2D "), Some(2 * 1440));
    for bad in [
        "",
        "h",
        "0h",
        "-1h",
        "+1h",
        "1.5h",
        "24",
        "1y",
        "31d",
        "99999999999999w",
        "now!",
    ] {
        let e = keys::parse_old_key_expires(bad).unwrap_err();
        assert_eq!(e.code, keyward_core::ErrorCode::InvalidInput, "{bad:?}");
        assert!(e.hint.contains("24h"), "{bad:?}: {}", e.hint);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reissue_name_is_checked_like_a_create_name_before_any_request() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path());
    for bad in ["", "   ", "two\nlines"] {
        let e = keys::reissue_with(
            &ctx,
            "api_key_0000000000000000000000000000000f",
            keys::ReissueOptions {
                name: Some(bad.into()),
                ..keys::ReissueOptions::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, keyward_core::ErrorCode::InvalidInput, "{bad:?}");
        assert!(e.message.contains("name"), "{}", e.message);
    }
}
