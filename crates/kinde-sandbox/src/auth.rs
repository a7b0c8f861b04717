//! Bearer checks on `/api/v1`: the token's signature, expiry and audience, the client's rate
//! limit, and the route's scope.

use axum::http::{HeaderMap, StatusCode, header};
use jsonwebtoken::errors::ErrorKind;

use crate::http::ApiError;
use crate::state::Shared;
use crate::token::Claims;

/// Audiences this request may name: the canonical one and the one made of its `Host` header
/// (so `localhost` and `127.0.0.1` both work).
pub fn audiences(sh: &Shared, headers: &HeaderMap) -> Vec<String> {
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
    let claims = sh.signer.verify(token).map_err(|kind| {
        ApiError::unauthorized(match kind {
            ErrorKind::ExpiredSignature => "The access token has expired: request a new one",
            ErrorKind::InvalidSignature => "The access token signature is invalid",
            _ => "The access token is malformed or not a sandbox token",
        })
    })?;
    let allowed = audiences(sh, headers);
    if !claims.aud.iter().any(|a| allowed.contains(a)) {
        return Err(ApiError::unauthorized(format!(
            "The access token's audience is not {}",
            allowed[0]
        )));
    }
    Ok(claims)
}
