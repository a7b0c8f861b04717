//! Paging: key walks with `starting_after`/`has_more` (and a property test over page sizes and
//! filters), `next_token` walks of orgs and users, and the paging 400s.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::*;
use kinde_sandbox::{Config, Seed};
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestRunner};
use reqwest::StatusCode;
use serde_json::Value;

/// What the detail endpoint says about each key: (type, status, user_id, org_code).
type Truth = BTreeMap<String, (String, String, Option<String>, Option<String>)>;

async fn truth(env: &Env, tok: &str) -> Truth {
    let (_, l) = env.get(tok, "/api/v1/api_keys?page_size=500").await;
    let mut out = Truth::new();
    for k in l["api_keys"].as_array().unwrap() {
        let id = k["id"].as_str().unwrap();
        let (_, d) = env.get(tok, &format!("/api/v1/api_keys/{id}")).await;
        let d = &d["api_key"];
        let s = |f: &str| d[f].as_str().map(str::to_string);
        out.insert(
            id.to_string(),
            (
                s("type").unwrap(),
                s("status").unwrap(),
                s("user_id"),
                s("organization_id"),
            ),
        );
    }
    out
}

/// Walks every page; returns the ids in order and the number of requests.
async fn walk(env: &Env, tok: &str, query: &str) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/api/v1/api_keys?{query}");
        if let Some(a) = &after {
            path.push_str(&format!("&starting_after={a}"));
        }
        let (st, v) = env.get(tok, &path).await;
        assert_eq!(st, StatusCode::OK, "{path}: {v}");
        pages += 1;
        let page: Vec<String> = v["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_string())
            .collect();
        ids.extend(page.iter().cloned());
        if !v["has_more"].as_bool().unwrap() {
            return (ids, pages);
        }
        assert!(!page.is_empty(), "has_more with an empty page");
        after = page.last().cloned();
    }
}

#[derive(Debug, Clone)]
struct Filter {
    key_type: Option<&'static str>,
    status: Option<&'static str>,
    user: Option<usize>,
    org: Option<usize>,
}

fn filter_strategy() -> impl Strategy<Value = Filter> {
    (
        proptest::option::of(prop_oneof![Just("user"), Just("organization")]),
        proptest::option::of(prop_oneof![
            Just("active"),
            Just("inactive"),
            Just("revoked")
        ]),
        proptest::option::weighted(0.2, 0usize..1000),
        proptest::option::weighted(0.2, 0usize..1000),
    )
        .prop_map(|(key_type, status, user, org)| Filter {
            key_type,
            status,
            user,
            org,
        })
}

#[test]
fn any_page_size_and_filter_walks_each_matching_key_exactly_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (env, tok, truth) = rt.block_on(async {
        let cfg = Config {
            seed: Seed::Demo,
            extra_keys: 60,
            rng_seed: Some(11),
            ..Config::default()
        };
        let env = start(cfg).await;
        let tok = env.token().await;
        let t = truth(&env, &tok).await;
        (env, tok, t)
    });
    assert!(truth.len() >= 200, "{} keys", truth.len());
    let users: Vec<String> = truth
        .values()
        .filter_map(|t| t.2.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let orgs: Vec<String> = truth
        .values()
        .filter_map(|t| t.3.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut runner = TestRunner::new(PtConfig {
        cases: 48,
        ..PtConfig::default()
    });
    runner
        .run(&(1u32..=600, filter_strategy()), |(size, f)| {
            let user = f.user.map(|i| users[i % users.len()].clone());
            let org = f.org.map(|i| orgs[i % orgs.len()].clone());
            let mut q = format!("page_size={size}");
            for (k, v) in [
                ("key_type", f.key_type.map(str::to_string)),
                ("status", f.status.map(str::to_string)),
                ("user_id", user.clone()),
                ("org_code", org.clone()),
            ] {
                if let Some(v) = v {
                    q.push_str(&format!("&{k}={v}"));
                }
            }
            let expected: Vec<String> = truth
                .iter()
                .filter(|(_, t)| f.key_type.is_none_or(|x| t.0 == x))
                .filter(|(_, t)| f.status.is_none_or(|x| t.1 == x))
                .filter(|(_, t)| user.is_none() || t.2 == user)
                .filter(|(_, t)| org.is_none() || t.3 == org)
                .map(|(id, _)| id.clone())
                .collect();
            let (got, pages) = rt.block_on(walk(&env, &tok, &q));
            let unique: BTreeSet<&String> = got.iter().collect();
            prop_assert_eq!(unique.len(), got.len(), "duplicates for {}", q);
            prop_assert_eq!(&got, &expected, "walk of {}", q);
            let per_page = (size as usize).min(500);
            prop_assert_eq!(
                pages,
                expected.len().div_ceil(per_page).max(1),
                "pages for {}",
                q
            );
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn default_page_is_50_and_page_size_caps_at_500() {
    let env = start(Config {
        extra_keys: 520,
        rng_seed: Some(3),
        ..Config::default()
    })
    .await;
    let tok = env.token().await;
    let (_, v) = env.get(&tok, "/api/v1/api_keys").await;
    assert_eq!(v["api_keys"].as_array().unwrap().len(), 50);
    assert_eq!(v["has_more"], true);
    let (_, v) = env.get(&tok, "/api/v1/api_keys?page_size=100000").await;
    assert_eq!(v["api_keys"].as_array().unwrap().len(), 500);
    let (ids, pages) = walk(&env, &tok, "page_size=500").await;
    assert_eq!((ids.len(), pages), (520, 2));
}

#[tokio::test]
async fn keys_created_during_a_walk_come_last_and_nothing_is_skipped() {
    let env = start(Config {
        extra_keys: 80,
        ..Config::default()
    })
    .await;
    let tok = env.token().await;
    let (before, _) = walk(&env, &tok, "page_size=500").await;
    let (_, v) = env.get(&tok, "/api/v1/api_keys?page_size=40").await;
    let after = v["api_keys"][39]["id"].as_str().unwrap().to_string();
    let body = serde_json::json!({ "name": "mid-walk", "type": "organization",
        "api_id": kinde_sandbox::EMPTY_API_ID, "org_code": kinde_sandbox::EMPTY_ORG_CODE });
    for _ in 0..5 {
        assert_eq!(
            env.post(&tok, "/api/v1/api_keys", &body).await.0,
            StatusCode::CREATED
        );
    }
    let (rest, _) = walk(&env, &tok, &format!("page_size=7&starting_after={after}")).await;
    assert_eq!(&rest[..before.len() - 40], &before[40..]);
    assert_eq!(rest.len(), before.len() - 40 + 5);
}

#[tokio::test]
async fn bad_paging_and_filters_are_400s() {
    let env = start_demo().await;
    let tok = env.token().await;
    for (q, code) in [
        ("page_size=0", "INVALID_PAGE_SIZE"),
        ("page_size=-3", "INVALID_PAGE_SIZE"),
        ("page_size=ten", "INVALID_PAGE_SIZE"),
        ("status=expired", "INVALID_STATUS"),
        ("key_type=environment", "INVALID_KEY_TYPE"),
        (
            "starting_after=api_key_ffffffffffffffffffffffffffffffff",
            "INVALID_STARTING_AFTER",
        ),
    ] {
        let (st, v) = env.get(&tok, &format!("/api/v1/api_keys?{q}")).await;
        assert_eq!((st, first_code(&v)), (StatusCode::BAD_REQUEST, code), "{q}");
    }
    for path in [
        "/api/v1/organizations?next_token=garbage",
        "/api/v1/users?page_size=0",
    ] {
        let (st, v) = env.get(&tok, path).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{path}: {v}");
    }
}

async fn walk_tokens(env: &Env, tok: &str, path: &str, field: &str, id: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let url = match &next {
            Some(n) => format!("{path}&next_token={n}"),
            None => path.to_string(),
        };
        let (st, v) = env.get(tok, &url).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        out.extend(
            v[field]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x[id].as_str().unwrap().to_string()),
        );
        match v.get("next_token").and_then(Value::as_str) {
            Some(n) => next = Some(n.to_string()),
            None => return out,
        }
    }
}

#[tokio::test]
async fn orgs_and_users_walk_with_next_token() {
    let env = start_demo().await;
    let tok = env.token().await;
    let orgs = walk_tokens(
        &env,
        &tok,
        "/api/v1/organizations?page_size=5",
        "organizations",
        "code",
    )
    .await;
    assert_eq!(orgs.len(), 12);
    assert_eq!(orgs.iter().collect::<BTreeSet<_>>().len(), 12);
    let (_, first) = env.get(&tok, "/api/v1/organizations").await;
    assert_eq!(
        first["organizations"].as_array().unwrap().len(),
        10,
        "default page is 10"
    );
    let users = walk_tokens(&env, &tok, "/api/v1/users?page_size=7", "users", "id").await;
    assert_eq!(users.len(), 40);
    assert_eq!(users.iter().collect::<BTreeSet<_>>().len(), 40);
    let names = walk_tokens(
        &env,
        &tok,
        "/api/v1/organizations?sort=name_desc&page_size=4",
        "organizations",
        "name",
    )
    .await;
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted);
}
