//! `/api/v1/apis*`, `/api/v1/organizations` and `/api/v1/users`, with `next_token` paging.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::auth::authorize;
use crate::http::{ApiError, ApiResult, ok, page_size, param, parse_query};
use crate::model::{ApiRec, OrgRec, UserRec, ts};
use crate::state::Shared;

/// One page of `items` and the opaque token of the next page, if any.
fn paginate<T: Clone>(
    items: &[T],
    q: &HashMap<String, String>,
    default: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let size = page_size(q, default, 500)?;
    let start = match param(q, "next_token") {
        None => 0,
        Some(t) => decode_token(t).ok_or_else(|| {
            ApiError::bad_request(
                "INVALID_NEXT_TOKEN",
                format!("next_token {t:?} is not valid"),
            )
        })?,
    };
    let start = start.min(items.len());
    let end = (start + size).min(items.len());
    let next = (end < items.len()).then(|| URL_SAFE_NO_PAD.encode(format!("o:{end}")));
    Ok((items[start..end].to_vec(), next))
}

fn decode_token(t: &str) -> Option<usize> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(t).ok()?).ok()?;
    raw.strip_prefix("o:")?.parse().ok()
}

fn with_next(mut body: Value, next: Option<String>) -> Value {
    if let (Some(obj), Some(n)) = (body.as_object_mut(), next) {
        obj.insert("next_token".into(), json!(n));
    }
    body
}

fn scopes_json(a: &ApiRec) -> Value {
    json!(
        a.scopes
            .iter()
            .map(|s| json!({ "id": s.id, "key": s.key }))
            .collect::<Vec<_>>()
    )
}

fn api_json(a: &ApiRec) -> Value {
    json!({
        "id": a.id, "name": a.name, "audience": a.audience,
        "is_management_api": false, "scopes": scopes_json(a),
    })
}

pub async fn list_apis(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    authorize(&sh, &headers, "read:apis")?;
    let q = parse_query(raw.as_deref())?;
    let mut apis = sh.db.lock().apis.clone();
    apis.sort_by(|a, b| a.name.cmp(&b.name));
    let (page, next) = paginate(&apis, &q, 50)?;
    let body = json!({
        "code": "OK", "message": "Success",
        "apis": page.iter().map(api_json).collect::<Vec<_>>(),
    });
    ok(with_next(body, next))
}

fn find_api(sh: &Shared, id: &str) -> Result<ApiRec, ApiError> {
    let db = sh.db.lock();
    db.api(id)
        .cloned()
        // The spec lists no 404 for `/api/v1/apis/{api_id}*`: an unknown id is a bad request.
        .ok_or_else(|| ApiError::bad_request("INVALID_API_ID", format!("No API with id {id:?}")))
}

pub async fn get_api(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    authorize(&sh, &headers, "read:apis")?;
    let a = find_api(&sh, &id)?;
    let mut api = api_json(&a);
    if let Some(obj) = api.as_object_mut() {
        obj.insert("applications".into(), json!([]));
    }
    ok(json!({ "code": "OK", "message": "success_response", "api": api }))
}

pub async fn api_scopes(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    authorize(&sh, &headers, "read:api_scopes")?;
    let a = find_api(&sh, &id)?;
    let scopes: Vec<Value> = a
        .scopes
        .iter()
        .map(|s| json!({ "id": s.id, "key": s.key, "description": s.description }))
        .collect();
    ok(json!({ "code": "OK", "message": "success_response", "scopes": scopes }))
}

fn org_json(o: &OrgRec) -> Value {
    json!({
        "code": o.code, "name": o.name, "handle": o.handle, "is_default": o.is_default,
        "external_id": o.external_id, "is_auto_membership_enabled": false,
    })
}

pub async fn list_orgs(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    authorize(&sh, &headers, "read:organizations")?;
    let q = parse_query(raw.as_deref())?;
    let mut orgs = sh.db.lock().orgs.clone();
    match param(&q, "sort") {
        None => {}
        Some("name_asc") => orgs.sort_by(|a, b| a.name.cmp(&b.name)),
        Some("name_desc") => orgs.sort_by(|a, b| b.name.cmp(&a.name)),
        Some(s) => {
            let msg = format!("sort must be name_asc or name_desc, got {s:?}");
            return Err(ApiError::bad_request("INVALID_SORT", msg));
        }
    }
    let (page, next) = paginate(&orgs, &q, 10)?;
    let body = json!({
        "code": "OK", "message": "Success",
        "organizations": page.iter().map(org_json).collect::<Vec<_>>(),
    });
    ok(with_next(body, next))
}

/// A user as the list shows it, with only the fields of the spec's `users_response` (it has no
/// `full_name`). The sandbox's users have no picture: the spec types `picture` as a
/// non-nullable string, so it is left out rather than sent as `null`.
fn user_json(u: &UserRec) -> Value {
    json!({
        "id": u.id, "email": u.email, "first_name": u.first_name, "last_name": u.last_name,
        "is_suspended": false,
        "total_sign_ins": u.total_sign_ins, "failed_sign_ins": 0,
        "last_signed_in": u.last_signed_in.as_ref().map(ts), "created_on": ts(&u.created_on),
        "organizations": u.organizations,
    })
}

fn list_filter(q: &HashMap<String, String>, name: &str) -> Option<Vec<String>> {
    param(q, name).map(|v| v.split(',').map(|s| s.trim().to_lowercase()).collect())
}

pub async fn list_users(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    authorize(&sh, &headers, "read:users")?;
    let q = parse_query(raw.as_deref())?;
    let ids = list_filter(&q, "user_id");
    let emails = list_filter(&q, "email");
    let users: Vec<UserRec> = sh
        .db
        .lock()
        .users
        .iter()
        .filter(|u| {
            ids.as_ref()
                .is_none_or(|l| l.contains(&u.id.to_lowercase()))
        })
        .filter(|u| {
            emails
                .as_ref()
                .is_none_or(|l| l.contains(&u.email.to_lowercase()))
        })
        .cloned()
        .collect();
    let (page, next) = paginate(&users, &q, 10)?;
    let body = json!({
        "code": "OK", "message": "Success",
        "users": page.iter().map(user_json).collect::<Vec<_>>(),
    });
    ok(with_next(body, next))
}
