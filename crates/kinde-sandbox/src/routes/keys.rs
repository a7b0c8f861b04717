//! `/api/v1/api_keys*`: list, create, get, rotate (PUT), revoke (DELETE) and verify.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::authorize;
use crate::conn::Peer;
use crate::http::{ApiError, ApiResult, client_ip, ok, page_size, param, parse_query};
use crate::keys::{self, KeyFilter, NewKey, RotateError};
use crate::model::{Db, KeyKind, KeyRec, Status, ts};
use crate::state::Shared;

/// Longest key name accepted.
pub const MAX_NAME_LEN: usize = 128;

/// A key as the list shows it (no count, no owner: only the detail has those).
pub fn list_item(k: &KeyRec) -> Value {
    json!({
        "id": k.id,
        "name": k.name,
        "type": k.kind.as_str(),
        "status": k.status.as_str(),
        "key_prefix": k.key_prefix,
        "key_suffix": k.key_suffix,
        "created_on": ts(&k.created_on),
        "last_verified_on": k.last_verified_on.as_ref().map(ts),
        "last_verified_ip": k.last_verified_ip,
        "created_by": k.created_by,
        "api_ids": [k.api_id],
        "scopes": k.scopes,
    })
}

/// A key as `GET /api/v1/api_keys/{key_id}` shows it.
pub fn detail(k: &KeyRec) -> Value {
    let mut v = list_item(k);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("verification_count".into(), json!(k.verification_count));
        obj.insert("organization_id".into(), json!(k.org_code));
        obj.insert("user_id".into(), json!(k.user_id));
    }
    v
}

fn key_not_found(id: &str) -> ApiError {
    ApiError::not_found("API_KEY_NOT_FOUND", format!("No API key with id {id:?}"))
}

pub async fn list(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    authorize(&sh, &headers, "read:api_keys")?;
    let q = parse_query(raw.as_deref())?;
    let size = page_size(&q, 50, 500)?;
    let mut errors = Vec::new();
    let mut filter = KeyFilter {
        user_id: param(&q, "user_id").map(str::to_string),
        org_code: param(&q, "org_code").map(str::to_string),
        ..KeyFilter::default()
    };
    if let Some(t) = param(&q, "key_type") {
        filter.kind = KeyKind::parse(t);
        if filter.kind.is_none() {
            let msg = format!("key_type must be organization or user, got {t:?}");
            errors.push(("INVALID_KEY_TYPE".to_string(), msg));
        }
    }
    if let Some(s) = param(&q, "status") {
        filter.status = Status::parse(s);
        if filter.status.is_none() {
            let msg = format!("status must be active, inactive or revoked, got {s:?}");
            errors.push(("INVALID_STATUS".to_string(), msg));
        }
    }
    let after = param(&q, "starting_after");
    let db = sh.db.lock();
    if let Some(a) = after.filter(|a| !db.keys.contains_key(*a)) {
        let msg = format!("starting_after {a:?} is not the id of an API key");
        errors.push(("INVALID_STARTING_AFTER".to_string(), msg));
    }
    if !errors.is_empty() {
        return Err(ApiError::many(StatusCode::BAD_REQUEST, errors));
    }
    let (items, has_more) = keys::page(&db, &filter, after, size);
    let api_keys: Vec<Value> = items.into_iter().map(list_item).collect();
    ok(json!({ "code": "OK", "message": "Success", "has_more": has_more, "api_keys": api_keys }))
}

pub async fn get(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    authorize(&sh, &headers, "read:api_keys")?;
    let db = sh.db.lock();
    let k = db.keys.get(&id).ok_or_else(|| key_not_found(&id))?;
    ok(json!({ "code": "OK", "message": "Success", "api_key": detail(k) }))
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    api_id: Option<String>,
    scope_ids: Option<Vec<String>>,
    user_id: Option<String>,
    org_code: Option<String>,
}

/// Checks a create request against the data; every problem becomes one `errors[]` entry.
fn validate(db: &Db, b: CreateBody, created_by: String) -> Result<NewKey, ApiError> {
    let mut errs: Vec<(String, String)> = Vec::new();
    let mut err = |code: &str, msg: String| errs.push((code.to_string(), msg));
    let name = b.name.as_deref().map(str::trim).unwrap_or("").to_string();
    if name.is_empty() {
        err(
            "NAME_REQUIRED",
            "name is required and must not be blank".into(),
        );
    } else if name.chars().count() > MAX_NAME_LEN {
        err(
            "NAME_TOO_LONG",
            format!("name must be at most {MAX_NAME_LEN} characters"),
        );
    }
    let kind = match b.kind.as_deref() {
        None => {
            err(
                "TYPE_REQUIRED",
                "type is required: user or organization".into(),
            );
            None
        }
        Some(t) => KeyKind::parse(t).or_else(|| {
            err(
                "INVALID_TYPE",
                format!("type must be user or organization, got {t:?}"),
            );
            None
        }),
    };
    let api_id = b.api_id.unwrap_or_default();
    let api = db.api(&api_id);
    if api_id.is_empty() {
        err("API_ID_REQUIRED", "api_id is required".into());
    } else if api.is_none() {
        err("INVALID_API_ID", format!("No API with id {api_id:?}"));
    }
    let mut scopes: Vec<String> = Vec::new();
    for s in b.scope_ids.unwrap_or_default() {
        match api.and_then(|a| a.scope(&s)) {
            Some(rec) if !scopes.contains(&rec.key) => scopes.push(rec.key.clone()),
            Some(_) => {}
            None if api.is_some() => err(
                "INVALID_SCOPE",
                format!("Scope {s:?} does not belong to API {api_id:?}"),
            ),
            None => {}
        }
    }
    let user_id = b.user_id.filter(|s| !s.is_empty());
    let org_code = b.org_code.filter(|s| !s.is_empty());
    match (kind, &user_id) {
        (Some(KeyKind::User), None) => err("USER_ID_REQUIRED", "user_id is required".into()),
        (_, Some(u)) if db.user(u).is_none() => err("INVALID_USER_ID", format!("No user {u:?}")),
        _ => {}
    }
    match (kind, &org_code) {
        (Some(KeyKind::Organization), None) => {
            err("ORG_CODE_REQUIRED", "org_code is required".into())
        }
        (_, Some(o)) if db.org(o).is_none() => {
            err("INVALID_ORG_CODE", format!("No organization {o:?}"))
        }
        _ => {}
    }
    match kind {
        Some(kind) if errs.is_empty() => Ok(NewKey {
            name,
            kind,
            api_id,
            scopes,
            user_id: if kind == KeyKind::User { user_id } else { None },
            org_code,
            created_by: Some(created_by),
            created_on: Utc::now(),
            traffic_weight: 3,
        }),
        _ => Err(ApiError::many(StatusCode::BAD_REQUEST, errs)),
    }
}

pub async fn create(State(sh): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let claims = authorize(&sh, &headers, "create:api_keys")?;
    let b: CreateBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "INVALID_JSON",
            format!("The body must be a JSON object: {e}"),
        )
    })?;
    let mut db = sh.db.lock();
    let new = validate(&db, b, claims.azp)?;
    let (id, secret) = keys::create(&mut db, new, &mut *sh.rng.lock());
    let body = json!({
        "message": "API key created",
        "code": "API_KEY_CREATED",
        "api_key": { "id": id, "key": secret },
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn rotate(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    authorize(&sh, &headers, "update:api_keys")?;
    let secret = keys::rotate(&mut sh.db.lock(), &id).map_err(|e| match e {
        RotateError::NotFound => key_not_found(&id),
        RotateError::Revoked => {
            ApiError::bad_request("API_KEY_REVOKED", "A revoked API key cannot be rotated")
        }
    })?;
    let body = json!({
        "code": "API_KEY_ROTATED",
        "message": "API key rotated successfully",
        "api_key": { "id": id, "key": secret },
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn revoke(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    authorize(&sh, &headers, "delete:api_keys")?;
    if !keys::revoke(&mut sh.db.lock(), &id) {
        return Err(key_not_found(&id));
    }
    ok(json!({ "message": "API key deleted", "code": "API_KEY_DELETED" }))
}

#[derive(Debug, Deserialize)]
struct VerifyBody {
    api_key: Option<String>,
}

/// `POST /api/v1/api_keys/verify`: public (no token needed), rate-limited per caller address.
pub async fn verify(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    peer: Option<Extension<Peer>>,
    body: Bytes,
) -> ApiResult {
    let ip = client_ip(&headers, peer.map(|p| p.0.0));
    sh.check_rate(&format!("ip:{ip}"))?;
    let b: VerifyBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "INVALID_JSON",
            format!("The body must be a JSON object: {e}"),
        )
    })?;
    let secret = b.api_key.unwrap_or_default();
    if secret.trim().is_empty() {
        return Err(ApiError::bad_request(
            "API_KEY_REQUIRED",
            "api_key is required",
        ));
    }
    let mut db = sh.db.lock();
    let Some(k) = keys::verify_secret(&mut db, secret.trim(), &ip, Utc::now()) else {
        // No key: the spec's non-nullable `key_id`, `status` and `verification_count` are
        // left out rather than sent as `null`; the nullable ones are `null`.
        return ok(json!({
            "code": "API_KEY_INVALID", "message": "Invalid API key", "is_valid": false,
            "scopes": [], "org_code": null, "user_id": null, "last_verified_on": null,
        }));
    };
    let valid = k.status == Status::Active;
    let (code, message) = match k.status {
        Status::Active => ("API_KEY_VERIFIED", "API key verified"),
        Status::Inactive => ("API_KEY_INACTIVE", "API key is not active"),
        Status::Revoked => ("API_KEY_REVOKED", "API key has been revoked"),
    };
    ok(json!({
        "code": code, "message": message, "is_valid": valid, "key_id": k.id,
        "status": k.status.as_str(), "scopes": k.scopes, "org_code": k.org_code,
        "user_id": k.user_id, "last_verified_on": k.last_verified_on.as_ref().map(ts),
        "verification_count": k.verification_count,
    }))
}
