//! Answers in Kinde's shapes: `{"errors":[{code,message}]}` for 400/401/403/429/5xx, the 404
//! object shape, and OAuth's `{error, error_description}` for the token endpoint.

use std::collections::HashMap;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answer of the Management API.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub errors: Vec<(String, String)>,
    pub headers: Vec<(header::HeaderName, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            errors: vec![(code.to_string(), message.into())],
            headers: Vec::new(),
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn many(status: StatusCode, errors: Vec<(String, String)>) -> Self {
        ApiError {
            status,
            errors,
            headers: Vec::new(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        let message = message.into();
        let www = format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\"",
            message.replace('"', "'")
        );
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message);
        e.headers.push((header::WWW_AUTHENTICATE, www));
        e
    }

    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn with_header(mut self, name: header::HeaderName, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = if self.status == StatusCode::NOT_FOUND {
            // Kinde's 404 carries an object, not an array.
            let (code, message) = self.errors.into_iter().next().unwrap_or_default();
            json!({ "errors": { "code": code, "message": message } })
        } else {
            let errors: Vec<Value> = self
                .errors
                .into_iter()
                .map(|(code, message)| json!({ "code": code, "message": message }))
                .collect();
            json!({ "errors": errors })
        };
        let mut resp = (self.status, Json(body)).into_response();
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
        resp
    }
}

pub type ApiResult = Result<Response, ApiError>;

/// A 200 JSON answer.
pub fn ok(body: Value) -> ApiResult {
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// An OAuth error answer of `/oauth2/token`.
pub fn oauth_error(status: StatusCode, error: &str, description: impl Into<String>) -> Response {
    let mut resp = (
        status,
        Json(json!({ "error": error, "error_description": description.into() })),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The route does not exist (fallback).
pub fn route_not_found() -> Response {
    ApiError::not_found("ROUTE_NOT_FOUND", "The requested API route does not exist").into_response()
}

/// Parses a query string into a map; a repeated parameter keeps its last value.
pub fn parse_query(raw: Option<&str>) -> Result<HashMap<String, String>, ApiError> {
    let raw = raw.unwrap_or("");
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).map_err(|e| {
        ApiError::bad_request("INVALID_QUERY", format!("malformed query string: {e}"))
    })?;
    Ok(pairs.into_iter().collect())
}

/// A non-empty query parameter (an empty one counts as absent, like Kinde's `nullable`).
pub fn param<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.get(name).map(|s| s.as_str()).filter(|s| !s.is_empty())
}

/// `page_size`: absent -> default; otherwise 1.. and capped at `max`.
pub fn page_size(
    q: &HashMap<String, String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match param(q, "page_size") {
        None => Ok(default),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 1 => Ok((n as usize).min(max)),
            _ => Err(ApiError::bad_request(
                "INVALID_PAGE_SIZE",
                format!("page_size must be a whole number from 1 to {max}, got {s:?}"),
            )),
        },
    }
}

/// The client address: the first `X-Forwarded-For` entry, else the peer.
pub fn client_ip(headers: &HeaderMap, peer: Option<std::net::SocketAddr>) -> String {
    if let Some(first) = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        return first.to_string();
    }
    peer.map(|p| p.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".to_string())
}
