//! `POST /oauth2/token` (client credentials) and the JWKS that verifies its tokens.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use serde_json::json;

use crate::auth::audiences;
use crate::http::oauth_error;
use crate::keys::rand_hex;
use crate::state::Shared;
use crate::token::Claims;

/// `GET /.well-known/jwks` (and `.json`).
pub async fn jwks(State(sh): State<Arc<Shared>>) -> Response {
    Json(sh.signer.jwks().clone()).into_response()
}

fn form_fields(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, String> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.starts_with("application/json") {
        let v: HashMap<String, serde_json::Value> =
            serde_json::from_slice(body).map_err(|e| format!("malformed JSON body: {e}"))?;
        return Ok(v
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
            .collect());
    }
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|e| format!("malformed form body: {e}"))?;
    Ok(pairs.into_iter().collect())
}

/// HTTP Basic credentials, when the client sends them that way.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b64 = v.strip_prefix("Basic ")?;
    let raw = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
    let (id, secret) = raw.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// `POST /oauth2/token`.
pub async fn token(State(sh): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let bad = |code: &str, msg: &str| oauth_error(StatusCode::BAD_REQUEST, code, msg);
    let form = match form_fields(&headers, &body) {
        Ok(f) => f,
        Err(e) => return bad("invalid_request", &e),
    };
    let field = |k: &str| {
        form.get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    match field("grant_type").as_deref() {
        None => {
            return bad(
                "invalid_request",
                "grant_type is required (client_credentials)",
            );
        }
        Some("client_credentials") => {}
        Some(other) => {
            let msg = format!("grant_type {other:?} is not supported; use client_credentials");
            return bad("unsupported_grant_type", &msg);
        }
    }
    let (id, secret) = match (field("client_id"), field("client_secret")) {
        (Some(i), Some(s)) => (i, s),
        _ => match basic_credentials(&headers) {
            Some(c) => c,
            None => {
                return bad(
                    "invalid_request",
                    "client_id and client_secret are required",
                );
            }
        },
    };
    let Some(app) = sh
        .clients
        .read()
        .get(&id)
        .cloned()
        .filter(|a| a.secret == secret)
    else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed: unknown client_id or wrong client_secret",
        );
    };
    let allowed = audiences(&sh, &headers);
    let audience = match field("audience") {
        None => {
            return bad(
                "invalid_request",
                &format!("audience is required: {}", allowed[0]),
            );
        }
        Some(a) if allowed.contains(&a) => a,
        Some(a) => {
            let msg = format!(
                "The application is not authorized for audience {a:?}; the Management API \
                 audience is {}",
                allowed[0]
            );
            return bad("unauthorized_client", &msg);
        }
    };
    let scopes: Vec<String> = match field("scope") {
        None => app.scopes.clone(),
        Some(req) => {
            let asked: Vec<String> = req.split_whitespace().map(str::to_string).collect();
            if let Some(missing) = asked.iter().find(|s| !app.scopes.contains(s)) {
                let msg = format!("The application is not granted the scope {missing:?}");
                return bad("invalid_scope", &msg);
            }
            asked
        }
    };
    let now = Utc::now().timestamp();
    // At most ten years, so that `exp` cannot overflow.
    let ttl = sh.settings.token_ttl_secs.min(10 * 365 * 86_400);
    let jti = rand_hex(16, &mut rand::rng());
    let claims = Claims {
        aud: vec![audience],
        azp: id,
        exp: now.saturating_add(ttl as i64),
        iat: now,
        iss: sh.base_url.clone(),
        jti,
        gty: vec!["client_credentials".to_string()],
        scope: scopes.join(" "),
        scp: scopes,
        v: "2".to_string(),
    };
    let token = match sh.signer.sign(&claims) {
        Ok(t) => t,
        Err(e) => {
            let msg = format!("could not sign the token: {e}");
            return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", msg);
        }
    };
    let mut resp = Json(json!({
        "access_token": token,
        "expires_in": ttl,
        "scope": claims.scope,
        "token_type": "Bearer",
    }))
    .into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}
