//! APIs, scopes, organizations and users: success paths and the demo seed's shape.

use std::collections::BTreeSet;

use crate::support::*;
use kinde_sandbox::{Config, EMPTY_API_ID, Seed};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn apis_with_scopes_and_one_api_and_its_scopes() {
    let env = start_demo().await;
    let tok = env.token().await;
    let (st, v) = env.get(&tok, "/api/v1/apis").await;
    assert_eq!(st, StatusCode::OK);
    let apis = v["apis"].as_array().unwrap();
    assert_eq!(apis.len(), 3);
    let names: Vec<&str> = apis.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["Analytics API", "Inventory API", "Payments API"],
        "sorted by name"
    );
    assert!(v.get("next_token").is_none());
    for a in apis {
        assert!(a["scopes"].as_array().unwrap().len() >= 3);
        assert_eq!(a["is_management_api"], false);
        let id = a["id"].as_str().unwrap();
        let (st, one) = env.get(&tok, &format!("/api/v1/apis/{id}")).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(one["api"]["name"], a["name"]);
        assert_eq!(one["api"]["scopes"], a["scopes"]);
        let (st, s) = env.get(&tok, &format!("/api/v1/apis/{id}/scopes")).await;
        assert_eq!(st, StatusCode::OK);
        let ids: Vec<&serde_json::Value> = s["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| &x["id"])
            .collect();
        let want: Vec<&serde_json::Value> = a["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| &x["id"])
            .collect();
        assert_eq!(ids, want);
        assert!(
            s["scopes"][0]["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        assert!(
            s["scopes"][0]["id"]
                .as_str()
                .unwrap()
                .starts_with("api_scope_")
        );
    }
}

#[tokio::test]
async fn users_filter_by_email_and_id() {
    let env = start_demo().await;
    let tok = env.token().await;
    let (_, v) = env.get(&tok, "/api/v1/users?page_size=3").await;
    let u = &v["users"][1];
    let email = u["email"].as_str().unwrap();
    let (_, f) = env
        .get(
            &tok,
            &format!("/api/v1/users?email={}", email.to_uppercase()),
        )
        .await;
    assert_eq!(f["users"].as_array().unwrap().len(), 1);
    assert_eq!(f["users"][0]["id"], u["id"]);
    let ids = format!(
        "{},{}",
        v["users"][0]["id"].as_str().unwrap(),
        u["id"].as_str().unwrap()
    );
    let (_, f) = env.get(&tok, &format!("/api/v1/users?user_id={ids}")).await;
    assert_eq!(f["users"].as_array().unwrap().len(), 2);
    assert!(u["id"].as_str().unwrap().starts_with("kp_"));
    assert!(u["organizations"].as_array().unwrap().len() == 1);
}

#[tokio::test]
async fn the_demo_business_is_varied() {
    let env = start_demo().await;
    let tok = env.token().await;
    let (_, l) = env.get(&tok, "/api/v1/api_keys?page_size=500").await;
    let keys = l["api_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 150);
    let statuses: BTreeSet<&str> = keys.iter().map(|k| k["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, BTreeSet::from(["active", "inactive", "revoked"]));
    let types: BTreeSet<&str> = keys.iter().map(|k| k["type"].as_str().unwrap()).collect();
    assert_eq!(types, BTreeSet::from(["organization", "user"]));
    let never = keys
        .iter()
        .filter(|k| k["last_verified_on"].is_null())
        .count();
    assert!(never >= 10, "some keys were never used: {never}");
    let now = chrono::Utc::now();
    let stale = keys
        .iter()
        .filter_map(|k| k["last_verified_on"].as_str())
        .filter(|t| {
            now - chrono::DateTime::parse_from_rfc3339(t).unwrap().to_utc()
                > chrono::Duration::days(60)
        })
        .count();
    assert!(stale >= 10, "some keys are stale: {stale}");
    let names: BTreeSet<&str> = keys.iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert!(names.len() > 40, "names vary: {}", names.len());
    let apis: BTreeSet<&str> = keys
        .iter()
        .map(|k| k["api_ids"][0].as_str().unwrap())
        .collect();
    assert_eq!(apis.len(), 3);
    // Counts vary: at least one busy key and at least one zero.
    let mut counts = Vec::new();
    for k in keys.iter().take(60) {
        let (_, d) = env
            .get(
                &tok,
                &format!("/api/v1/api_keys/{}", k["id"].as_str().unwrap()),
            )
            .await;
        counts.push(d["api_key"]["verification_count"].as_u64().unwrap());
    }
    assert!(
        counts.contains(&0) && counts.iter().any(|&c| c > 1000),
        "{counts:?}"
    );
}

#[tokio::test]
async fn the_same_rng_seed_gives_the_same_business() {
    let cfg = || Config {
        seed: Seed::Demo,
        rng_seed: Some(42),
        ..Config::default()
    };
    let (a, b) = (start(cfg()).await, start(cfg()).await);
    let (ta, tb) = (a.token().await, b.token().await);
    let (_, la) = a.get(&ta, "/api/v1/organizations?page_size=50").await;
    let (_, lb) = b.get(&tb, "/api/v1/organizations?page_size=50").await;
    assert_eq!(la, lb);
    let (_, ka) = a.get(&ta, "/api/v1/api_keys?page_size=5").await;
    let (_, kb) = b.get(&tb, "/api/v1/api_keys?page_size=5").await;
    // Ids start with the creation time, which is relative to now: compare the random part.
    let ids = |v: &serde_json::Value| {
        let keys = v["api_keys"].as_array().unwrap();
        keys.iter()
            .map(|k| {
                (
                    k["id"].as_str().unwrap()[20..].to_string(),
                    k["name"].clone(),
                    k["status"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&ka), ids(&kb));
    let _ = json!(EMPTY_API_ID);
}
