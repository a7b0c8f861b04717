//! The key doctor against the sandbox: the ladder, the verdicts, and that the report never
//! contains the key.

use crate::support::*;
use keyward_core::doctor::check_key;
use keyward_core::kinde::{Client, CreateKeyRequest};
use keyward_core::model::doctor::{DoctorKeyInput, DoctorReport, StepStatus};
use keyward_core::model::key::Owner;
use keyward_core::secret::Secret;
use kinde_sandbox::{Config, EMPTY_API_ID, EMPTY_ORG_CODE, EMPTY_USER_ID, Sandbox};

async fn new_key(c: &Client, owner: Owner) -> (String, String) {
    let scopes = c.api_scopes(EMPTY_API_ID).await.unwrap();
    let read = scopes
        .iter()
        .find(|s| s.key == "read:data")
        .unwrap()
        .id
        .clone();
    let req = CreateKeyRequest {
        name: "doctor".into(),
        owner,
        api_id: EMPTY_API_ID.into(),
        scope_ids: vec![read],
    };
    let k = c.create_key(&req).await.unwrap();
    (k.id, k.key.expose().to_string())
}

fn org() -> Owner {
    Owner::Organization {
        org_code: EMPTY_ORG_CODE.into(),
    }
}

async fn run(c: &Client, key: &str, scope: Option<&str>, org: Option<&str>) -> DoctorReport {
    let input = DoctorKeyInput {
        key: Secret::new(key),
        require_scope: scope.map(str::to_string),
        org_code: org.map(str::to_string),
    };
    check_key(c, &input).await
}

fn no_secret(r: &DoctorReport, secret: &str, sb: &Sandbox) {
    let json = serde_json::to_string(r).unwrap();
    assert!(!json.contains(secret), "the report leaks the key: {json}");
    assert!(!json.contains(sb.client_secret()));
}

#[tokio::test]
async fn a_pasted_key_is_cleaned_then_verified() {
    let sb = sandbox(Config::default()).await;
    let c = client(&sb);
    let (id, secret) = new_key(&c, org()).await;
    sb.reset_stats();
    let r = run(
        &c,
        &format!("  Authorization: Bearer \"{secret}\"\n"),
        None,
        None,
    )
    .await;
    assert!(r.healthy, "{r:#?}");
    assert_eq!(status(&r, "whitespace"), StepStatus::Warn);
    assert_eq!(status(&r, "bearer_prefix"), StepStatus::Warn);
    assert_eq!(status(&r, "quotes"), StepStatus::Warn);
    assert_eq!(status(&r, "format"), StepStatus::Ok);
    assert_eq!(status(&r, "verify"), StepStatus::Ok);
    assert_eq!(status(&r, "status"), StepStatus::Ok);
    assert!(
        r.verdict.starts_with("The key is valid and active, but"),
        "{}",
        r.verdict
    );
    assert!(r.counted_verification);
    let verify = r.steps.iter().find(|s| s.name == "verify").unwrap();
    assert!(verify.detail.contains(&id) && verify.detail.contains("counted as one verification"));
    let owner = r.steps.iter().find(|s| s.name == "owner").unwrap();
    assert!(owner.detail.contains(EMPTY_ORG_CODE));
    assert!(
        owner.detail.contains("Sandbox Org"),
        "the owner by name: {}",
        owner.detail
    );
    assert_eq!(sb.stats().verify_key, 1, "exactly one verification");
    // The report names the key and its owner apart from the steps (the app shows them), and
    // weighs its verdict: healthy with warnings is a warning, not a pass.
    assert_eq!(r.outcome, StepStatus::Warn);
    assert_eq!(r.key_id.as_deref(), Some(id.as_str()));
    assert_eq!(r.key_name.as_deref(), Some("doctor"));
    let named = r.owner.as_deref().unwrap_or_default();
    assert!(
        named.starts_with("organization Sandbox Org") && named.contains(EMPTY_ORG_CODE),
        "{named}"
    );
    no_secret(&r, &secret, &sb);

    let r = run(&c, &secret, Some("read:data"), Some(EMPTY_ORG_CODE)).await;
    assert!(r.healthy, "{r:#?}");
    assert!(r.steps.iter().all(|s| s.status == StepStatus::Ok), "{r:#?}");
    assert_eq!(r.verdict, "The key is valid and active");
    assert_eq!(r.outcome, StepStatus::Ok);
    let step = r.steps.iter().find(|s| s.name == "organization").unwrap();
    assert!(step.detail.contains("Sandbox Org"), "{step:?}");
    assert!(!r.next_action.is_empty());
}

#[tokio::test]
async fn insufficient_scope_and_org_mismatch_are_diagnosed() {
    let sb = sandbox(Config::default()).await;
    let c = client(&sb);
    let (_, secret) = new_key(&c, org()).await;
    let r = run(&c, &secret, Some("write:data"), None).await;
    assert!(!r.healthy);
    assert_eq!(status(&r, "required_scope"), StepStatus::Fail);
    assert_eq!(r.verdict, "Insufficient scope");
    assert_eq!(r.outcome, StepStatus::Fail);
    assert!(r.next_action.contains("write:data") && r.next_action.contains("revoke"));
    // The same advice for the app and the CLI: a re-issue, not a terminal command.
    assert!(r.next_action.contains("re-issue"), "{}", r.next_action);
    assert!(!r.next_action.contains("`keyward"), "{}", r.next_action);

    let r = run(&c, &secret, None, Some("org_other")).await;
    assert_eq!(status(&r, "organization"), StepStatus::Fail);
    assert_eq!(r.verdict, "Organization mismatch");
    let step = r.steps.iter().find(|s| s.name == "organization").unwrap();
    assert!(
        step.detail.contains("belongs to Sandbox Org") && step.detail.contains("org_other"),
        "the owner by name: {step:?}"
    );
    let (_, user_secret) = new_key(
        &c,
        Owner::User {
            user_id: EMPTY_USER_ID.into(),
        },
    )
    .await;
    let r = run(&c, &user_secret, None, Some(EMPTY_ORG_CODE)).await;
    let step = r.steps.iter().find(|s| s.name == "organization").unwrap();
    assert!(!step.ok && step.detail.contains("user key"), "{step:?}");
}

#[tokio::test]
async fn revoked_rotated_and_unknown_keys_are_invalid() {
    let sb = sandbox(Config::default()).await;
    let c = client(&sb);
    let (id, secret) = new_key(&c, org()).await;
    let fresh = c.rotate_key(&id).await.unwrap();
    let r = run(&c, &secret, None, None).await;
    assert!(!r.healthy);
    assert_eq!(status(&r, "verify"), StepStatus::Fail);
    assert_eq!(r.verdict, "The key is invalid");
    assert!(r.next_action.contains("rotated"), "{}", r.next_action);

    c.revoke_key(&id).await.unwrap();
    let r = run(&c, fresh.key.expose(), None, None).await;
    assert_eq!(status(&r, "status"), StepStatus::Fail);
    assert_eq!(r.verdict, "The key is revoked");
    no_secret(&r, fresh.key.expose(), &sb);
}

#[tokio::test]
async fn hopeless_pastes_are_not_sent_to_kinde() {
    let sb = sandbox(Config::default()).await;
    let c = client(&sb);
    let (id, secret) = new_key(&c, org()).await;
    sb.reset_stats();
    let truncated: String = secret.chars().take(12).collect::<String>() + "…";
    for (paste, verdict) in [
        (id.as_str(), "This is the key's id, not the key"),
        (
            "eyJhbGciOi.eyJzdWIiOi.c2ln",
            "This is an access token, not an API key",
        ),
        (truncated.as_str(), "The key is truncated"),
        ("  \"\"  ", "No key was given"),
        ("k_live_abc$def", "The key contains a wrong character"),
    ] {
        let r = run(&c, paste, None, None).await;
        assert!(!r.healthy);
        assert_eq!(r.verdict, verdict, "{paste}");
        assert_eq!(status(&r, "format"), StepStatus::Fail);
        assert_eq!(status(&r, "verify"), StepStatus::Skipped);
        assert!(!r.counted_verification);
        assert!(!r.next_action.is_empty());
    }
    assert_eq!(sb.stats().verify_key, 0);

    // A short key is worth a try, with a truncation warning; Kinde then says it is unknown.
    let short: String = secret.chars().take(20).collect();
    let r = run(&c, &short, None, None).await;
    assert_eq!(status(&r, "format"), StepStatus::Warn);
    assert_eq!(r.verdict, "The key is invalid");
    assert!(r.counted_verification);
}

#[tokio::test]
async fn a_verify_that_fails_reports_the_error_and_its_hint() {
    let sb = sandbox(Config::default()).await;
    let c = client_for(&sb.base_url(), sb.client_id(), "wrong", fast());
    let r = run(&c, "k_live_0123456789abcdef0123456789abcdef", None, None).await;
    assert!(!r.healthy);
    let v = r.steps.iter().find(|s| s.name == "verify").unwrap();
    assert!(v.detail.contains("invalid_client"), "{v:?}");
    assert!(r.next_action.contains("Settings > Applications"));
    assert!(!r.counted_verification);
}
