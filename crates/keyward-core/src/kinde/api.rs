//! One method per Management API route, and the iterators that page to the end.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::json;

use super::errors::{Ctx, Operation};
use super::validate::{validate_id, validate_name};
use super::wire::{
    ApisResponse, KeyResponse, KeysResponse, NewKeyResponse, OrgsResponse, ScopesResponse,
    UsersResponse, VerifyResponse, parse,
};
use super::{Client, CreateKeyRequest, CreatedKey, KeysPage, ListKeysQuery, MAX_PAGE_SIZE};
use crate::error::{Error, ErrorCode, Result};
use crate::model::key::{Api, ApiKey, Org, Owner, Scope, User, VerifyResult};
use crate::secret::{OneTimeSecret, Secret};

/// A guard against a server that pages forever.
/// The most pages any listing follows: past it, the listing is an error, never taken as
/// complete (100,000 pages of 500 keys is far beyond any real account).
const MAX_PAGES: usize = 100_000;

fn ctx(op: Operation) -> Ctx<'static> {
    Ctx {
        op,
        subject: None,
        name: None,
    }
}

/// The context of a request about one subject (a key id, an API id).
fn about(op: Operation, subject: &str) -> Ctx<'_> {
    Ctx {
        op,
        subject: Some(subject),
        name: None,
    }
}

fn paging_loop(what: &str) -> Error {
    Error::new(
        ErrorCode::UnexpectedResponse,
        format!("Kinde's pagination of {what} did not advance"),
        "Try again; if it persists, report it with `keyward --json` output.",
    )
}

impl Client {
    /// `GET /api/v1/api_keys`: one page.
    pub async fn list_keys_page(&self, q: &ListKeysQuery) -> Result<KeysPage> {
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(n) = q.page_size {
            if !(1..=MAX_PAGE_SIZE).contains(&n) {
                return Err(Error::invalid_input(
                    "page size",
                    format!("{n} is not between 1 and {MAX_PAGE_SIZE}"),
                    "Use a page size from 1 to 500.",
                ));
            }
            query.push(("page_size", n.to_string()));
        }
        if let Some(s) = &q.starting_after {
            validate_id("starting_after key id", s)?;
            query.push(("starting_after", s.clone()));
        }
        if let Some(t) = q.key_type {
            query.push(("key_type", t.as_str().to_string()));
        }
        if let Some(s) = q.status {
            query.push(("status", s.as_str().to_string()));
        }
        if let Some(u) = &q.user_id {
            validate_id("user id", u)?;
            query.push(("user_id", u.clone()));
        }
        if let Some(o) = &q.org_code {
            validate_id("org code", o)?;
            query.push(("org_code", o.clone()));
        }
        let what = "listing API keys";
        let body = self
            .send(
                &ctx(Operation::ListKeys),
                Method::GET,
                "/api/v1/api_keys",
                &query,
                None,
            )
            .await?;
        let r: KeysResponse = parse(&body, what)?;
        let keys = r
            .api_keys
            .unwrap_or_default()
            .into_iter()
            .map(|k| k.into_model(what))
            .collect::<Result<Vec<_>>>()?;
        Ok(KeysPage {
            has_more: r.has_more.unwrap_or(false),
            keys,
        })
    }

    /// Every key matching the filters, paging with `page_size` 500 until `has_more` is false.
    pub async fn list_keys_all(&self, q: &ListKeysQuery) -> Result<Vec<ApiKey>> {
        let mut q = q.clone();
        q.page_size = Some(MAX_PAGE_SIZE);
        let mut out: Vec<ApiKey> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for _ in 0..MAX_PAGES {
            let page = self.list_keys_page(&q).await?;
            let Some(last) = page.keys.last().map(|k| k.id.clone()) else {
                // An empty page that says there is more does not advance.
                if page.has_more {
                    return Err(paging_loop("API keys"));
                }
                return Ok(out);
            };
            for k in page.keys {
                // A repeated id: the pages do not follow one another.
                if !seen.insert(k.id.clone()) {
                    return Err(paging_loop("API keys"));
                }
                out.push(k);
            }
            if !page.has_more {
                return Ok(out);
            }
            q.starting_after = Some(last);
        }
        Err(paging_loop("API keys"))
    }

    /// `GET /api/v1/api_keys/{id}`: with `verification_count`, `user_id` and `org_code`.
    pub async fn get_key(&self, id: &str) -> Result<ApiKey> {
        let body = self.send_key(Operation::GetKey, Method::GET, id).await?;
        let what = "reading an API key";
        let r: KeyResponse = parse(&body, what)?;
        r.api_key
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::UnexpectedResponse,
                    format!("Kinde's answer to {what} lacks `api_key`"),
                    "Check that the profile's domain points at Kinde's Management API.",
                )
            })?
            .into_model(what)
    }

    /// `POST /api/v1/api_keys`. Never retried: a failure after sending is `ambiguous`.
    pub async fn create_key(&self, req: &CreateKeyRequest) -> Result<CreatedKey> {
        validate_name(&req.name)?;
        validate_id("api id", &req.api_id)?;
        for s in &req.scope_ids {
            validate_id("scope id", s)?;
        }
        let (kind, owner_field, owner_value) = match &req.owner {
            Owner::User { user_id } => {
                if user_id.trim().is_empty() {
                    return Err(Error::invalid_input(
                        "user id",
                        "a user key needs a user",
                        "Give the user's id (`keyward users list` shows them), or create an \
                         organization key with --org CODE.",
                    ));
                }
                validate_id("user id", user_id)?;
                ("user", "user_id", user_id)
            }
            Owner::Organization { org_code } => {
                if org_code.trim().is_empty() {
                    return Err(Error::invalid_input(
                        "org code",
                        "an organization key needs an organization",
                        "Give the organization's code (`keyward orgs list` shows them), or \
                         create a user key with --user ID.",
                    ));
                }
                validate_id("org code", org_code)?;
                ("organization", "org_code", org_code)
            }
        };
        let mut body = json!({
            "name": req.name.trim(),
            "type": kind,
            "api_id": req.api_id,
            "scope_ids": req.scope_ids,
        });
        body[owner_field] = json!(owner_value);
        let c = Ctx {
            op: Operation::CreateKey,
            subject: None,
            name: Some(req.name.trim()),
        };
        let bytes = self
            .send(&c, Method::POST, "/api/v1/api_keys", &[], Some(&body))
            .await?;
        new_key(&bytes, "creating an API key")
    }

    /// `PUT /api/v1/api_keys/{id}`: a new secret for the same key. Never retried.
    pub async fn rotate_key(&self, id: &str) -> Result<CreatedKey> {
        let bytes = self.send_key(Operation::RotateKey, Method::PUT, id).await?;
        new_key(&bytes, "rotating an API key")
    }

    /// `DELETE /api/v1/api_keys/{id}`. Never retried.
    pub async fn revoke_key(&self, id: &str) -> Result<()> {
        self.send_key(Operation::RevokeKey, Method::DELETE, id)
            .await?;
        Ok(())
    }

    /// `POST /api/v1/api_keys/verify`. Counts as a verification in Kinde, so it is never
    /// retried (a retry would count twice).
    pub async fn verify_key(&self, key: &Secret) -> Result<VerifyResult> {
        let k = key.expose();
        if k.is_empty() {
            return Err(Error::invalid_input(
                "API key",
                "is empty",
                "Paste the key's secret (it starts with k_live_).",
            ));
        }
        if k.chars().any(|c| c.is_whitespace() || c.is_control()) || k.len() > 4096 {
            return Err(Error::invalid_input(
                "API key",
                "contains whitespace or is far too long",
                "Remove spaces and newlines around the key, or run `keyward doctor key` to \
                 clean and check it.",
            ));
        }
        let body = json!({ "api_key": k });
        let bytes = self
            .send(
                &ctx(Operation::VerifyKey),
                Method::POST,
                "/api/v1/api_keys/verify",
                &[],
                Some(&body),
            )
            .await?;
        let what = "verifying an API key";
        parse::<VerifyResponse>(&bytes, what)?.into_model(what)
    }

    /// `GET /api/v1/apis?expand=scopes`, every page; scopes fetched per API if not expanded.
    pub async fn list_apis(&self) -> Result<Vec<Api>> {
        let what = "listing APIs";
        let expand = [("expand", "scopes".to_string())];
        self.paged(
            Operation::ListApis,
            "/api/v1/apis",
            &expand,
            "APIs",
            |b| async move {
                let r: ApisResponse = parse(&b, what)?;
                let mut items = Vec::new();
                for a in r.apis.unwrap_or_default() {
                    let (mut api, has_scopes) = a.into_model(what)?;
                    if !has_scopes {
                        api.scopes = self.api_scopes(&api.id).await?;
                    }
                    items.push(api);
                }
                Ok((items, r.next_token))
            },
        )
        .await
    }

    /// `GET /api/v1/apis/{id}/scopes`.
    pub async fn api_scopes(&self, api_id: &str) -> Result<Vec<Scope>> {
        validate_id("api id", api_id)?;
        let body = self
            .send(
                &about(Operation::ApiScopes, api_id),
                Method::GET,
                &format!("/api/v1/apis/{api_id}/scopes"),
                &[],
                None,
            )
            .await?;
        let what = "listing an API's scopes";
        parse::<ScopesResponse>(&body, what)?
            .scopes
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.into_model(what))
            .collect()
    }

    /// `GET /api/v1/organizations`, every page.
    pub async fn list_orgs(&self) -> Result<Vec<Org>> {
        let what = "listing organizations";
        self.paged(
            Operation::ListOrgs,
            "/api/v1/organizations",
            &[],
            what,
            |b| async move {
                let r: OrgsResponse = parse(&b, what)?;
                let items = r.organizations.unwrap_or_default();
                let items = items
                    .into_iter()
                    .map(|o| o.into_model(what))
                    .collect::<Result<Vec<_>>>()?;
                Ok((items, r.next_token))
            },
        )
        .await
    }

    /// `GET /api/v1/users`, every page.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let what = "listing users";
        self.paged(
            Operation::ListUsers,
            "/api/v1/users",
            &[],
            what,
            |b| async move {
                let r: UsersResponse = parse(&b, what)?;
                let items = r.users.unwrap_or_default();
                let items = items
                    .into_iter()
                    .map(|u| u.into_model(what))
                    .collect::<Result<Vec<_>>>()?;
                Ok((items, r.next_token))
            },
        )
        .await
    }

    /// `GET path` with `query`, a page of `MAX_PAGE_SIZE` at a time, following `next_token`
    /// until it runs out; `read` turns one page into its items and the next token. `what`
    /// names the items in the error when the paging does not advance.
    /// (`read` takes the body by value rather than being an async closure over `&[u8]`: the
    /// futures stay `Send`, which the app's background sync needs.)
    async fn paged<T, F>(
        &self,
        op: Operation,
        path: &str,
        query: &[(&str, String)],
        what: &str,
        mut read: impl FnMut(Vec<u8>) -> F,
    ) -> Result<Vec<T>>
    where
        F: Future<Output = Result<(Vec<T>, Option<String>)>>,
    {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = query.to_vec();
            query.push(("page_size", MAX_PAGE_SIZE.to_string()));
            if let Some(t) = &token {
                query.push(("next_token", t.clone()));
            }
            let body = self.send(&ctx(op), Method::GET, path, &query, None).await?;
            let (items, next_token) = read(body).await?;
            let empty = items.is_empty();
            out.extend(items);
            match next(next_token, &token, empty) {
                Next::Done => return Ok(out),
                Next::Loop => return Err(paging_loop(what)),
                Next::Page(t) => token = Some(t),
            }
        }
        Err(paging_loop(what))
    }

    /// `method /api/v1/api_keys/{id}`, with no query or body, once `id` is checked.
    async fn send_key(&self, op: Operation, method: Method, id: &str) -> Result<Vec<u8>> {
        validate_id("key id", id)?;
        self.send(
            &about(op, id),
            method,
            &format!("/api/v1/api_keys/{id}"),
            &[],
            None,
        )
        .await
    }
}

impl Client {
    /// One request under this client's budget (see [`Client::with_budget`]).
    async fn send(
        &self,
        ctx: &Ctx<'_>,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>> {
        let budget = self.request_budget();
        self.inner
            .send(&budget, ctx, method, path, query, body)
            .await
    }
}

enum Next {
    Done,
    Loop,
    Page(String),
}

fn next(next_token: Option<String>, previous: &Option<String>, empty_page: bool) -> Next {
    match next_token.filter(|t| !t.is_empty()) {
        None => Next::Done,
        Some(_) if empty_page => Next::Done,
        Some(t) if previous.as_deref() == Some(t.as_str()) => Next::Loop,
        Some(t) => Next::Page(t),
    }
}

fn new_key(bytes: &[u8], what: &str) -> Result<CreatedKey> {
    let r: NewKeyResponse = parse(bytes, what)?;
    let k = r.api_key.ok_or_else(|| lacks(what, "api_key"))?;
    let id =
        k.id.filter(|s| !s.is_empty())
            .ok_or_else(|| lacks(what, "api_key.id"))?;
    let key = k
        .key
        .filter(|s| !s.is_empty())
        .ok_or_else(|| lacks(what, "api_key.key"))?;
    Ok(CreatedKey {
        id,
        key: OneTimeSecret::new(key),
    })
}

fn lacks(what: &str, field: &str) -> Error {
    Error::new(
        ErrorCode::UnexpectedResponse,
        format!("Kinde's answer to {what} lacks `{field}`"),
        "The change may have happened: check with `keyward keys list` before trying again.",
    )
}
