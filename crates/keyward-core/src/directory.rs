//! The directory: the APIs (with their scopes), organizations and users that own keys.

use crate::ctx::AppCtx;
use crate::error::Result;
use crate::model::key::{Api, Org, User};

/// Every API with its scopes.
pub async fn apis(ctx: &AppCtx) -> Result<Vec<Api>> {
    apis_matching(ctx, None).await
}

/// The APIs, optionally filtered by a case-insensitive search over id, name and audience.
pub async fn apis_matching(ctx: &AppCtx, search: Option<&str>) -> Result<Vec<Api>> {
    let apis = ctx.client().await?.list_apis().await?;
    Ok(search_filter(apis, search, |a, s| {
        [&a.id, &a.name, &a.audience]
            .into_iter()
            .any(|f| f.to_lowercase().contains(s))
    }))
}

/// Organizations, optionally filtered by a case-insensitive search over code and name.
pub async fn orgs(ctx: &AppCtx, search: Option<&str>) -> Result<Vec<Org>> {
    let orgs = ctx.client().await?.list_orgs().await?;
    Ok(search_filter(orgs, search, |o, s| {
        o.code.to_lowercase().contains(s) || o.name.to_lowercase().contains(s)
    }))
}

/// Users, optionally filtered by a case-insensitive search over id, email and names.
pub async fn users(ctx: &AppCtx, search: Option<&str>) -> Result<Vec<User>> {
    let users = ctx.client().await?.list_users().await?;
    Ok(search_filter(users, search, |u, s| {
        [
            Some(u.id.as_str()),
            u.email.as_deref(),
            u.first_name.as_deref(),
            u.last_name.as_deref(),
        ]
        .into_iter()
        .flatten()
        .any(|f| f.to_lowercase().contains(s))
            || u.display_name().to_lowercase().contains(s)
    }))
}

/// The items `matches` the trimmed, lower-cased `search`; all of them without a search (or a
/// blank one).
fn search_filter<T>(
    items: Vec<T>,
    search: Option<&str>,
    matches: impl Fn(&T, &str) -> bool,
) -> Vec<T> {
    let Some(s) = search
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
    else {
        return items;
    };
    items.into_iter().filter(|i| matches(i, &s)).collect()
}
