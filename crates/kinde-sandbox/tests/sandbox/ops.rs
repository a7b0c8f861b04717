//! Operating knobs: rate limit, faults, latency, TLS, state file, stats and traffic routes.

#![allow(
    clippy::disallowed_methods,
    reason = "tests of the sandbox itself speak raw HTTP"
)]

use std::collections::BTreeSet;

use crate::support::*;
use kinde_sandbox::{Config, Seed};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn rate_limit_answers_429_with_ratelimit_reset_per_client() {
    let env = start(Config {
        rate_limit_per_min: Some(5),
        ..Config::default()
    })
    .await;
    let tok = env.token().await;
    for _ in 0..5 {
        assert_eq!(env.get(&tok, "/api/v1/api_keys").await.0, StatusCode::OK);
    }
    let r = send(env.http.get(env.url("/api/v1/api_keys")).bearer_auth(&tok)).await;
    let reset: u64 = r.header("ratelimit-reset").unwrap().parse().unwrap();
    assert!((1..=60).contains(&reset), "{reset}");
    let (st, v) = (r.status, r.json);
    assert_eq!(
        (st, first_code(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS")
    );
    // Another M2M app has its own window.
    let other = env
        .token_for("sandbox_readonly", "sandbox_readonly_secret")
        .await;
    assert_eq!(env.get(&other, "/api/v1/api_keys").await.0, StatusCode::OK);
    assert_eq!(env.sb.stats().rate_limited, 1);
}

#[tokio::test]
async fn faults_give_500_503_and_dropped_connections_but_not_on_sandbox_routes() {
    let env = start(Config {
        fault_rate: 1.0,
        latency_ms: 5,
        rng_seed: Some(1),
        ..Config::default()
    })
    .await;
    let mut seen = BTreeSet::new();
    for _ in 0..30 {
        match try_send(env.http.get(env.url("/.well-known/jwks"))).await {
            Ok(r) => {
                let (st, v) = (r.status, r.json);
                assert!(
                    v["errors"][0]["message"]
                        .as_str()
                        .unwrap()
                        .contains("Injected fault")
                );
                seen.insert(st.as_u16().to_string());
            }
            Err(e) => {
                assert!(!e.is_timeout() && !e.is_connect(), "{e:?}");
                seen.insert("dropped".to_string());
            }
        }
    }
    assert_eq!(
        seen,
        BTreeSet::from(["500".into(), "503".into(), "dropped".into()])
    );
    let (st, v) = env.get_open("/_sandbox/stats").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        v["requests"]["GET /.well-known/jwks"], 30,
        "faulted requests are counted"
    );
}

#[tokio::test]
async fn a_small_fault_rate_leaves_most_requests_alone() {
    let env = start(Config {
        fault_rate: 0.1,
        rng_seed: Some(9),
        ..Config::default()
    })
    .await;
    let mut ok = 0;
    for _ in 0..60 {
        if let Ok(r) = try_send(env.http.get(env.url("/.well-known/jwks"))).await {
            ok += u32::from(r.status == StatusCode::OK);
        }
    }
    assert!((40..60).contains(&ok), "{ok} of 60 answered normally");
}

#[tokio::test]
async fn tls_serves_https_to_a_client_that_trusts_the_pem() {
    let env = start(Config {
        tls: true,
        ..Config::default()
    })
    .await;
    assert!(env.base.starts_with("https://127.0.0.1:"));
    let trusting = trusting_client(env.sb.cert_pem().unwrap().as_bytes());
    // The token answers 200 (checked by `token_at`), then the token works.
    let tok = token_at(&trusting, &env.base, "sandbox-m2m", "sandbox-secret").await;
    let (st, _) = call(trusting.get(env.url("/api/v1/api_keys")).bearer_auth(&tok)).await;
    assert_eq!(st, StatusCode::OK);
    // With the `localhost` name and audience.
    let local = env.base.replace("127.0.0.1", "localhost");
    let tok = token_at(&trusting, &local, "sandbox-m2m", "sandbox-secret").await;
    let (st, _) = call(
        trusting
            .get(format!("{local}/api/v1/apis"))
            .bearer_auth(&tok),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    // A client that does not trust the certificate refuses it.
    let err = reqwest::Client::new()
        .get(env.url("/api/v1/apis"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    // Plain http on the TLS port does not work either.
    let plain = env.base.replace("https://", "http://");
    assert!(
        reqwest::Client::new()
            .get(format!("{plain}/api/v1/apis"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn state_file_keeps_keys_counts_and_hashes_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandbox-state.json");
    let cfg = || Config {
        state_file: Some(path.clone()),
        ..Config::default()
    };
    let env = start(cfg()).await;
    let tok = env.token().await;
    let (id, secret) = env.create_user_key(&tok, "kept").await;
    let (gone, _) = env.create_user_key(&tok, "revoked before restart").await;
    env.verify(&secret).await;
    env.verify(&secret).await;
    env.delete(&tok, &format!("/api/v1/api_keys/{gone}")).await;
    env.sb.shutdown().await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(&secret), "the state file holds no secret");
    assert!(text.contains(&id));

    // The seed is ignored when the file exists.
    let env = start(Config {
        seed: Seed::Demo,
        ..cfg()
    })
    .await;
    let tok = env.token().await;
    let (_, l) = env.get(&tok, "/api/v1/api_keys").await;
    assert_eq!(l["api_keys"].as_array().unwrap().len(), 2);
    let (_, d) = env.get(&tok, &format!("/api/v1/api_keys/{id}")).await;
    assert_eq!(d["api_key"]["verification_count"], 2);
    let (_, v) = env.verify(&secret).await;
    assert_eq!(
        (v["is_valid"].clone(), v["verification_count"].clone()),
        (json!(true), json!(3))
    );
    let (_, d) = env.get(&tok, &format!("/api/v1/api_keys/{gone}")).await;
    assert_eq!(d["api_key"]["status"], "revoked");
}

#[tokio::test]
async fn stats_count_routes_and_reset() {
    let env = start_default().await;
    let tok = env.token().await;
    let (id, _) = env.create_user_key(&tok, "stats").await;
    for _ in 0..3 {
        env.get(&tok, &format!("/api/v1/api_keys/{id}")).await;
    }
    env.get(&tok, "/api/v1/api_keys").await;
    env.put(&tok, &format!("/api/v1/api_keys/{id}")).await;
    env.delete(&tok, &format!("/api/v1/api_keys/{id}")).await;
    env.get(&tok, "/api/v1/users").await;
    let s = env.sb.stats();
    assert_eq!(
        (s.token, s.create_key, s.get_key, s.list_keys),
        (1, 1, 3, 1)
    );
    assert_eq!((s.rotate_key, s.revoke_key, s.other, s.total), (1, 1, 1, 9));
    let (_, v) = env.get_open("/_sandbox/stats").await;
    assert_eq!(v["requests"]["GET /api/v1/api_keys/{key_id}"], 3);
    assert_eq!(v["requests"]["POST /oauth2/token"], 1);
    assert_eq!(v["total"], 9);
    assert_eq!(env.sb.request_counts()["GET /api/v1/users"], 1);
    let (st, _) = call(env.http.post(env.url("/_sandbox/stats/reset"))).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(env.sb.stats(), kinde_sandbox::Stats::default());
    let (_, v) = env.get_open("/_sandbox/stats").await;
    assert_eq!(v["requests"], json!({}));
    env.get(&tok, "/api/v1/api_keys").await;
    env.sb.reset_stats();
    assert_eq!(env.sb.stats().total, 0);
}

async fn counts(env: &Env, tok: &str, ids: &[String]) -> Vec<u64> {
    let mut out = Vec::new();
    for id in ids {
        let (_, d) = env.get(tok, &format!("/api/v1/api_keys/{id}")).await;
        out.push(d["api_key"]["verification_count"].as_u64().unwrap());
    }
    out
}

#[tokio::test]
async fn traffic_route_and_simulate_verify_distinct_active_keys_once() {
    let env = start_demo().await;
    let tok = env.token().await;
    let (_, l) = env
        .get(&tok, "/api/v1/api_keys?status=active&page_size=500")
        .await;
    let active: Vec<String> = l["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_string())
        .collect();
    let before = counts(&env, &tok, &active).await;
    let (st, v) = call(
        env.http
            .post(env.url("/_sandbox/traffic"))
            .json(&json!({ "verifications": 7 })),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let mut hit: Vec<String> = v["key_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    hit.extend(env.sb.simulate_verifications(4));
    assert_eq!(hit.len(), 11);
    let after = counts(&env, &tok, &active).await;
    for (i, id) in active.iter().enumerate() {
        let times = hit.iter().filter(|h| *h == id).count() as u64;
        assert!(times <= 2);
        assert_eq!(after[i], before[i] + times, "{id}");
    }
    let (st, _) = call(env.http.post(env.url("/_sandbox/traffic")).json(&json!({}))).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn background_traffic_moves_busy_keys_and_never_touches_unused_ones() {
    let env = start(Config {
        seed: Seed::Demo,
        traffic_per_sec: 300.0,
        rng_seed: Some(5),
        ..Config::default()
    })
    .await;
    let tok = env.token().await;
    let list = |v: &Value| v["api_keys"].as_array().unwrap().clone();
    let (_, l) = env.get(&tok, "/api/v1/api_keys?page_size=500").await;
    let never: BTreeSet<String> = list(&l)
        .iter()
        .filter(|k| k["last_verified_on"].is_null())
        .map(|k| k["id"].as_str().unwrap().to_string())
        .collect();
    let start_t = chrono::Utc::now();
    let mut moved = 0;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (_, l) = env.get(&tok, "/api/v1/api_keys?page_size=500").await;
        moved = list(&l)
            .iter()
            .filter_map(|k| k["last_verified_on"].as_str())
            .filter(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap() >= start_t)
            .count();
        if moved >= 5 {
            let still: BTreeSet<String> = list(&l)
                .iter()
                .filter(|k| k["last_verified_on"].is_null())
                .map(|k| k["id"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(still, never, "never-used keys stay unused");
            break;
        }
    }
    assert!(moved >= 5, "traffic reached {moved} keys");
}

#[tokio::test]
async fn absurd_knobs_do_not_panic() {
    let cfg = Config {
        fault_rate: f64::NAN,
        token_ttl_secs: u64::MAX,
        traffic_per_sec: f64::INFINITY,
        ..Config::default()
    };
    let env = start(cfg).await;
    let tok = env.token().await;
    let (st, _) = env.get(&tok, "/api/v1/api_keys").await;
    assert_eq!(st, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    assert_eq!(env.get(&tok, "/api/v1/apis").await.0, StatusCode::OK);
}
