//! Every route against the sandbox: keys CRUD + verify, apis, orgs, users, paging, 403, 404,
//! and input checks that send nothing.

use std::collections::HashSet;

use crate::support::*;
use keyward_core::ErrorCode;
use keyward_core::kinde::{CreateKeyRequest, ListKeysQuery, RequestCounts};
use keyward_core::model::key::{KeyStatus, KeyType, Owner};
use keyward_core::secret::Secret;
use kinde_sandbox::{Config, EMPTY_API_ID, EMPTY_ORG_CODE, EMPTY_USER_ID, READONLY_CLIENT};

async fn read_data_scope(c: &keyward_core::kinde::Client) -> String {
    let scopes = c.api_scopes(EMPTY_API_ID).await.unwrap();
    scopes
        .into_iter()
        .find(|s| s.key == "read:data")
        .unwrap()
        .id
}

#[tokio::test]
async fn create_show_verify_rotate_revoke() {
    let sb = sandbox(Config::default()).await;
    let c = client(&sb);

    let apis = c.list_apis().await.unwrap();
    let api = apis.iter().find(|a| a.id == EMPTY_API_ID).unwrap();
    let keys: Vec<&str> = api.scopes.iter().map(|s| s.key.as_str()).collect();
    assert!(keys.contains(&"read:data") && keys.contains(&"write:data"));
    assert!(
        c.list_orgs()
            .await
            .unwrap()
            .iter()
            .any(|o| o.code == EMPTY_ORG_CODE)
    );
    assert!(
        c.list_users()
            .await
            .unwrap()
            .iter()
            .any(|u| u.id == EMPTY_USER_ID)
    );

    let scope = read_data_scope(&c).await;
    let req = CreateKeyRequest {
        name: "Production integration".into(),
        owner: Owner::Organization {
            org_code: EMPTY_ORG_CODE.into(),
        },
        api_id: EMPTY_API_ID.into(),
        scope_ids: vec![scope],
    };
    let created = c.create_key(&req).await.unwrap();
    assert!(created.key.expose().starts_with("k_live_"));
    assert!(!format!("{created:?}").contains(created.key.expose()));

    let k = c.get_key(&created.id).await.unwrap();
    assert_eq!(k.name, "Production integration");
    assert_eq!(k.key_type, KeyType::Organization);
    assert_eq!(k.status, KeyStatus::Active);
    assert_eq!(k.org_code.as_deref(), Some(EMPTY_ORG_CODE));
    assert_eq!(k.verification_count, Some(0));
    assert_eq!(k.scopes, vec!["read:data".to_string()]);
    let (prefix, suffix) = created.key.prefix_suffix();
    assert_eq!(
        (k.key_prefix.as_str(), k.key_suffix.as_deref()),
        (prefix.as_str(), Some(suffix.as_str()))
    );

    let old = Secret::new(created.key.expose());
    let v = c.verify_key(&old).await.unwrap();
    assert!(v.is_valid);
    assert_eq!(v.key_id.as_deref(), Some(created.id.as_str()));
    assert_eq!(v.org_code.as_deref(), Some(EMPTY_ORG_CODE));
    assert!(v.note.contains("verification"));
    assert_eq!(
        c.get_key(&created.id).await.unwrap().verification_count,
        Some(1)
    );

    let rotated = c.rotate_key(&created.id).await.unwrap();
    assert_eq!(rotated.id, created.id);
    assert_ne!(rotated.key.expose(), created.key.expose());
    assert!(
        !c.verify_key(&old).await.unwrap().is_valid,
        "old secret dies at once"
    );
    assert!(
        c.verify_key(&Secret::new(rotated.key.expose()))
            .await
            .unwrap()
            .is_valid
    );

    c.revoke_key(&created.id).await.unwrap();
    assert_eq!(
        c.get_key(&created.id).await.unwrap().status,
        KeyStatus::Revoked
    );
    let v = c
        .verify_key(&Secret::new(rotated.key.expose()))
        .await
        .unwrap();
    assert!(!v.is_valid);
    assert_eq!(v.status, Some(KeyStatus::Revoked));

    let user_key = CreateKeyRequest {
        name: "cli".into(),
        owner: Owner::User {
            user_id: EMPTY_USER_ID.into(),
        },
        api_id: EMPTY_API_ID.into(),
        scope_ids: vec![],
    };
    let id = c.create_key(&user_key).await.unwrap().id;
    let k = c.get_key(&id).await.unwrap();
    assert_eq!(
        (k.key_type, k.user_id.as_deref()),
        (KeyType::User, Some(EMPTY_USER_ID))
    );

    let s = sb.stats();
    assert_eq!(
        (s.create_key, s.rotate_key, s.revoke_key, s.verify_key),
        (2, 1, 1, 4)
    );
    let counts = c.request_counts();
    assert_eq!((counts.write, counts.verify, counts.retries), (4, 4, 0));
}

#[tokio::test]
async fn list_pages_to_the_end_over_1200_keys() {
    let sb = sandbox(Config {
        extra_keys: 1200,
        ..Config::default()
    })
    .await;
    let c = client(&sb);
    let all = c.list_keys_all(&ListKeysQuery::default()).await.unwrap();
    assert_eq!(all.len(), 1200);
    let ids: HashSet<&str> = all.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids.len(), 1200, "no duplicates across pages");
    assert_eq!(sb.stats().list_keys, 3, "pages of 500, 500, 200");

    let page = c
        .list_keys_page(&ListKeysQuery {
            page_size: Some(10),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.keys.len(), 10);
    assert!(page.has_more);

    let q = ListKeysQuery {
        key_type: Some(KeyType::User),
        ..Default::default()
    };
    let users = c.list_keys_all(&q).await.unwrap();
    assert!(!users.is_empty() && users.len() < 1200);
    assert!(users.iter().all(|k| k.key_type == KeyType::User));
}

#[tokio::test]
async fn not_found_names_the_key() {
    let sb = sandbox(Config::default()).await;
    let c = client(&sb);
    let id = "api_key_00000000000000000000000000000000";
    for e in [
        c.get_key(id).await.unwrap_err(),
        c.rotate_key(id).await.unwrap_err(),
        c.revoke_key(id).await.unwrap_err(),
    ] {
        assert_eq!(e.code, ErrorCode::NotFound);
        assert!(e.message.contains(id), "{}", e.message);
        assert!(!e.hint.is_empty());
    }
    // Kinde's spec lists no 404 for an unknown API id: it is a 400, and the message names it.
    let e = c.api_scopes("nosuchapi").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::BadRequest);
    assert!(e.message.contains("nosuchapi"), "{}", e.message);
    assert!(e.hint.contains("keyward apis list"), "{}", e.hint);
}

#[tokio::test]
async fn read_only_app_gets_403_naming_the_scope() {
    let sb = sandbox(Config::default()).await;
    let c = client_for(&sb.base_url(), READONLY_CLIENT.0, READONLY_CLIENT.1, fast());
    c.list_keys_page(&ListKeysQuery::default()).await.unwrap();
    let req = CreateKeyRequest {
        name: "x".into(),
        owner: Owner::Organization {
            org_code: EMPTY_ORG_CODE.into(),
        },
        api_id: EMPTY_API_ID.into(),
        scope_ids: vec![],
    };
    let id = "api_key_00000000000000000000000000000000";
    for (e, scope) in [
        (c.create_key(&req).await.unwrap_err(), "create:api_keys"),
        (c.rotate_key(id).await.unwrap_err(), "update:api_keys"),
        (c.revoke_key(id).await.unwrap_err(), "delete:api_keys"),
    ] {
        assert_eq!(e.code, ErrorCode::MissingScope);
        assert!(e.message.contains(scope), "{}", e.message);
        assert!(
            e.hint.contains(scope) && e.hint.contains("Settings > APIs"),
            "{}",
            e.hint
        );
    }
    sb.add_client("only-users", "only-users-secret", &["read:users"]);
    let c = client_for(&sb.base_url(), "only-users", "only-users-secret", fast());
    c.list_users().await.unwrap();
    let e = c.list_orgs().await.unwrap_err();
    assert!(e.message.contains("read:organizations"), "{}", e.message);
    let e = c.list_apis().await.unwrap_err();
    assert!(e.message.contains("read:apis"), "{}", e.message);
}

#[tokio::test]
async fn input_is_checked_before_any_request() {
    let sb = sandbox(Config::default()).await;
    let c = client(&sb);
    let org = |name: &str| CreateKeyRequest {
        name: name.into(),
        owner: Owner::Organization {
            org_code: EMPTY_ORG_CODE.into(),
        },
        api_id: EMPTY_API_ID.into(),
        scope_ids: vec![],
    };
    let mut errors = vec![
        c.get_key("api_key_1 ").await.unwrap_err(),
        c.get_key("").await.unwrap_err(),
        c.get_key("../users").await.unwrap_err(),
        c.rotate_key("api key").await.unwrap_err(),
        c.revoke_key("api_key_1\n").await.unwrap_err(),
        c.create_key(&org("  ")).await.unwrap_err(),
        c.create_key(&org("two\nlines")).await.unwrap_err(),
        c.verify_key(&Secret::new("")).await.unwrap_err(),
        c.verify_key(&Secret::new("k_live_abc def"))
            .await
            .unwrap_err(),
        c.api_scopes("a/b").await.unwrap_err(),
    ];
    let mut user_key = org("x");
    user_key.owner = Owner::User {
        user_id: " ".into(),
    };
    errors.push(c.create_key(&user_key).await.unwrap_err());
    let mut bad_api = org("x");
    bad_api.api_id = "my api".into();
    errors.push(c.create_key(&bad_api).await.unwrap_err());
    let mut bad_scope = org("x");
    bad_scope.scope_ids = vec!["read data".into()];
    errors.push(c.create_key(&bad_scope).await.unwrap_err());
    for size in [0, 501] {
        let q = ListKeysQuery {
            page_size: Some(size),
            ..Default::default()
        };
        errors.push(c.list_keys_page(&q).await.unwrap_err());
    }
    let q = ListKeysQuery {
        org_code: Some("org 1".into()),
        ..Default::default()
    };
    errors.push(c.list_keys_page(&q).await.unwrap_err());
    for e in &errors {
        assert_eq!(e.code, ErrorCode::InvalidInput, "{e:?}");
        assert!(!e.hint.trim().is_empty(), "{e:?}");
    }
    assert!(
        errors[10].message.contains("user"),
        "{}",
        errors[10].message
    );
    assert_eq!(sb.stats().total, 0, "nothing was sent");
    assert_eq!(c.request_counts(), RequestCounts::default());
}
