//! Every error code the client produces, each from a real answer over HTTP, each with a hint
//! and without the secret.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::fake_kinde::*;
use crate::support::*;
use keyward_core::kinde::{Client, ClientOptions, CreateKeyRequest, ListKeysQuery};
use keyward_core::model::key::Owner;
use keyward_core::{Error, ErrorCode};
use kinde_sandbox::{Config, READONLY_CLIENT};

const SECRET: &str = "very-secret-value";

fn create_req() -> CreateKeyRequest {
    CreateKeyRequest {
        name: "k".into(),
        owner: Owner::Organization {
            org_code: "org_1".into(),
        },
        api_id: "api1".into(),
        scope_ids: vec!["s1".into()],
    }
}

/// A fake whose Management API routes all answer `reply`.
async fn answering(reply: Reply) -> Client {
    let f = fake(move |req, _| match req.path.as_str() {
        "/oauth2/token" => token_reply(3600),
        _ => reply.clone(),
    })
    .await;
    let opts = ClientOptions {
        max_retries: 1,
        max_rate_limit_waits: 0,
        ..fast()
    };
    client_for(&f.base(), "id", SECRET, opts)
}

async fn token_answer(reply: Reply) -> Error {
    let f = fake(move |_, _| reply.clone()).await;
    let c = client_for(&f.base(), "id", SECRET, fast());
    c.token_info().await.unwrap_err()
}

#[tokio::test]
async fn every_code_is_mapped_with_a_hint() {
    let sb = sandbox(Config::default()).await;
    let mut seen: Vec<(ErrorCode, Error)> = Vec::new();
    let mut expect = |want: ErrorCode, e: Error| {
        assert_eq!(e.code, want, "{e:?}");
        seen.push((want, e));
    };
    let ok = client(&sb);

    expect(
        ErrorCode::InvalidInput,
        ok.get_key("a b").await.unwrap_err(),
    );
    expect(
        ErrorCode::SecretMissing,
        try_client("https://x.kinde.com", "id", " ").unwrap_err(),
    );
    let wrong = client_for(&sb.base_url(), sb.client_id(), SECRET, fast());
    expect(
        ErrorCode::InvalidClient,
        wrong.token_info().await.unwrap_err(),
    );
    expect(
        ErrorCode::UnauthorizedClient,
        token_answer(Reply::json(400, r#"{"error":"unauthorized_client"}"#)).await,
    );
    expect(
        ErrorCode::TokenRequestFailed,
        token_answer(Reply::json(
            400,
            r#"{"error":"invalid_scope","error_description":"x"}"#,
        ))
        .await,
    );
    let e = token_answer(Reply::json(200, "<html>not json</html>")).await;
    expect(ErrorCode::UnexpectedResponse, e);

    let unauth = Reply::json(
        401,
        r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad token"}]}"#,
    );
    expect(
        ErrorCode::Unauthenticated,
        answering(unauth).await.get_key("k1").await.unwrap_err(),
    );
    let ro = client_for(&sb.base_url(), READONLY_CLIENT.0, READONLY_CLIENT.1, fast());
    expect(
        ErrorCode::MissingScope,
        ro.revoke_key("api_key_1").await.unwrap_err(),
    );
    expect(
        ErrorCode::NotFound,
        ok.get_key("api_key_nope").await.unwrap_err(),
    );
    let bad = Reply::json(
        400,
        r#"{"errors":[{"code":"INVALID_SCOPE","message":"scope s1 is not of api1"}]}"#,
    );
    let e = answering(bad)
        .await
        .create_key(&create_req())
        .await
        .unwrap_err();
    assert!(
        e.message.contains("scope s1 is not of api1"),
        "{}",
        e.message
    );
    expect(ErrorCode::BadRequest, e);
    let slow = Reply::json(429, "{}").header("retry-after", "30");
    let e = answering(slow).await.list_orgs().await.unwrap_err();
    assert!(e.hint.contains("30 s"));
    expect(ErrorCode::RateLimited, e);
    let e = answering(Reply::json(502, ""))
        .await
        .list_users()
        .await
        .unwrap_err();
    expect(ErrorCode::ServerError, e);
    let e = answering(Reply::json(200, r#"{"api_keys":[{"id":"x"}]}"#)).await;
    expect(
        ErrorCode::UnexpectedResponse,
        e.list_keys_page(&ListKeysQuery::default())
            .await
            .unwrap_err(),
    );

    let dropped = answering(Reply::drop_connection()).await;
    expect(
        ErrorCode::Ambiguous,
        dropped.create_key(&create_req()).await.unwrap_err(),
    );
    expect(
        ErrorCode::Ambiguous,
        dropped.revoke_key("api_key_1").await.unwrap_err(),
    );
    expect(
        ErrorCode::Network,
        dropped.get_key("api_key_1").await.unwrap_err(),
    );

    let dns = client_for("https://nonexistent-keyward.invalid", "id", SECRET, fast());
    expect(ErrorCode::Dns, dns.token_info().await.unwrap_err());
    let tls_sb = sandbox(Config {
        tls: true,
        ..Config::default()
    })
    .await;
    let tls = client_for(&tls_sb.base_url(), "id", SECRET, fast());
    expect(ErrorCode::Tls, tls.token_info().await.unwrap_err());
    let port = refused_port();
    let refused = client_for(&format!("http://127.0.0.1:{port}"), "id", SECRET, fast());
    expect(
        ErrorCode::ConnectionRefused,
        refused.token_info().await.unwrap_err(),
    );
    let hang = Reply::json(200, EMPTY_KEYS).delay(Duration::from_secs(3));
    let f = fake(move |req, _| match req.path.as_str() {
        "/oauth2/token" => token_reply(3600),
        _ => hang.clone(),
    })
    .await;
    let c = client_with_timeout(
        &f.base(),
        "id",
        SECRET,
        Duration::from_millis(300),
        ClientOptions {
            max_retries: 0,
            ..fast()
        },
    );
    expect(ErrorCode::Timeout, c.list_apis().await.unwrap_err());

    let codes: BTreeSet<String> = seen.iter().map(|(c, _)| c.to_string()).collect();
    assert_eq!(codes.len(), 18, "{codes:?}");
    for (code, e) in &seen {
        assert!(!e.hint.trim().is_empty(), "{code}: empty hint");
        assert!(!e.message.trim().is_empty(), "{code}: empty message");
        let json = serde_json::to_string(e).unwrap();
        assert!(!json.contains(SECRET), "{code} leaks the secret: {json}");
    }
}
