//! The connection doctor: domain, DNS, TLS, token, scopes, clock and API access.

use crate::support::fake_kinde::*;
use crate::support::*;
use keyward_core::doctor::{check_connection, check_connection_with};
use keyward_core::kinde::ClientOptions;
use keyward_core::model::doctor::{DoctorKind, DoctorReport, StepStatus};
use keyward_core::secret::Secret;
use kinde_sandbox::{Config, READONLY_CLIENT};

fn detail<'a>(r: &'a DoctorReport, name: &str) -> &'a str {
    &r.steps.iter().find(|s| s.name == name).unwrap().detail
}

#[tokio::test]
async fn a_healthy_connection_passes_every_step() {
    let sb = sandbox(Config::default()).await;
    let r = check_connection(
        &sb.base_url(),
        sb.client_id(),
        &Secret::new(sb.client_secret()),
    )
    .await;
    assert_eq!(r.kind, DoctorKind::Connection);
    assert!(r.healthy, "{r:#?}");
    let names: Vec<&str> = r.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "domain",
            "dns",
            "connection",
            "token",
            "token_scopes",
            "clock",
            "api_access"
        ]
    );
    assert!(r.steps.iter().all(|s| s.status == StepStatus::Ok), "{r:#?}");
    assert_eq!(r.verdict, "The connection works");
    assert!(!r.counted_verification);
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains(sb.client_secret()));
}

#[tokio::test]
async fn missing_scopes_are_named() {
    let sb = sandbox(Config::default()).await;
    let r = check_connection(
        &sb.base_url(),
        READONLY_CLIENT.0,
        &Secret::new(READONLY_CLIENT.1),
    )
    .await;
    assert!(r.healthy, "reading still works: {r:#?}");
    assert_eq!(status(&r, "token_scopes"), StepStatus::Warn);
    let d = detail(&r, "token_scopes");
    for s in ["create:api_keys", "update:api_keys", "delete:api_keys"] {
        assert!(d.contains(s), "{d}");
    }
    assert!(!d.contains("read:api_keys"));
    assert!(r.next_action.contains("Manage scopes"), "{}", r.next_action);

    sb.add_client("users-only", "users-only-secret", &["read:users"]);
    let r = check_connection(
        &sb.base_url(),
        "users-only",
        &Secret::new("users-only-secret"),
    )
    .await;
    assert!(!r.healthy);
    assert_eq!(status(&r, "token_scopes"), StepStatus::Fail);
    assert!(detail(&r, "token_scopes").contains("read:api_keys"));
    assert_eq!(status(&r, "api_access"), StepStatus::Skipped);
}

#[tokio::test]
async fn wrong_credentials_stop_at_the_token() {
    let sb = sandbox(Config::default()).await;
    let r = check_connection(&sb.base_url(), sb.client_id(), &Secret::new("nope")).await;
    assert!(!r.healthy);
    assert_eq!(status(&r, "token"), StepStatus::Fail);
    assert!(detail(&r, "token").contains("invalid_client"));
    assert!(r.next_action.contains("Settings > Applications"));
    assert_eq!(r.steps.last().unwrap().name, "token");
}

#[tokio::test]
async fn bad_domain_refused_port_and_dns_failures() {
    let r = check_connection("https://mybiz.kinde.com/api", "id", &Secret::new("s")).await;
    assert_eq!(status(&r, "domain"), StepStatus::Fail);
    assert!(r.next_action.contains("no path"), "{}", r.next_action);

    let port = refused_port();
    let r = check_connection(&format!("http://127.0.0.1:{port}"), "id", &Secret::new("s")).await;
    assert_eq!(status(&r, "dns"), StepStatus::Ok);
    assert_eq!(status(&r, "connection"), StepStatus::Fail);
    assert!(detail(&r, "connection").contains("connection_refused"));

    let r = check_connection("nonexistent-keyward.invalid", "id", &Secret::new("s")).await;
    assert_eq!(status(&r, "dns"), StepStatus::Fail);
    assert_eq!(r.verdict, "The domain does not resolve");
}

#[tokio::test]
async fn tls_is_checked_against_the_trusted_roots() {
    let sb = sandbox(Config {
        tls: true,
        ..Config::default()
    })
    .await;
    let secret = Secret::new(sb.client_secret());
    let r = check_connection(&sb.base_url(), sb.client_id(), &secret).await;
    assert_eq!(status(&r, "tls"), StepStatus::Fail);
    assert!(detail(&r, "tls").contains("tls"), "{r:#?}");
    let opts = ClientOptions {
        root_cert_pem: sb.cert_pem(),
        ..ClientOptions::default()
    };
    let r = check_connection_with(&sb.base_url(), sb.client_id(), &secret, opts).await;
    assert!(r.healthy, "{r:#?}");
    assert_eq!(status(&r, "tls"), StepStatus::Ok);
}

#[tokio::test]
async fn clock_skew_is_a_warning() {
    let behind = (chrono::Utc::now() - chrono::Duration::minutes(10)).to_rfc2822();
    let f = fake(
        move |req, _| match req.path.split('?').next().unwrap_or_default() {
            "/oauth2/token" => token_reply(3600).header("date", &behind),
            "/api/v1/api_keys" => Reply::json(200, EMPTY_KEYS),
            _ => Reply::json(
                404,
                r#"{"errors":{"code":"ROUTE_NOT_FOUND","message":"no"}}"#,
            ),
        },
    )
    .await;
    let r = check_connection(&f.base(), "id", &Secret::new("s")).await;
    assert!(r.healthy, "{r:#?}");
    assert_eq!(status(&r, "clock"), StepStatus::Warn);
    assert!(
        detail(&r, "clock").contains("ahead of"),
        "{}",
        detail(&r, "clock")
    );
    assert!(r.verdict.contains("clock"), "{}", r.verdict);
    assert!(r.next_action.contains("NTP"));
}
