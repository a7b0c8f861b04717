//! The Key doctor: Kinde's troubleshooting ladder for API keys, automated.
//!
//! - [`check_key`] (and the operation [`key`]): a pasted key is checked for surrounding whitespace and newlines, a pasted
//!   `Bearer ` prefix, quotes, and truncation or an unexpected length or prefix; the cleaned key
//!   is then verified (which counts as one verification in Kinde: the report says so) and its
//!   validity, status, owner and scopes are reported, with an optional required scope and
//!   organization.
//! - [`check_connection`] (and the operation [`connection`]): DNS, TCP/TLS, the token, the token's scopes against
//!   [`NEEDED_SCOPES`], clock skew, and one read of the API keys.
//!
//! Each step is ok, warn, fail or skipped with a detail; the report ends with a verdict and the
//! next action. The doctor never prints a secret: only the prefix and suffix Kinde shows anyway.

pub mod clean;
mod ladder;

use std::time::Duration;

use crate::ctx::AppCtx;
use crate::error::Result;
use crate::kinde::{
    Client, ClientConfig, ClientOptions, ListKeysQuery, NEEDED_SCOPES, parse_base_url, scope_hint,
    validate_id, validate_scope,
};
use crate::model::doctor::{DoctorKeyInput, DoctorKind, DoctorReport};
use crate::model::key::KeyStatus;
use crate::secret::Secret;
use clean::{check_format, clean_key, cleaning_steps};
use ladder::Ladder;

/// Diagnoses a pasted key. The verification step counts as one verification in Kinde.
pub async fn check_key(client: &Client, input: &DoctorKeyInput) -> DoctorReport {
    let mut l = Ladder::new(DoctorKind::Key);
    let c = clean_key(input.key.expose());
    cleaning_steps(&mut l, &c);
    if !check_format(&mut l, &c.cleaned) {
        l.skip(
            "verify",
            "not sent to Kinde: the key cannot be valid as it is",
        );
        return l.finish("", "");
    }
    let r = match client.verify_key(&Secret::new(c.cleaned.clone())).await {
        Ok(r) => r,
        Err(e) => {
            l.fail_err("verify", "Keyward could not verify the key", &e);
            return l.finish("", "");
        }
    };
    l.counted = true;
    let counted = "this counted as one verification in Kinde";
    if !r.is_valid && r.status.is_none() {
        l.fail("verify", format!("Kinde does not know this key ({counted})"), "The key is invalid", "The key is mistyped, belongs to another Kinde business, or was rotated (a rotated key's old secret stops working at once). Copy it again; if it is lost, rotate the key and update the app that uses it.");
        return l.finish("", "");
    }
    let id = r.key_id.as_deref().unwrap_or("(unknown id)");
    l.key_id = r.key_id.clone();
    // The key's name and masked secret, as an admin finds them in the list (best effort).
    let known = match &r.key_id {
        Some(k) => client.get_key(k).await.ok(),
        None => None,
    };
    l.key_name = known.as_ref().map(|k| k.name.clone());
    let named = match &known {
        Some(k) => format!(
            "\u{201c}{}\u{201d} ({}\u{2026}{}, {id})",
            k.name,
            k.key_prefix,
            k.key_suffix.as_deref().unwrap_or("")
        ),
        None => id.to_string(),
    };
    l.ok(
        "verify",
        format!("Kinde knows this key: {named} ({counted})"),
    );
    match r.status {
        Some(KeyStatus::Active) if r.is_valid => l.ok("status", "active and valid"),
        Some(KeyStatus::Revoked) => l.fail("status", "revoked", "The key is revoked", "A revoked key cannot be restored: create a new key (`keyward keys create`) and update the app that uses it."),
        Some(KeyStatus::Inactive) => l.fail("status", "inactive", "The key is inactive", "Reactivate it in Kinde (the user's or organization's API keys) or create a new key."),
        other => l.fail("status", format!("Kinde reports it as not valid (status {:?})", other.map(KeyStatus::as_str)), "The key is not valid", "Check the key in Kinde; create a new key if needed."),
    }
    // Organizations by name (the owner and an expected organization), read once, best effort.
    let wants_org = input
        .org_code
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let orgs = if r.org_code.is_some() || wants_org.is_some() {
        client.list_orgs().await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let org_named = |code: &str| match orgs.iter().find(|x| x.code == code) {
        Some(o) => format!("{} ({code})", o.name),
        None => code.to_string(),
    };
    let owner = match (&r.org_code, &r.user_id) {
        (Some(o), _) => Some(format!("organization {}", org_named(o))),
        (None, Some(u)) => {
            let name = client
                .list_users()
                .await
                .ok()
                .and_then(|v| v.into_iter().find(|x| x.id == *u).map(|x| x.display_name()));
            Some(match name {
                Some(n) => format!("user {n} ({u})"),
                None => format!("user {u}"),
            })
        }
        (None, None) => None,
    };
    l.ok(
        "owner",
        owner
            .clone()
            .unwrap_or_else(|| "no user or organization reported".to_string()),
    );
    l.owner = owner;
    let list = if r.scopes.is_empty() {
        "none".to_string()
    } else {
        r.scopes.join(", ")
    };
    l.ok("scopes", list.clone());
    if let Some(need) = input
        .require_scope
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if r.scopes.iter().any(|s| s == need) {
            l.ok("required_scope", format!("has `{need}`"));
        } else {
            let next = format!(
                "A key's scopes cannot be changed: re-issue the key with `{need}` added (a re-issue keeps this key working next to the new one), switch the app to the new key, then revoke this one ({id}) once it is quiet."
            );
            l.fail(
                "required_scope",
                format!("lacks `{need}` (has: {list})"),
                "Insufficient scope",
                &next,
            );
        }
    }
    if let Some(want) = wants_org {
        let wanted = org_named(want);
        let advice = format!(
            "Use a key issued to {wanted} (the keys list filtered by that organization, or `keyward keys list --org {want}`), or create one from it."
        );
        match (&r.org_code, &r.user_id) {
            (Some(o), _) if o == want => l.ok("organization", format!("belongs to {wanted}")),
            (Some(o), _) => l.fail(
                "organization",
                format!("belongs to {}, not {wanted}", org_named(o)),
                "Organization mismatch",
                &advice,
            ),
            (None, _) => l.fail(
                "organization",
                format!(
                    "is a user key{}, not a key of organization {wanted}",
                    l.owner
                        .as_deref()
                        .and_then(|o| o.strip_prefix("user "))
                        .map(|u| format!(" ({u})"))
                        .unwrap_or_default()
                ),
                "Organization mismatch",
                &advice,
            ),
        }
    }
    l.finish("The key is valid and active", "Nothing to fix: the key works. If an API still refuses it, check the header format (`Authorization: Bearer <key>`) and the scopes that endpoint needs.")
}

/// Diagnoses a profile's connection with the default options.
pub async fn check_connection(base: &str, client_id: &str, secret: &Secret) -> DoctorReport {
    check_connection_with(base, client_id, secret, ClientOptions::default()).await
}

/// [`check_connection`] with client options (e.g. a trusted test certificate).
pub async fn check_connection_with(
    base: &str,
    client_id: &str,
    secret: &Secret,
    opts: ClientOptions,
) -> DoctorReport {
    let mut l = Ladder::new(DoctorKind::Connection);
    let url = match parse_base_url(base) {
        Ok(u) => {
            l.ok("domain", u.as_str().trim_end_matches('/').to_string());
            u
        }
        Err(e) => {
            l.fail_err("domain", "The domain is malformed", &e);
            return l.finish("", "");
        }
    };
    dns_step(&mut l, &url).await;
    if l.failed() {
        return l.finish("", "");
    }
    let client = match Client::with_options(
        ClientConfig::new(url.clone(), client_id, secret.clone()),
        opts,
    ) {
        Ok(c) => c,
        Err(e) => {
            l.fail_err("tls", "The client could not be set up", &e);
            return l.finish("", "");
        }
    };
    let name = if url.scheme() == "https" {
        "tls"
    } else {
        "connection"
    };
    match client.probe().await {
        Ok(status) if url.scheme() == "https" => l.ok(
            name,
            format!("TLS handshake done, certificate trusted (HTTP {status})"),
        ),
        Ok(status) => l.ok(
            name,
            format!("connected over plain http on loopback (HTTP {status})"),
        ),
        Err(e) => {
            l.fail_err(name, "Keyward cannot reach Kinde", &e);
            return l.finish("", "");
        }
    }
    let info = match client.token_info().await {
        Ok(i) => {
            l.ok(
                "token",
                format!(
                    "got a token for the Management API (expires {})",
                    i.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
                ),
            );
            i
        }
        Err(e) => {
            l.fail_err("token", "Kinde refused the M2M credentials", &e);
            return l.finish("", "");
        }
    };
    let missing: Vec<&str> = NEEDED_SCOPES
        .iter()
        .copied()
        .filter(|s| !info.scopes.iter().any(|g| g == s))
        .collect();
    if info.scopes.is_empty() {
        l.warn(
            "token_scopes",
            "the token names no scopes (not a JWT?), so they cannot be checked",
            "the token's scopes could not be read",
            "Run the commands you need; a 403 will name any missing scope.",
        );
    } else if missing.is_empty() {
        l.ok("token_scopes", "all the scopes Keyward needs are granted");
    } else {
        let list = missing.join(", ");
        let next = format!(
            "{} (Grant each missing scope: {list}.)",
            scope_hint(missing[0])
        );
        if missing.contains(&"read:api_keys") {
            l.fail(
                "token_scopes",
                format!("missing: {list}"),
                "The M2M application lacks scopes Keyward needs",
                &next,
            );
        } else {
            l.warn(
                "token_scopes",
                format!("missing: {list} (the operations that need them will fail)"),
                "some scopes are missing",
                &next,
            );
        }
    }
    match (info.clock_skew_secs, &info.clock_skew_warning) {
        (_, Some(w)) => l.warn(
            "clock",
            w.clone(),
            "the clock is off",
            "Turn on automatic time synchronization (NTP) on this computer.",
        ),
        (Some(s), None) => l.ok("clock", format!("within {} s of Kinde's clock", s.abs())),
        (None, None) => l.skip("clock", "Kinde sent no Date header"),
    }
    if missing.contains(&"read:api_keys") && !info.scopes.is_empty() {
        l.skip("api_access", "skipped: read:api_keys is missing");
    } else {
        let q = ListKeysQuery {
            page_size: Some(1),
            ..ListKeysQuery::default()
        };
        match client.list_keys_page(&q).await {
            Ok(_) => l.ok("api_access", "listing API keys works"),
            Err(e) => l.fail_err("api_access", "Listing API keys fails", &e),
        }
    }
    l.finish("The connection works", "Nothing to fix.")
}

async fn dns_step(l: &mut Ladder, url: &url::Url) {
    let Some(host) = url.host_str() else {
        l.fail(
            "dns",
            "no host",
            "The domain is malformed",
            "Give the domain as mybiz.kinde.com.",
        );
        return;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        l.ok("dns", format!("{bare} is an IP address"));
        return;
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let lookup = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::lookup_host((bare, port)),
    )
    .await;
    match lookup {
        Ok(Ok(addrs)) => {
            let addrs: Vec<String> = addrs.map(|a| a.ip().to_string()).take(3).collect();
            if addrs.is_empty() {
                l.fail(
                    "dns",
                    format!("{bare} resolves to no address"),
                    "The domain does not resolve",
                    "Check the domain's spelling (mybiz.kinde.com) and your DNS.",
                );
            } else {
                l.ok("dns", format!("{bare} resolves to {}", addrs.join(", ")));
            }
        }
        Ok(Err(e)) => l.fail(
            "dns",
            format!("{bare} does not resolve ({e})"),
            "The domain does not resolve",
            "Check the domain's spelling (mybiz.kinde.com) and your network or DNS.",
        ),
        Err(_) => l.fail(
            "dns",
            format!("looking up {bare} timed out"),
            "The domain does not resolve",
            "Check your network connection and DNS.",
        ),
    }
}

/// The Key doctor: cleans and checks a pasted key, verifies it (one counted verification) and
/// diagnoses scope and organization mismatches.
pub async fn key(ctx: &AppCtx, input: &DoctorKeyInput) -> Result<DoctorReport> {
    if let Some(s) = &input.require_scope {
        validate_scope(s)?;
    }
    if let Some(o) = &input.org_code {
        validate_id("org code", o)?;
    }
    let client = ctx.client().await?;
    Ok(check_key(&client, input).await)
}

/// The connection doctor for the selected profile.
pub async fn connection(ctx: &AppCtx) -> Result<DoctorReport> {
    let profile = ctx.profile().await?;
    let secret = ctx.client_secret(&profile.name).await?;
    Ok(check_connection_with(
        &profile.domain,
        &profile.client_id,
        &secret,
        ctx.client_options().clone(),
    )
    .await)
}
