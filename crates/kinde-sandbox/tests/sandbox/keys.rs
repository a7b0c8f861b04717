//! API keys: create (and each 400), get, 404, rotate, revoke, verify counting, Kinde-client quirks.

use crate::support::*;
use kinde_sandbox::{EMPTY_API_ID, EMPTY_ORG_CODE, EMPTY_USER_ID};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn create_answers_201_with_the_spec_shape_and_get_shows_details() {
    let env = start_default().await;
    let tok = env.token().await;
    let body = json!({
        "name": "  Billing worker ", "type": "organization", "api_id": EMPTY_API_ID,
        "scope_ids": ["read:data", "write:data", "read:data"], "org_code": EMPTY_ORG_CODE,
    });
    let (st, v) = env.post(&tok, "/api/v1/api_keys", &body).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["code"], "API_KEY_CREATED");
    let id = v["api_key"]["id"].as_str().unwrap();
    let key = v["api_key"]["key"].as_str().unwrap();
    assert!(id.starts_with("api_key_") && id.len() == 40, "{id}");
    assert!(key.starts_with("k_live_") && key[7..].chars().all(|c| c.is_ascii_alphanumeric()));

    let (st, d) = env.get(&tok, &format!("/api/v1/api_keys/{id}")).await;
    assert_eq!(st, StatusCode::OK);
    let k = &d["api_key"];
    assert_eq!(k["name"], "Billing worker");
    assert_eq!(k["type"], "organization");
    assert_eq!(k["status"], "active");
    assert_eq!(k["key_prefix"], &key[..6]);
    assert_eq!(k["key_suffix"], &key[key.len() - 4..]);
    assert_eq!(k["api_ids"], json!([EMPTY_API_ID]));
    assert_eq!(k["scopes"], json!(["read:data", "write:data"]));
    assert_eq!(k["verification_count"], 0);
    assert_eq!(k["organization_id"], EMPTY_ORG_CODE);
    assert_eq!(k["user_id"], Value::Null);
    assert_eq!(k["last_verified_on"], Value::Null);
    assert_eq!(k["created_by"], "sandbox-m2m");
    chrono::DateTime::parse_from_rfc3339(k["created_on"].as_str().unwrap()).unwrap();
    // The secret itself appears nowhere after creation.
    assert!(!d.to_string().contains(key));

    // Scope ids work as well as keys.
    let (_, s) = env
        .get(&tok, &format!("/api/v1/apis/{EMPTY_API_ID}/scopes"))
        .await;
    let scope_id = s["scopes"][1]["id"].as_str().unwrap();
    let body = json!({ "name": "by id", "type": "user", "api_id": EMPTY_API_ID,
        "scope_ids": [scope_id], "user_id": EMPTY_USER_ID });
    let (st, v) = env.post(&tok, "/api/v1/api_keys", &body).await;
    assert_eq!(st, StatusCode::CREATED);
    let id = v["api_key"]["id"].as_str().unwrap();
    let (_, d) = env.get(&tok, &format!("/api/v1/api_keys/{id}")).await;
    assert_eq!(d["api_key"]["scopes"], json!(["write:data"]));
    assert_eq!(d["api_key"]["user_id"], EMPTY_USER_ID);
    assert_eq!(d["api_key"]["organization_id"], Value::Null);
}

#[tokio::test]
async fn each_create_validation_is_a_400_with_errors() {
    let env = start_default().await;
    let tok = env.token().await;
    let ok = json!({ "name": "n", "type": "user", "api_id": EMPTY_API_ID,
        "scope_ids": ["read:data"], "user_id": EMPTY_USER_ID });
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = ok.clone();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    let cases = vec![
        (without("name"), "NAME_REQUIRED"),
        (with("name", json!("   ")), "NAME_REQUIRED"),
        (with("name", json!("x".repeat(129))), "NAME_TOO_LONG"),
        (without("type"), "TYPE_REQUIRED"),
        (with("type", json!("environment")), "INVALID_TYPE"),
        (without("api_id"), "API_ID_REQUIRED"),
        (with("api_id", json!("nope")), "INVALID_API_ID"),
        (
            with("scope_ids", json!(["read:data", "admin:everything"])),
            "INVALID_SCOPE",
        ),
        (without("user_id"), "USER_ID_REQUIRED"),
        (with("user_id", json!("kp_nobody")), "INVALID_USER_ID"),
        (with("type", json!("organization")), "ORG_CODE_REQUIRED"),
        (with("org_code", json!("org_nope")), "INVALID_ORG_CODE"),
        (with("name", json!(42)), "INVALID_JSON"),
    ];
    for (body, code) in cases {
        let (st, v) = env.post(&tok, "/api/v1/api_keys", &body).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        let codes: Vec<&str> = v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["code"].as_str().unwrap())
            .collect();
        assert!(codes.contains(&code), "{body} -> {v}");
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // Not JSON at all.
    let (st, v) = call(
        env.http
            .post(env.url("/api/v1/api_keys"))
            .bearer_auth(&tok)
            .header("content-type", "application/json")
            .body("{nope"),
    )
    .await;
    assert_eq!(
        (st, first_code(&v)),
        (StatusCode::BAD_REQUEST, "INVALID_JSON")
    );
    // Several problems at once are all reported.
    let (_, v) = env.post(&tok, "/api/v1/api_keys", &json!({})).await;
    assert!(v["errors"].as_array().unwrap().len() >= 3, "{v}");
    // Nothing was created.
    let (_, l) = env.get(&tok, "/api/v1/api_keys").await;
    assert_eq!(l["api_keys"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn unknown_key_ids_answer_404_with_the_object_shape_and_unknown_api_ids_400() {
    let env = start_default().await;
    let tok = env.token().await;
    let id = "api_key_0195ac80a14e8d71f42b98e75d3c61ad";
    for (st, v) in [
        env.get(&tok, &format!("/api/v1/api_keys/{id}")).await,
        env.put(&tok, &format!("/api/v1/api_keys/{id}")).await,
        env.delete(&tok, &format!("/api/v1/api_keys/{id}")).await,
    ] {
        assert_eq!(st, StatusCode::NOT_FOUND);
        assert!(v["errors"].is_object(), "{v}");
        assert!(v["errors"]["code"].as_str().unwrap().ends_with("NOT_FOUND"));
    }
    // The spec lists no 404 for the APIs routes: an unknown API id is a 400.
    for path in ["/api/v1/apis/nope", "/api/v1/apis/nope/scopes"] {
        let (st, v) = env.get(&tok, path).await;
        assert_eq!(
            (st, first_code(&v)),
            (StatusCode::BAD_REQUEST, "INVALID_API_ID"),
            "{path}"
        );
    }
    let (st, v) = call(env.http.get(env.url("/api/v2/whatever"))).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(v["errors"]["code"], "ROUTE_NOT_FOUND");
}

#[tokio::test]
async fn rotate_keeps_the_id_and_the_old_secret_fails_at_once() {
    let env = start_default().await;
    let tok = env.token().await;
    let (id, old) = env.create_user_key(&tok, "rotating").await;
    assert_eq!(env.verify(&old).await.1["is_valid"], true);
    // Like Kinde's SDK: PUT with no body and no Content-Type.
    let (st, v) = call(
        env.http
            .put(env.url(&format!("/api/v1/api_keys/{id}")))
            .bearer_auth(&tok)
            .header("content-length", "0"),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["code"], "API_KEY_ROTATED");
    assert_eq!(v["api_key"]["id"], id.as_str());
    let new = v["api_key"]["key"].as_str().unwrap();
    assert_ne!(new, old);
    let (_, o) = env.verify(&old).await;
    assert_eq!(o["is_valid"], false);
    // Non-nullable in the spec: absent, not null.
    assert!(
        o.get("key_id").is_none() && o.get("status").is_none(),
        "{o}"
    );
    assert!(o.get("verification_count").is_none(), "{o}");
    let (_, n) = env.verify(new).await;
    assert_eq!(
        (n["is_valid"].clone(), n["key_id"].clone()),
        (json!(true), json!(id))
    );
    let (_, d) = env.get(&tok, &format!("/api/v1/api_keys/{id}")).await;
    assert_eq!(d["api_key"]["key_suffix"], &new[new.len() - 4..]);
    assert_eq!(d["api_key"]["status"], "active");
    assert_eq!(d["api_key"]["verification_count"], 2);
}

#[tokio::test]
async fn revoke_keeps_the_key_listed_and_it_never_verifies_again() {
    let env = start_default().await;
    let tok = env.token().await;
    let (id, secret) = env.create_user_key(&tok, "doomed").await;
    let (st, v) = env.delete(&tok, &format!("/api/v1/api_keys/{id}")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["code"], "API_KEY_DELETED");
    let (_, l) = env.get(&tok, "/api/v1/api_keys").await;
    assert_eq!(l["api_keys"][0]["id"], id.as_str());
    assert_eq!(l["api_keys"][0]["status"], "revoked");
    let (st, v) = env.verify(&secret).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (v["is_valid"].clone(), v["status"].clone()),
        (json!(false), json!("revoked"))
    );
    assert_eq!(v["verification_count"], 0, "a revoked key is not counted");
    // Revoking twice is fine; rotating a revoked key is not.
    assert_eq!(
        env.delete(&tok, &format!("/api/v1/api_keys/{id}")).await.0,
        StatusCode::OK
    );
    let (st, v) = env.put(&tok, &format!("/api/v1/api_keys/{id}")).await;
    assert_eq!(
        (st, first_code(&v)),
        (StatusCode::BAD_REQUEST, "API_KEY_REVOKED")
    );
}

#[tokio::test]
async fn verify_counts_and_records_time_and_ip() {
    let env = start_default().await;
    let tok = env.token().await;
    let (id, secret) = env.create_user_key(&tok, "counted").await;
    let mut last = None;
    for n in 1..=3 {
        let (st, v) = env.verify(&secret).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(v["code"], "API_KEY_VERIFIED");
        assert_eq!(v["verification_count"], n);
        assert_eq!(v["status"], "active");
        assert_eq!(v["scopes"], json!(["read:data"]));
        assert_eq!(v["user_id"], EMPTY_USER_ID);
        let t = v["last_verified_on"].as_str().unwrap().to_string();
        assert!(last.as_ref().is_none_or(|l: &String| *l <= t));
        last = Some(t);
    }
    let (_, d) = env.get(&tok, &format!("/api/v1/api_keys/{id}")).await;
    assert_eq!(d["api_key"]["verification_count"], 3);
    assert_eq!(d["api_key"]["last_verified_ip"], "127.0.0.1");
    assert_eq!(d["api_key"]["last_verified_on"].as_str(), last.as_deref());
    // Listing does not carry the count.
    let (_, l) = env.get(&tok, "/api/v1/api_keys").await;
    assert!(l["api_keys"][0].get("verification_count").is_none());
    // Unknown key, missing field.
    let (st, v) = env.verify("k_live_doesnotexist").await;
    assert_eq!((st, v["is_valid"].clone()), (StatusCode::OK, json!(false)));
    let (st, v) = call(
        env.http
            .post(env.url("/api/v1/api_keys/verify"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(
        (st, first_code(&v)),
        (StatusCode::BAD_REQUEST, "API_KEY_REQUIRED")
    );
    let s = env.sb.stats();
    assert_eq!(s.verify_key, 5);
}

#[tokio::test]
async fn concurrent_verifications_are_all_counted() {
    let env = start_default().await;
    let tok = env.token().await;
    let (id, secret) = env.create_user_key(&tok, "hot").await;
    let calls = (0..40).map(|_| env.verify(&secret));
    let results = futures::future::join_all(calls).await;
    let mut seen: Vec<u64> = results
        .iter()
        .map(|(_, v)| v["verification_count"].as_u64().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=40).collect::<Vec<u64>>(),
        "each verification saw its own count"
    );
    let (_, d) = env.get(&tok, &format!("/api/v1/api_keys/{id}")).await;
    assert_eq!(d["api_key"]["verification_count"], 40);
}

#[tokio::test]
async fn wrong_method_is_the_unknown_route_404_and_rotate_delete_accept_a_json_content_type_without_body()
 {
    let env = start_default().await;
    let tok = env.token().await;
    let (id, _) = env.create_user_key(&tok, "methods").await;
    // The spec defines no PATCH (and no 405): the answer is Kinde's unknown-route 404.
    let (st, v) = call(
        env.http
            .patch(env.url(&format!("/api/v1/api_keys/{id}")))
            .bearer_auth(&tok),
    )
    .await;
    assert_eq!(
        (st, v["errors"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("ROUTE_NOT_FOUND"))
    );
    for m in [reqwest::Method::PUT, reqwest::Method::DELETE] {
        let a = send(
            env.http
                .request(m.clone(), env.url(&format!("/api/v1/api_keys/{id}")))
                .bearer_auth(&tok)
                .header("content-type", "application/json"),
        )
        .await;
        assert!(a.status.is_success(), "{m}: {}", a.status);
    }
}

#[tokio::test]
async fn an_oversized_body_or_a_non_utf8_path_is_a_json_400() {
    let env = start_default().await;
    let tok = env.token().await;
    let big = "x".repeat(3 * 1024 * 1024);
    for path in ["/api/v1/api_keys", "/api/v1/api_keys/verify"] {
        let (st, v) = call(
            env.http
                .post(env.url(path))
                .bearer_auth(&tok)
                .header("content-type", "application/json")
                .body(big.clone()),
        )
        .await;
        assert_eq!(
            (st, first_code(&v)),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            "{path}: {v}"
        );
    }
    let (st, v) = call(
        env.http
            .post(env.url("/oauth2/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big),
    )
    .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    for path in ["/api/v1/api_keys/%FF%FE", "/api/v1/apis/%C3%28/scopes"] {
        let (st, v) = env.get(&tok, path).await;
        assert_eq!(
            (st, first_code(&v)),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            "{path}: {v}"
        );
    }
}
