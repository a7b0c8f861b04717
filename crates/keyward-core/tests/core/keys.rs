//! Key operations against a real sandbox over HTTP.

use crate::support::{ctx, ctx_as, org_key, sandbox};
use keyward_core::ErrorCode;
use keyward_core::model::audit::AuditFilter;
use keyward_core::model::doctor::{DoctorKeyInput, StepStatus};
use keyward_core::model::key::CreateKeyInput;
use keyward_core::model::key::{KeyFilter, KeyStatus, KeyType};
use keyward_core::secret::Secret;
use keyward_core::{directory, doctor, keys};
use kinde_sandbox::{Config, EMPTY_API_ID, EMPTY_ORG_CODE, EMPTY_USER_ID, READONLY_CLIENT};

#[tokio::test]
async fn create_show_list_verify_rotate_revoke() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path());

    let created = keys::create(&ctx, org_key("  Billing  ", &["read:data"]))
        .await
        .unwrap();
    assert!(created.key.expose().starts_with("k_live_"));
    assert_eq!(created.name.as_deref(), Some("Billing"));
    assert_eq!(created.scopes, vec!["read:data".to_string()]);
    assert_eq!(created.key_prefix, created.key.expose()[..6]);
    assert!(created.warning.contains("shown once"));

    let shown = keys::show(&ctx, &created.id).await.unwrap();
    assert_eq!(shown.key.name, "Billing");
    assert_eq!(shown.key.status, KeyStatus::Active);
    assert_eq!(shown.key.org_code.as_deref(), Some(EMPTY_ORG_CODE));
    assert_eq!(shown.owner_name.as_deref(), Some("Sandbox Org"));
    assert_eq!(shown.api_name.as_deref(), Some("Sandbox API"));
    assert_eq!(shown.key.scopes, vec!["read:data".to_string()]);
    assert_eq!(shown.key.verification_count, Some(0));
    assert!(
        !shown.stale,
        "created a moment ago: not stale yet, though never verified"
    );

    // A second key, for a user, found by type filter and search.
    let user = keys::create(
        &ctx,
        CreateKeyInput {
            user_id: Some(EMPTY_USER_ID.into()),
            org_code: None,
            ..org_key("Sam's laptop", &["read:data", "write:data"])
        },
    )
    .await
    .unwrap();
    let all = keys::list(&ctx, &KeyFilter::default(), false)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let users = KeyFilter {
        key_type: Some(KeyType::User),
        ..KeyFilter::default()
    };
    let listed = keys::list(&ctx, &users, false).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key.id, user.id);
    let search = KeyFilter {
        search: Some("BILL".into()),
        ..KeyFilter::default()
    };
    let listed = keys::list(&ctx, &search, false).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key.id, created.id);
    let by_suffix = KeyFilter {
        search: Some(user.key_suffix.clone()),
        ..KeyFilter::default()
    };
    assert!(
        keys::list(&ctx, &by_suffix, false)
            .await
            .unwrap()
            .iter()
            .any(|k| k.key.id == user.id)
    );
    let by_org = KeyFilter {
        org_code: Some(EMPTY_ORG_CODE.into()),
        ..KeyFilter::default()
    };
    let listed = keys::list(&ctx, &by_org, false).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].owner_name.as_deref(), Some("Sandbox Org"));

    // Verify counts, and says so.
    let v = keys::verify(&ctx, &Secret::new(format!("{}\n", created.key.expose())))
        .await
        .unwrap();
    assert!(v.is_valid);
    assert!(v.note.to_lowercase().contains("verification"), "{}", v.note);
    assert_eq!(
        keys::show(&ctx, &created.id)
            .await
            .unwrap()
            .key
            .verification_count,
        Some(1)
    );

    // Rotate: the old secret fails at once, the new one works.
    let rotated = keys::rotate(&ctx, &created.id).await.unwrap();
    assert_eq!(rotated.id, created.id);
    assert_ne!(rotated.key.expose(), created.key.expose());
    assert!(
        !keys::verify(&ctx, &Secret::new(created.key.expose()))
            .await
            .unwrap()
            .is_valid
    );
    assert!(
        keys::verify(&ctx, &Secret::new(rotated.key.expose()))
            .await
            .unwrap()
            .is_valid
    );

    // Bulk revoke: one unknown id does not stop the batch.
    let unknown = "api_key_00000000000000000000000000000000".to_string();
    let summary = keys::revoke(
        &ctx,
        &[created.id.clone(), unknown.clone(), user.id.clone()],
    )
    .await
    .unwrap();
    assert_eq!(
        (summary.requested, summary.revoked, summary.failed),
        (3, 2, 1)
    );
    let bad = summary.outcomes.iter().find(|o| o.id == unknown).unwrap();
    assert_eq!(bad.error.as_ref().unwrap().code, ErrorCode::NotFound);
    assert!(
        summary
            .outcomes
            .iter()
            .filter(|o| o.id != unknown)
            .all(|o| o.revoked)
    );
    assert!(
        !keys::verify(&ctx, &Secret::new(rotated.key.expose()))
            .await
            .unwrap()
            .is_valid
    );
    assert_eq!(
        keys::show(&ctx, &user.id).await.unwrap().key.status,
        KeyStatus::Revoked
    );

    // Every mutation is in the audit log, the failure included, and no secret is.
    let store = ctx.store().await.unwrap();
    let rows = store.audit_list(&AuditFilter::default()).unwrap();
    assert_eq!(rows.len(), 2 + 1 + 3, "{rows:#?}");
    assert_eq!(
        rows.iter()
            .filter(|r| r.error_code.as_deref() == Some("not_found"))
            .count(),
        1
    );
    let dump = format!("{rows:?}");
    for s in [&created.key, &rotated.key, &user.key] {
        assert!(!dump.contains(s.expose()));
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn input_checks_come_before_any_request() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path());
    let cases = [
        CreateKeyInput {
            org_code: None,
            ..org_key("x", &["read:data"])
        },
        CreateKeyInput {
            user_id: Some(EMPTY_USER_ID.into()),
            ..org_key("x", &["read:data"])
        },
        org_key("   ", &["read:data"]),
        org_key("x", &[]),
        org_key("x", &["read data"]),
        CreateKeyInput {
            api_id: "no such/api".into(),
            ..org_key("x", &["read:data"])
        },
        CreateKeyInput {
            org_code: Some("org 1".into()),
            ..org_key("x", &["read:data"])
        },
    ];
    for input in cases {
        let e = keys::create(&ctx, input.clone()).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput, "{input:?}: {e:?}");
        assert!(!e.hint.is_empty());
    }
    for id in ["", "api key 1", "api_key_1/../x"] {
        let e = keys::show(&ctx, id).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        let e = keys::revoke(&ctx, &[id.to_string()]).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
    }
    assert_eq!(
        keys::revoke(&ctx, &[]).await.unwrap_err().code,
        ErrorCode::InvalidInput
    );
    assert_eq!(sb.stats().total, 0, "no request may be sent for bad input");

    // A scope that the API lacks is caught before the create (after reading the API's scopes).
    let e = keys::create(&ctx, org_key("x", &["read:data", "admin:everything"]))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(e.message.contains("admin:everything"), "{}", e.message);
    assert!(
        e.hint.contains("read:data") && e.hint.contains("write:data"),
        "{}",
        e.hint
    );
    assert_eq!(sb.stats().create_key, 0);

    // Scopes by id work as well as by key.
    let apis = directory::apis(&ctx).await.unwrap();
    let api = apis.iter().find(|a| a.id == EMPTY_API_ID).unwrap();
    let write = api.scopes.iter().find(|s| s.key == "write:data").unwrap();
    let k = keys::create(&ctx, org_key("by id", &[&write.id]))
        .await
        .unwrap();
    assert_eq!(k.scopes, vec!["write:data".to_string()]);
    assert_eq!(sb.stats().create_key, 1);

    // An unknown key is a 404 that names it.
    let missing = "api_key_0123456789abcdef0123456789abcdef";
    let e = keys::show(&ctx, missing).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(e.message.contains(missing), "{}", e.message);
    sb.shutdown().await;
}

#[tokio::test]
async fn directory_search_and_doctor() {
    let sb = sandbox(Config {
        seed: kinde_sandbox::Seed::Demo,
        rng_seed: Some(7),
        ..Config::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path());
    let orgs = directory::orgs(&ctx, None).await.unwrap();
    assert!(orgs.len() >= 12);
    let acme = directory::orgs(&ctx, Some("acme")).await.unwrap();
    assert!(!acme.is_empty() && acme.iter().all(|o| o.name.to_lowercase().contains("acme")));
    let users = directory::users(&ctx, None).await.unwrap();
    assert!(users.len() >= 40);
    let first = users[0].first_name.clone().unwrap();
    let found = directory::users(&ctx, Some(&first.to_uppercase()))
        .await
        .unwrap();
    assert!(!found.is_empty() && found.len() < users.len());
    let apis = directory::apis(&ctx).await.unwrap();
    assert!(apis.len() >= 3 && apis.iter().all(|a| !a.scopes.is_empty()));

    // Doctor: a fresh key with a pasted "Bearer " prefix and a newline, and a scope it lacks.
    let api = &apis[0];
    let k = keys::create(
        &ctx,
        CreateKeyInput {
            name: "doctor".into(),
            api_id: api.id.clone(),
            scopes: vec![api.scopes[0].key.clone()],
            org_code: Some(orgs[0].code.clone()),
            user_id: None,
        },
    )
    .await
    .unwrap();
    let mut input = DoctorKeyInput::new(Secret::new(format!("Bearer {}\n", k.key.expose())));
    let report = doctor::key(&ctx, &input).await.unwrap();
    assert!(report.counted_verification);
    let bearer = report
        .steps
        .iter()
        .find(|s| s.name == "bearer_prefix")
        .unwrap();
    assert_ne!(bearer.status, StepStatus::Ok, "{report:#?}");
    assert!(
        report.steps.iter().any(|s| s.name == "verify" && s.ok),
        "{report:#?}"
    );
    input.require_scope = Some("definitely:not-granted".into());
    let report = doctor::key(&ctx, &input).await.unwrap();
    assert!(!report.healthy);
    assert!(
        report
            .steps
            .iter()
            .any(|s| s.name == "required_scope" && !s.ok)
    );
    input.require_scope = Some("bad scope".into());
    assert_eq!(
        doctor::key(&ctx, &input).await.unwrap_err().code,
        ErrorCode::InvalidInput
    );

    let conn = doctor::connection(&ctx).await.unwrap();
    assert!(conn.healthy, "{conn:#?}");
    sb.shutdown().await;
}

#[tokio::test]
async fn read_only_app_gets_missing_scope_with_a_hint() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx_as(&sb, home.path(), READONLY_CLIENT.0, READONLY_CLIENT.1);
    assert!(
        keys::list(&ctx, &KeyFilter::default(), false)
            .await
            .unwrap()
            .is_empty()
    );
    let e = keys::create(&ctx, org_key("nope", &["read:data"]))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::MissingScope);
    assert!(e.message.contains("create:api_keys") || e.hint.contains("create:api_keys"));
    let conn = doctor::connection(&ctx).await.unwrap();
    assert!(
        conn.steps
            .iter()
            .any(|s| s.name == "token_scopes" && s.detail.contains("create:api_keys"))
    );

    let bad = ctx_as(&sb, home.path(), sb.client_id(), "wrong-secret");
    let e = directory::apis(&bad).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidClient);
    assert!(!e.hint.is_empty());
    sb.shutdown().await;
}

#[tokio::test]
async fn live_listing_skips_the_store() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path());
    keys::create(&ctx, org_key("live", &["read:data"]))
        .await
        .unwrap();
    sb.reset_stats();
    let live = keys::list_live(&ctx, &KeyFilter::default()).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].key.name, "live");
    assert_eq!(sb.stats().get_key, 0, "the live listing fetches no details");
    let cached = keys::list(&ctx, &KeyFilter::default(), true)
        .await
        .unwrap_err();
    assert_eq!(cached.code, ErrorCode::Offline);
    let synced = keys::list(&ctx, &KeyFilter::default(), false)
        .await
        .unwrap();
    assert_eq!(synced.len(), 1);
    assert_eq!(synced[0].key.verification_count, Some(0));
    sb.shutdown().await;
}

#[tokio::test]
async fn cancelled_bulk_revoke_reports_every_key() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path());
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(
            keys::create(&ctx, org_key(&format!("k{i}"), &["read:data"]))
                .await
                .unwrap()
                .id,
        );
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    let seen = std::sync::Mutex::new(Vec::new());
    let summary = keys::revoke_with(
        &ctx,
        &ids,
        |p| {
            seen.lock().unwrap().push(p.done);
            if p.done == 2 {
                cancel.cancel();
            }
        },
        cancel.clone(),
    )
    .await
    .unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![1, 2, 3, 4]);
    assert_eq!((summary.revoked, summary.failed), (2, 2));
    for o in &summary.outcomes[2..] {
        assert_eq!(o.error.as_ref().unwrap().code, ErrorCode::Cancelled);
    }
    assert_eq!(sb.stats().revoke_key, 2);
    assert_eq!(
        keys::show(&ctx, &ids[3]).await.unwrap().key.status,
        KeyStatus::Active
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn show_keeps_what_only_the_cache_knows_rotated_on_and_the_sparkline() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path());
    let created = keys::create(&ctx, org_key("Spark", &["read:data"]))
        .await
        .unwrap();
    crate::support::sync(&ctx).await;
    for _ in 0..3 {
        keys::verify(&ctx, &Secret::new(created.key.expose()))
            .await
            .unwrap();
    }
    crate::support::sync(&ctx).await;
    let listed = keys::list(&ctx, &KeyFilter::default(), true).await.unwrap();
    let spark = listed
        .iter()
        .find(|k| k.key.id == created.id)
        .unwrap()
        .spark_7d
        .clone();
    assert_eq!(spark.iter().sum::<i64>(), 3, "{spark:?}");

    // Opening the key (a read from Kinde) keeps its sparkline, in the answer and the cache.
    let shown = keys::show(&ctx, &created.id).await.unwrap();
    assert_eq!(shown.spark_7d, spark);
    assert_eq!(shown.owner_name.as_deref(), Some("Sandbox Org"));
    let listed = keys::list(&ctx, &KeyFilter::default(), true).await.unwrap();
    let after = listed.iter().find(|k| k.key.id == created.id).unwrap();
    assert_eq!(after.spark_7d, spark);
    assert!(after.rotated_on.is_none());

    // After a rotate, the key says when Keyward rotated it: in the cache and when opened.
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    keys::rotate(&ctx, &created.id).await.unwrap();
    let listed = keys::list(&ctx, &KeyFilter::default(), true).await.unwrap();
    let cached = listed.iter().find(|k| k.key.id == created.id).unwrap();
    let on = cached.rotated_on.expect("rotated_on cached after a rotate");
    assert!(on >= before, "{on} < {before}");
    let shown = keys::show(&ctx, &created.id).await.unwrap();
    assert_eq!(
        shown.rotated_on,
        Some(on),
        "a key opened after a rotate says when"
    );
    assert_eq!(shown.spark_7d, spark);
}

#[tokio::test]
async fn a_reissued_key_is_named_apart_and_the_audit_names_every_key() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path());
    let old = keys::create(&ctx, org_key("Billing", &["read:data"]))
        .await
        .unwrap();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let r = keys::reissue(&ctx, &old.id, None).await.unwrap();
    let want = format!("Billing (re-issued {today})");
    assert_eq!(r.new_key.name.as_deref(), Some(want.as_str()));
    let shown = keys::show(&ctx, &r.new_key.id).await.unwrap();
    assert_eq!(shown.key.name, want);
    // Re-issuing the re-issue replaces the date rather than stacking a second one.
    let again = keys::reissue(&ctx, &r.new_key.id, None).await.unwrap();
    assert_eq!(again.new_key.name.as_deref(), Some(want.as_str()));

    // Rotate and revoke take the key's name from the cache when the caller gives none.
    keys::rotate(&ctx, &old.id).await.unwrap();
    keys::revoke(&ctx, std::slice::from_ref(&old.id))
        .await
        .unwrap();
    let rows = keyward_core::audit::list(
        &ctx,
        AuditFilter {
            key_id: Some(old.id.clone()),
            ..AuditFilter::default()
        },
    )
    .await
    .unwrap();
    for action in ["rotate", "revoke", "reissue"] {
        let row = rows
            .iter()
            .find(|a| a.action.as_str() == action && a.key_id.as_deref() == Some(&old.id))
            .unwrap_or_else(|| panic!("no {action} row: {rows:?}"));
        assert_eq!(row.key_name.as_deref(), Some("Billing"), "{action}");
    }
    let reissue = rows
        .iter()
        .find(|a| a.action.as_str() == "reissue")
        .unwrap();
    assert_eq!(reissue.details["new_id"], r.new_key.id.as_str());
    assert_eq!(reissue.details["new_name"], want.as_str());

    // The new key's audit shows the re-issue that made it (a link back to the old key).
    let new_rows = keyward_core::audit::list(
        &ctx,
        AuditFilter {
            key_id: Some(r.new_key.id.clone()),
            ..AuditFilter::default()
        },
    )
    .await
    .unwrap();
    assert!(
        new_rows
            .iter()
            .any(|a| a.action.as_str() == "reissue" && a.key_id.as_deref() == Some(&old.id)),
        "{new_rows:?}"
    );
}

#[test]
fn reissued_names() {
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
        .unwrap()
        .to_utc();
    assert_eq!(
        keys::reissued_name("Billing", at),
        "Billing (re-issued 2026-12-07)"
    );
    assert_eq!(
        keys::reissued_name("Billing (re-issued 2026-01-02)", at),
        "Billing (re-issued 2026-12-07)"
    );
    assert_eq!(
        keys::reissued_name("Billing (re-issued soon)", at),
        "Billing (re-issued soon) (re-issued 2026-12-07)"
    );
    let long = "x".repeat(255);
    let n = keys::reissued_name(&long, at);
    assert_eq!(n.chars().count(), 255);
    assert!(n.ends_with(" (re-issued 2026-12-07)"));
}
