//! Kinde may leave a field with no value out or send it as `null` (the sandbox leaves out the
//! spec's non-nullable ones): the client reads both forms of every answer the same way.

use crate::support::fake_kinde::*;
use crate::support::*;
use keyward_core::kinde::{Client, ListKeysQuery};
use keyward_core::secret::Secret;

/// Each route's answer, with its empty fields as `null` or left out.
fn answers(nulls: bool) -> Vec<(&'static str, String)> {
    let n = |field: &str| {
        if nulls {
            format!(r#","{field}":null"#)
        } else {
            String::new()
        }
    };
    let key = |detail: bool| {
        let mut k = String::from(
            r#"{"id":"api_key_1","name":"n","type":"user","status":"active","key_prefix":"k_live","api_ids":["api1"],"scopes":["read:data"]"#,
        );
        for f in [
            "key_suffix",
            "created_on",
            "last_verified_on",
            "last_verified_ip",
        ] {
            k.push_str(&n(f));
        }
        k.push_str(&n("created_by"));
        if detail {
            for f in ["verification_count", "organization_id", "user_id"] {
                k.push_str(&n(f));
            }
        }
        k.push('}');
        k
    };
    vec![
        (
            "/api/v1/api_keys",
            format!(
                r#"{{"code":"OK","message":"Success"{}"api_keys":[{}]}}"#,
                if nulls { r#","has_more":null,"# } else { "," },
                key(false)
            ),
        ),
        (
            "/api/v1/api_keys/api_key_1",
            format!(r#"{{"code":"OK","message":"Success","api_key":{}}}"#, key(true)),
        ),
        (
            "/api/v1/api_keys/verify",
            format!(
                r#"{{"code":"API_KEY_INVALID","message":"Invalid API key","is_valid":false{}{}{}{}{}{}{}}}"#,
                n("key_id"),
                n("status"),
                n("scopes"),
                n("org_code"),
                n("user_id"),
                n("last_verified_on"),
                n("verification_count")
            ),
        ),
        (
            "/api/v1/users",
            format!(
                r#"{{"code":"OK","message":"Success","users":[{{"id":"kp_1"{}{}{}{}{}}}]{}}}"#,
                n("email"),
                n("first_name"),
                n("last_name"),
                n("picture"),
                n("last_signed_in"),
                n("next_token")
            ),
        ),
        (
            "/api/v1/organizations",
            format!(
                r#"{{"code":"OK","message":"Success","organizations":[{{"code":"org_1","name":"O"{}{}}}]{}}}"#,
                n("handle"),
                n("external_id"),
                n("next_token")
            ),
        ),
        (
            "/api/v1/apis",
            format!(
                r#"{{"code":"OK","message":"Success","apis":[{{"id":"api1","name":"A","audience":"https://a"{}{}}}]{}}}"#,
                n("is_management_api"),
                n("scopes"),
                n("next_token")
            ),
        ),
        (
            "/api/v1/apis/api1/scopes",
            r#"{"code":"OK","message":"success_response","scopes":[{"id":"s1","key":"read:data"}]}"#
                .to_string(),
        ),
    ]
}

async fn client_answering(nulls: bool) -> Client {
    let routes = answers(nulls);
    let f = fake(move |req, _| {
        let path = req.path.split('?').next().unwrap_or_default();
        if path == "/oauth2/token" {
            return token_reply(3600);
        }
        match routes.iter().find(|(p, _)| *p == path) {
            Some((_, body)) => Reply::json(200, body),
            None => Reply::json(
                404,
                r#"{"errors":{"code":"ROUTE_NOT_FOUND","message":"x"}}"#,
            ),
        }
    })
    .await;
    client_for(&f.base(), "id", "secret", fast())
}

#[tokio::test]
async fn absent_and_null_fields_read_the_same() {
    let mut results = Vec::new();
    for nulls in [false, true] {
        let c = client_answering(nulls).await;
        let page = c.list_keys_page(&ListKeysQuery::default()).await.unwrap();
        let key = c.get_key("api_key_1").await.unwrap();
        let verify = c.verify_key(&Secret::new("k_live_x")).await.unwrap();
        let users = c.list_users().await.unwrap();
        let orgs = c.list_orgs().await.unwrap();
        let apis = c.list_apis().await.unwrap();
        results.push((page.keys, page.has_more, key, verify, users, orgs, apis));
    }
    let (absent, null) = (&results[0], &results[1]);
    assert_eq!(absent, null, "absent vs null");
    let (keys, has_more, key, verify, users, orgs, apis) = absent;
    assert!(!has_more);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key_suffix, None);
    assert_eq!(key.verification_count, None);
    assert_eq!(
        (key.user_id.as_deref(), key.org_code.as_deref()),
        (None, None)
    );
    assert!(!verify.is_valid);
    assert_eq!((verify.key_id.as_deref(), verify.status), (None, None));
    assert_eq!(verify.verification_count, None);
    assert!(verify.scopes.is_empty());
    assert_eq!(
        (users[0].id.as_str(), users[0].email.as_deref()),
        ("kp_1", None)
    );
    assert_eq!(orgs[0].code, "org_1");
    // Scopes not expanded (absent or null): fetched per API.
    assert_eq!(apis[0].scopes.len(), 1);
    assert!(!apis[0].is_management_api);
}
