//! Helpers shared by the integration tests: a sandbox on 127.0.0.1:0 and a reqwest client.
#![allow(dead_code)]

use kinde_sandbox::{Config, Sandbox, spawn};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

pub struct Env {
    pub sb: Sandbox,
    pub http: Client,
    pub base: String,
}

pub async fn start(config: Config) -> Env {
    let sb = spawn("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
    let base = sb.base_url();
    Env {
        sb,
        http: Client::new(),
        base,
    }
}

pub async fn start_default() -> Env {
    start(Config::default()).await
}

pub async fn start_demo() -> Env {
    start(Config {
        seed: kinde_sandbox::Seed::Demo,
        rng_seed: Some(7),
        ..Config::default()
    })
    .await
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Token request with the given form fields.
    pub async fn token_raw(&self, form: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url("/oauth2/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// A token for this M2M app, all its scopes.
    pub async fn token_for(&self, id: &str, secret: &str) -> String {
        let aud = format!("{}/api", self.base);
        let r = self
            .token_raw(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
                ("audience", &aud),
                ("scope", ""),
            ])
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_string()
    }

    pub async fn token(&self) -> String {
        let (id, secret) = (
            self.sb.client_id().to_string(),
            self.sb.client_secret().to_string(),
        );
        self.token_for(&id, &secret).await
    }

    pub async fn get(&self, tok: &str, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(tok)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }

    pub async fn post(&self, tok: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(tok)
            .json(body)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }

    pub async fn put(&self, tok: &str, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .put(self.url(path))
            .bearer_auth(tok)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }

    /// A GET without a token (JWKS, the `/_sandbox/` routes).
    pub async fn get_open(&self, path: &str) -> (StatusCode, Value) {
        status_json(self.http.get(self.url(path)).send().await.unwrap()).await
    }

    pub async fn delete(&self, tok: &str, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .delete(self.url(path))
            .bearer_auth(tok)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }

    pub async fn verify(&self, secret: &str) -> (StatusCode, Value) {
        let body = serde_json::json!({ "api_key": secret });
        let r = self
            .http
            .post(self.url("/api/v1/api_keys/verify"))
            .json(&body)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }

    /// Creates a key on the empty seed's fixtures; returns (id, secret).
    pub async fn create_user_key(&self, tok: &str, name: &str) -> (String, String) {
        let body = serde_json::json!({
            "name": name, "type": "user", "api_id": kinde_sandbox::EMPTY_API_ID,
            "scope_ids": ["read:data"], "user_id": kinde_sandbox::EMPTY_USER_ID,
        });
        let (st, v) = self.post(tok, "/api/v1/api_keys", &body).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let id = v["api_key"]["id"].as_str().unwrap().to_string();
        let key = v["api_key"]["key"].as_str().unwrap().to_string();
        (id, key)
    }
}

/// Status and JSON body; asserts that a body is JSON with the right Content-Type.
pub async fn status_json(r: Response) -> (StatusCode, Value) {
    let st = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.text().await.unwrap();
    assert_eq!(
        ct.as_deref(),
        Some("application/json"),
        "status {st}, body {text}"
    );
    (st, serde_json::from_str(&text).unwrap())
}

/// The first error code of a `{"errors":[...]}` body.
pub fn first_code(v: &Value) -> &str {
    v["errors"][0]["code"].as_str().unwrap_or("")
}
