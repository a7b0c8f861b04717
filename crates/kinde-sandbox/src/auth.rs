//! `POST /oauth2/token` (client credentials), the JWKS, and bearer checks on `/api/v1`.

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
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::http::{ApiError, oauth_error};
use crate::state::Shared;

/// The sandbox's RS256 signing key. It signs sandbox tokens only and protects nothing real:
/// a fixed key keeps start-up instant (RSA key generation is slow in debug builds).
const SIGNING_KEY_PEM: &str = include_str!("sandbox-signing-key.pem");

pub struct Signer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    jwks: JwkSet,
}

impl Signer {
    pub fn new() -> Self {
        // The key is a constant of the build; its parse cannot depend on input.
        #[allow(clippy::expect_used)]
        let encoding = EncodingKey::from_rsa_pem(SIGNING_KEY_PEM.as_bytes())
            .expect("embedded signing key is valid PEM");
        #[allow(clippy::expect_used)]
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)
            .expect("embedded signing key is RSA");
        let decoding =
            DecodingKey::from_jwk(&jwk).unwrap_or_else(|_| DecodingKey::from_secret(b""));
        let kid = match &jwk.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::RSA(p) => {
                let digest = crate::keys::hash_secret(&p.n);
                format!("sandbox_{}", &digest[..16])
            }
            _ => "sandbox".to_string(),
        };
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
        Signer {
            encoding,
            decoding,
            kid,
            jwks: JwkSet { keys: vec![jwk] },
        }
    }

    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }
}

impl Default for Signer {
    fn default() -> Self {
        Self::new()
    }
}

/// The claims of a sandbox access token (Kinde's M2M token claims).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub aud: Vec<String>,
    pub azp: String,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub jti: String,
    pub gty: Vec<String>,
    pub scope: String,
    pub scp: Vec<String>,
    pub v: String,
}

/// `GET /.well-known/jwks` (and `.json`).
pub async fn jwks(State(sh): State<Arc<Shared>>) -> Response {
    Json(sh.signer.jwks().clone()).into_response()
}

/// Audiences this request may name: the canonical one and the one made of its `Host` header
/// (so `localhost` and `127.0.0.1` both work).
fn audiences(sh: &Shared, headers: &HeaderMap) -> Vec<String> {
    let mut out = vec![sh.audience()];
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        let scheme = sh.base_url.split("://").next().unwrap_or("http");
        let a = format!("{scheme}://{host}/api");
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
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
    let jti = crate::keys::rand_hex(16, &mut rand::rng());
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
    let mut hdr = Header::new(Algorithm::RS256);
    hdr.kid = Some(sh.signer.kid.clone());
    let token = match jsonwebtoken::encode(&hdr, &claims, &sh.signer.encoding) {
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

/// Checks the bearer token, the client's rate limit, then the route's scope.
pub fn authorize(sh: &Shared, headers: &HeaderMap, scope: &str) -> Result<Claims, ApiError> {
    let claims = authenticate(sh, headers)?;
    sh.check_rate(&claims.azp)?;
    if !claims.scp.iter().any(|s| s == scope) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            format!(
                "The M2M application {:?} is missing the scope {scope}: grant it in Kinde \
                 (Settings > Applications > your app > APIs > Kinde Management API > scopes)",
                claims.azp
            ),
        ));
    }
    Ok(claims)
}

fn authenticate(sh: &Shared, headers: &HeaderMap) -> Result<Claims, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "Missing Authorization header with a Bearer token",
        ));
    };
    let value = value.to_str().unwrap_or("");
    let token = match value.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
            t.trim()
        }
        _ => {
            return Err(ApiError::unauthorized(
                "Malformed Authorization header: expected 'Bearer <token>'",
            ));
        }
    };
    let mut v = Validation::new(Algorithm::RS256);
    v.leeway = 0;
    v.validate_aud = false;
    v.set_required_spec_claims(&["exp", "aud"]);
    let data = jsonwebtoken::decode::<Claims>(token, &sh.signer.decoding, &v).map_err(|e| {
        ApiError::unauthorized(match e.kind() {
            ErrorKind::ExpiredSignature => "The access token has expired: request a new one",
            ErrorKind::InvalidSignature => "The access token signature is invalid",
            _ => "The access token is malformed or not a sandbox token",
        })
    })?;
    let allowed = audiences(sh, headers);
    if !data.claims.aud.iter().any(|a| allowed.contains(a)) {
        return Err(ApiError::unauthorized(format!(
            "The access token's audience is not {}",
            allowed[0]
        )));
    }
    Ok(data.claims)
}
