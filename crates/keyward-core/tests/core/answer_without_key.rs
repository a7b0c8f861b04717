//! A create or rotate that Kinde answers with success but without the new key (a 201 with no
//! `key`) may have happened: it is `ambiguous`, and audited as `ambiguous`, never as `failed`.
//! A fake Kinde on loopback gives the answer.

use keyward_core::ErrorCode;
use keyward_core::model::audit::{AuditAction, AuditFilter, AuditOutcome};
use keyward_core::{audit, keys};

use crate::support::fake_kinde::*;
use crate::support::org_key;

const NEW_ID: &str = "api_key_0123456789abcdef0123456789abcdef";

async fn fake_without_key() -> Fake {
    fake(move |req, _| {
        let path = req.path.split('?').next().unwrap_or_default();
        match (req.method.as_str(), path) {
            (_, "/oauth2/token") => token_reply(3600),
            ("GET", p) if p.ends_with("/scopes") => Reply::json(
                200,
                r#"{"code":"OK","scopes":[{"id":"scope_1","key":"read:data","description":"d"}]}"#,
            ),
            // The key was made, but the answer carries its id only.
            ("POST", "/api/v1/api_keys") => Reply::json(
                201,
                &format!(
                    r#"{{"code":"API_KEY_CREATED","message":"API key created","api_key":{{"id":"{NEW_ID}"}}}}"#
                ),
            ),
            ("PUT", p) if p.starts_with("/api/v1/api_keys/") => Reply::json(
                200,
                r#"{"code":"API_KEY_ROTATED","message":"API key rotated successfully"}"#,
            ),
            ("GET", "/api/v1/api_keys") => Reply::json(
                200,
                r#"{"code":"OK","message":"Success","has_more":false,"api_keys":[]}"#,
            ),
            _ => Reply::json(404, r#"{"errors":[{"code":"NOT_FOUND","message":"no"}]}"#),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_answer_without_the_key_is_ambiguous_and_audited_so() {
    let f = fake_without_key().await;
    let home = tempfile::tempdir().unwrap();
    let defaults = kinde_sandbox::Config::default();
    let c = keyward_core::ctx::AppCtx::for_sandbox(
        &f.base(),
        &defaults.client_id,
        keyward_core::secret::Secret::new(defaults.client_secret.clone()),
        Some(home.path().to_path_buf()),
    )
    .unwrap();

    let e = keys::create(&c, org_key("no key", &["read:data"]))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Ambiguous, "{e:?}");
    assert!(e.message.contains("may have happened"), "{}", e.message);
    assert!(e.hint.contains("keyward sync"), "{}", e.hint);
    assert_eq!(
        f.count("POST", "/api/v1/api_keys"),
        1,
        "sent once, never retried"
    );

    let e = keys::rotate(&c, NEW_ID).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Ambiguous, "{e:?}");

    let rows = audit::list(&c, AuditFilter::default()).await.unwrap();
    let create = rows
        .iter()
        .find(|r| r.action == AuditAction::Create)
        .unwrap_or_else(|| panic!("no create row: {rows:?}"));
    assert_eq!(create.outcome, AuditOutcome::Ambiguous, "{create:?}");
    assert_eq!(create.key_name.as_deref(), Some("no key"));
    assert_eq!(create.error_code.as_deref(), Some("ambiguous"));
    let rotate = rows
        .iter()
        .find(|r| r.action == AuditAction::Rotate)
        .unwrap_or_else(|| panic!("no rotate row: {rows:?}"));
    assert_eq!(rotate.outcome, AuditOutcome::Ambiguous, "{rotate:?}");
    assert_eq!(rotate.key_id.as_deref(), Some(NEW_ID));
}
