//! Helpers shared by the integration tests: a sandbox on 127.0.0.1:0 and a reqwest client.
//!
//! Every answer goes through [`send`], which checks it against Kinde's OpenAPI spec for its
//! route and status ([`spec::check`]) and fails the test when it does not conform.

#![allow(
    clippy::disallowed_methods,
    reason = "tests of the sandbox itself speak raw HTTP"
)]
#![allow(dead_code)]

pub mod spec;

use kinde_sandbox::{Config, Sandbox, spawn};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, RequestBuilder, StatusCode};
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
    pub async fn token_raw(&self, form: &[(&str, &str)]) -> Answer {
        send(self.http.post(self.url("/oauth2/token")).form(form)).await
    }

    /// A token for this M2M app, all its scopes.
    pub async fn token_for(&self, id: &str, secret: &str) -> String {
        token_at(&self.http, &self.base, id, secret).await
    }

    pub async fn token(&self) -> String {
        let (id, secret) = (
            self.sb.client_id().to_string(),
            self.sb.client_secret().to_string(),
        );
        self.token_for(&id, &secret).await
    }

    pub async fn get(&self, tok: &str, path: &str) -> (StatusCode, Value) {
        call(self.http.get(self.url(path)).bearer_auth(tok)).await
    }

    pub async fn post(&self, tok: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        call(self.http.post(self.url(path)).bearer_auth(tok).json(body)).await
    }

    pub async fn put(&self, tok: &str, path: &str) -> (StatusCode, Value) {
        call(self.http.put(self.url(path)).bearer_auth(tok)).await
    }

    /// A request with this `Authorization` header (or none), and a `{}` body on a POST:
    /// status, body and `WWW-Authenticate`.
    pub async fn call_authorized(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
    ) -> (StatusCode, Value, Option<String>) {
        let mut rb = self.http.request(method.clone(), self.url(path));
        if let Some(a) = authorization {
            rb = rb.header("authorization", a);
        }
        if method == Method::POST {
            rb = rb.json(&serde_json::json!({}));
        }
        let a = send(rb).await;
        let www = a.header("www-authenticate").map(str::to_string);
        (a.status, a.json, www)
    }

    /// A GET without a token (JWKS, the `/_sandbox/` routes).
    pub async fn get_open(&self, path: &str) -> (StatusCode, Value) {
        call(self.http.get(self.url(path))).await
    }

    pub async fn delete(&self, tok: &str, path: &str) -> (StatusCode, Value) {
        call(self.http.delete(self.url(path)).bearer_auth(tok)).await
    }

    pub async fn verify(&self, secret: &str) -> (StatusCode, Value) {
        let body = serde_json::json!({ "api_key": secret });
        call(
            self.http
                .post(self.url("/api/v1/api_keys/verify"))
                .json(&body),
        )
        .await
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

/// A token from the sandbox at `base` (no trailing slash) for this M2M app, all its scopes,
/// asked on `http` (a sandbox that is not an [`Env`]: the binary, a TLS client).
pub async fn token_at(http: &Client, base: &str, id: &str, secret: &str) -> String {
    let aud = format!("{base}/api");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
        ("audience", &aud),
        ("scope", ""),
    ];
    let r = send(http.post(format!("{base}/oauth2/token")).form(&form)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    r.json["access_token"].as_str().unwrap().to_string()
}

/// A client that trusts only this certificate (the sandbox's self-signed one, as PEM).
pub fn trusting_client(pem: &[u8]) -> Client {
    let cert = reqwest::Certificate::from_pem(pem).unwrap();
    Client::builder().tls_certs_only([cert]).build().unwrap()
}

/// One answer: status, headers and JSON body, already checked against the spec.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends a request (on the client that built it); `Err` only when no answer came (a dropped
/// connection, a TLS refusal). An answer that breaks Kinde's spec fails the test.
pub async fn try_send(rb: RequestBuilder) -> Result<Answer, reqwest::Error> {
    let (client, req) = rb.build_split();
    let req = req.unwrap();
    let method = req.method().to_string();
    let path = req.url().path().to_string();
    let r = client.execute(req).await?;
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await?;
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok());
    match spec::check(&method, &path, status.as_u16(), ct, &text) {
        Ok(seen) => spec::record(seen),
        Err(e) => panic!("non-conforming answer: {e}"),
    }
    let json = serde_json::from_str(&text).unwrap();
    Ok(Answer {
        status,
        headers,
        json,
    })
}

/// [`try_send`] that expects an answer.
pub async fn send(rb: RequestBuilder) -> Answer {
    try_send(rb).await.unwrap()
}

/// Status and JSON body of a checked answer.
pub async fn call(rb: RequestBuilder) -> (StatusCode, Value) {
    let a = send(rb).await;
    (a.status, a.json)
}

/// The first error code of a `{"errors":[...]}` body.
pub fn first_code(v: &Value) -> &str {
    v["errors"][0]["code"].as_str().unwrap_or("")
}
