//! One place that turns an HTTP failure into `{code, message, hint}`.

use std::error::Error as StdError;

use reqwest::StatusCode;

use super::budget::secs;
use super::types::{MAX_BODY_BYTES, MAX_ITEM_BODY_BYTES};
use super::wire::{ErrorBody, OAuthError};
use crate::error::{Error, ErrorCode};

/// The operations of the client; each knows its scope, its counter and whether it may be
/// re-sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// An unauthenticated request to the domain's root: is anything there?
    Probe,
    Token,
    ListKeys,
    GetKey,
    CreateKey,
    RotateKey,
    RevokeKey,
    VerifyKey,
    ListApis,
    ApiScopes,
    ListOrgs,
    ListUsers,
}

impl Operation {
    pub fn describe(self) -> &'static str {
        use Operation::*;
        match self {
            Probe => "connecting to Kinde",
            Token => "the token request",
            ListKeys => "listing API keys",
            GetKey => "reading an API key",
            CreateKey => "creating an API key",
            RotateKey => "rotating an API key",
            RevokeKey => "revoking an API key",
            VerifyKey => "verifying an API key",
            ListApis => "listing APIs",
            ApiScopes => "listing an API's scopes",
            ListOrgs => "listing organizations",
            ListUsers => "listing users",
        }
    }

    /// The Management API scope this operation needs.
    pub fn scope(self) -> Option<&'static str> {
        use Operation::*;
        match self {
            ListKeys | GetKey => Some("read:api_keys"),
            CreateKey => Some("create:api_keys"),
            RotateKey => Some("update:api_keys"),
            RevokeKey => Some("delete:api_keys"),
            ListApis => Some("read:apis"),
            ApiScopes => Some("read:api_scopes"),
            ListOrgs => Some("read:organizations"),
            ListUsers => Some("read:users"),
            Probe | Token | VerifyKey => None,
        }
    }

    /// GETs (and the token request) may be re-sent after a 5xx or a network error.
    pub fn idempotent(self) -> bool {
        use Operation::*;
        matches!(
            self,
            Probe | Token | ListKeys | GetKey | ListApis | ApiScopes | ListOrgs | ListUsers
        )
    }

    /// The most bytes an answer to this operation may hold: a page of a listing gets
    /// [`MAX_BODY_BYTES`], anything else (one key, a token, an error) [`MAX_ITEM_BODY_BYTES`].
    pub fn max_body(self) -> usize {
        use Operation::*;
        match self {
            ListKeys | ListApis | ApiScopes | ListOrgs | ListUsers => MAX_BODY_BYTES,
            Probe | Token | GetKey | CreateKey | RotateKey | RevokeKey | VerifyKey => {
                MAX_ITEM_BODY_BYTES
            }
        }
    }

    /// A failure after sending leaves these in doubt.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Operation::CreateKey | Operation::RotateKey | Operation::RevokeKey
        )
    }
}

/// Where to grant a scope to the M2M application.
pub fn scope_hint(scope: &str) -> String {
    format!(
        "In Kinde, open Settings > APIs > Kinde Management API > Applications, choose your M2M \
         application's ... menu > Manage scopes, tick `{scope}` and save; then try again."
    )
}

/// Context for the message of an error: what was asked, about what.
pub struct Ctx<'a> {
    pub op: Operation,
    /// The key id, api id, ... the request was about, if any.
    pub subject: Option<&'a str>,
    /// For create: the key name, to tell the user what to search for.
    pub name: Option<&'a str>,
}

impl Ctx<'_> {
    fn check_hint(&self) -> String {
        match (self.op, self.subject, self.name) {
            (Operation::CreateKey, _, Some(name)) => format!(
                "Check whether the key exists before trying again: `keyward keys list --search \
                 \"{name}\"`, or look in Kinde under the user's or organization's API keys."
            ),
            (Operation::RotateKey, Some(id), _) => format!(
                "Check with `keyward keys show {id}` (a changed key_suffix means the rotation \
                 happened: then the new secret is lost, rotate again); or look in Kinde."
            ),
            (Operation::RevokeKey, Some(id), _) => format!(
                "Check with `keyward keys show {id}` whether its status is revoked before trying \
                 again."
            ),
            _ => "Check in Kinde whether the change happened before trying again.".to_string(),
        }
    }
}

fn body_message(body: &[u8]) -> Option<String> {
    let items = ErrorBody::items(body);
    let text: Vec<String> = items
        .iter()
        .filter_map(|e| match (&e.code, &e.message) {
            (Some(c), Some(m)) => Some(format!("{c}: {m}")),
            (None, Some(m)) => Some(m.clone()),
            (Some(c), None) => Some(c.clone()),
            (None, None) => None,
        })
        .collect();
    if text.is_empty() {
        None
    } else {
        let joined = text.join("; ");
        Some(joined.chars().take(500).collect())
    }
}

/// A `verb:noun` scope named in an error text, if any.
fn scope_in(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '_'))
        .map(|w| w.trim_matches(':'))
        .find(|w| {
            let mut parts = w.split(':');
            matches!((parts.next(), parts.next(), parts.next()),
                (Some(a), Some(b), None) if !a.is_empty() && !b.is_empty()
                    && a.chars().all(|c| c.is_ascii_lowercase())
                    && b.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        })
        .map(str::to_string)
}

/// Maps a non-success answer of the Management API.
pub fn status_error(
    ctx: &Ctx<'_>,
    status: StatusCode,
    body: &[u8],
    retry_secs: Option<u64>,
) -> Error {
    let what = ctx.op.describe();
    let detail = body_message(body);
    let with_detail = |m: String| match &detail {
        Some(d) => format!("{m} ({d})"),
        None => m,
    };
    match status.as_u16() {
        400 | 422 => Error::new(
            ErrorCode::BadRequest,
            with_detail(format!("Kinde refused {what} as invalid")),
            "Check the values given (ids, scope ids of the chosen API, owner); \
             `keyward apis list` shows each API's scope ids.",
        ),
        401 => Error::new(
            ErrorCode::Unauthenticated,
            with_detail(format!(
                "Kinde refused the access token for {what}, even a fresh one"
            )),
            "Check that the M2M application is authorized for the Kinde Management API \
             (Kinde > Settings > APIs > Kinde Management API > Applications) and that your \
             computer's clock is right; run `keyward doctor connection`.",
        ),
        403 => {
            let scope = detail
                .as_deref()
                .and_then(scope_in)
                .or_else(|| ctx.op.scope().map(str::to_string));
            match scope {
                Some(scope) => Error::new(
                    ErrorCode::MissingScope,
                    format!("Kinde refused {what}: the M2M application lacks the scope `{scope}`"),
                    scope_hint(&scope),
                ),
                None => Error::new(
                    ErrorCode::MissingScope,
                    with_detail(format!("Kinde refused {what} (403 Forbidden)")),
                    "Check the M2M application's scopes for the Kinde Management API in Kinde > \
                     Settings > APIs > Kinde Management API > Applications.",
                ),
            }
        }
        404 => {
            let route_missing = detail
                .as_deref()
                .is_some_and(|d| d.contains("ROUTE_NOT_FOUND"));
            match (ctx.op, ctx.subject) {
                (Operation::ApiScopes | Operation::ListApis, Some(id)) if !route_missing => {
                    Error::new(
                        ErrorCode::NotFound,
                        format!("Kinde has no API with id {id}"),
                        "List the APIs and their ids with `keyward apis list`.",
                    )
                }
                (_, Some(id)) if !route_missing => Error::new(
                    ErrorCode::NotFound,
                    format!("Kinde has no API key with id {id}"),
                    "Check the id (`keyward keys list` shows them); the key may have been \
                     deleted in Kinde.",
                ),
                _ => Error::new(
                    ErrorCode::NotFound,
                    with_detail(format!("the server has no route for {what}")),
                    "Check that the profile's domain is your Kinde business domain \
                     (https://<business>.kinde.com).",
                ),
            }
        }
        429 => rate_limited(what, retry_secs),
        500..=599 => {
            let hint = if ctx.op.writes() {
                ctx.check_hint()
            } else {
                "Kinde had a problem; try again in a minute (see https://status.kinde.com)."
                    .to_string()
            };
            Error::new(
                ErrorCode::ServerError,
                with_detail(format!("Kinde answered {status} to {what}")),
                hint,
            )
        }
        300..=399 => Error::new(
            ErrorCode::UnexpectedResponse,
            format!(
                "the server answered {what} with a redirect ({status}); Keyward does not follow redirects"
            ),
            "Use the exact Kinde domain (https://<business>.kinde.com) in the profile, not an \
             address that redirects.",
        ),
        _ => Error::new(
            ErrorCode::UnexpectedResponse,
            with_detail(format!("Kinde answered {status} to {what}")),
            "Check the profile's domain; if it is right, try again later.",
        ),
    }
}

pub fn rate_limited(what: &str, retry_secs: Option<u64>) -> Error {
    let when = match retry_secs {
        Some(s) => format!("Wait {s} s, then try again."),
        None => "Wait a minute, then try again.".to_string(),
    };
    Error::new(
        ErrorCode::RateLimited,
        format!("Kinde is throttling requests ({what} got 429 Too Many Requests)"),
        format!("{when} Running fewer Keyward commands at once also helps."),
    )
}

/// No complete answer (connect, headers and body) within `deadline`: `timeout`, or
/// `ambiguous` for a write, which may have happened.
pub fn deadline_error(ctx: &Ctx<'_>, host: &str, deadline: std::time::Duration) -> Error {
    let what = ctx.op.describe();
    let n = secs(deadline);
    if ctx.op.writes() {
        return Error::new(
            ErrorCode::Ambiguous,
            format!(
                "{what}: no complete answer from {host} within {n} s after the request was \
                 sent: it may or may not have happened in Kinde"
            ),
            ctx.check_hint(),
        );
    }
    Error::new(
        ErrorCode::Timeout,
        format!("{what}: no complete answer from {host} within {n} s"),
        "Check your network connection and proxy, then try again; a slow Kinde usually \
         recovers within minutes (see https://status.kinde.com).",
    )
}

/// An answer larger than the cap of its operation: not read further.
pub fn too_large(ctx: &Ctx<'_>, host: &str, status: StatusCode) -> Error {
    let what = ctx.op.describe();
    let cap = ctx.op.max_body();
    let hint = if ctx.op.writes() {
        ctx.check_hint()
    } else {
        "Check that the profile's domain is your Kinde business domain \
         (https://<business>.kinde.com) and that no proxy answers in its place; Kinde's answers \
         are far smaller."
            .to_string()
    };
    Error::new(
        ErrorCode::UnexpectedResponse,
        format!(
            "{host}'s answer ({status}) to {what} is larger than {cap} bytes; it was not read \
             further"
        ),
        hint,
    )
}

/// A 429 that asked for a wait no real Kinde asks for (`asked` describes it).
pub fn absurd_wait(what: &str, asked: &str) -> Error {
    Error::new(
        ErrorCode::RateLimited,
        format!(
            "Kinde answered {what} with 429 Too Many Requests and asked to wait {asked}; refusing"
        ),
        "That is not a wait Kinde asks for: check that the profile's domain is your Kinde \
         business (https://<business>.kinde.com) and that no proxy answers in its place, then \
         try again in a minute.",
    )
}

/// Maps an OAuth error answer of `/oauth2/token`.
pub fn token_error(status: StatusCode, body: &[u8], retry_secs: Option<u64>) -> Error {
    if status.as_u16() == 429 {
        return rate_limited("the token request", retry_secs);
    }
    let e: OAuthError = serde_json::from_slice(body).unwrap_or_default();
    let desc = e
        .error_description
        .map(|d| d.chars().take(300).collect::<String>())
        .unwrap_or_default();
    let suffix = if desc.is_empty() {
        String::new()
    } else {
        format!(": {desc}")
    };
    match e.error.as_deref() {
        Some("invalid_client") => Error::new(
            ErrorCode::InvalidClient,
            format!("Kinde refused the M2M credentials (invalid_client{suffix})"),
            "The client id or secret is wrong, or the secret was rotated in Kinde > Settings > \
             Applications: copy both again from your M2M application and update the profile.",
        ),
        Some("unauthorized_client") => Error::new(
            ErrorCode::UnauthorizedClient,
            format!(
                "the M2M application may not get a token for the Management API (unauthorized_client{suffix})"
            ),
            "Authorize the application for the Kinde Management API: Kinde > Settings > APIs > \
             Kinde Management API > Applications, switch your M2M application on, and grant it \
             the scopes Keyward needs.",
        ),
        Some(other) => Error::new(
            ErrorCode::TokenRequestFailed,
            format!(
                "Kinde refused the token request ({}{suffix})",
                other.chars().take(60).collect::<String>()
            ),
            "Check the M2M application in Kinde > Settings > Applications and its access to the \
             Kinde Management API; run `keyward doctor connection`.",
        ),
        None if status.is_server_error() => Error::new(
            ErrorCode::ServerError,
            format!("Kinde answered {status} to the token request"),
            "Kinde had a problem; try again in a minute (see https://status.kinde.com).",
        ),
        None if status.is_redirection() => status_error(
            &Ctx {
                op: Operation::Token,
                subject: None,
                name: None,
            },
            status,
            body,
            None,
        ),
        None => Error::new(
            ErrorCode::TokenRequestFailed,
            format!("the token request failed with {status}"),
            "Check that the profile's domain is your Kinde business domain \
             (https://<business>.kinde.com); run `keyward doctor connection`.",
        ),
    }
}

fn chain_text(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        text.push_str(": ");
        text.push_str(&s.to_string());
        src = s.source();
    }
    text
}

fn io_kind(e: &reqwest::Error) -> Option<std::io::ErrorKind> {
    let mut src = e.source();
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        src = s.source();
    }
    None
}

/// Classes of transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Dns,
    Tls,
    Refused,
    ConnectTimeout,
    /// Timed out after the request was (probably) sent.
    Timeout,
    /// Connected, then the connection broke (reset, closed).
    Broken,
    Other,
}

pub fn classify(e: &reqwest::Error) -> Transport {
    let text = chain_text(e).to_ascii_lowercase();
    let kind = io_kind(e);
    if e.is_dns() || text.contains("dns error") || text.contains("failed to lookup address") {
        return Transport::Dns;
    }
    if text.contains("certificate")
        || text.contains("tls")
        || text.contains("handshake")
        || text.contains("invalidcertificate")
        || text.contains("unknownissuer")
    {
        return Transport::Tls;
    }
    if e.is_connect() {
        if e.is_timeout() || kind == Some(std::io::ErrorKind::TimedOut) {
            return Transport::ConnectTimeout;
        }
        if matches!(
            kind,
            Some(std::io::ErrorKind::ConnectionRefused) | Some(std::io::ErrorKind::ConnectionReset)
        ) || text.contains("refused")
        {
            return Transport::Refused;
        }
        return Transport::Other;
    }
    if e.is_timeout() {
        return Transport::Timeout;
    }
    if e.is_request() || e.is_body() || kind.is_some() || text.contains("connection") {
        return Transport::Broken;
    }
    Transport::Other
}

/// Maps a transport failure; `host` is shown to the user.
pub fn transport_error(ctx: &Ctx<'_>, t: Transport, host: &str, e: &reqwest::Error) -> Error {
    let what = ctx.op.describe();
    let detail: String = chain_text(e).chars().take(300).collect();
    let in_doubt = ctx.op.writes() && matches!(t, Transport::Timeout | Transport::Broken);
    if in_doubt {
        let happened = match t {
            Transport::Timeout => "timed out after the request was sent",
            _ => "lost the connection after the request was sent",
        };
        return Error::new(
            ErrorCode::Ambiguous,
            format!("{what} {happened}: it may or may not have happened in Kinde"),
            ctx.check_hint(),
        );
    }
    match t {
        Transport::Dns => Error::new(
            ErrorCode::Dns,
            format!("the name {host} does not resolve ({detail})"),
            "Check the domain's spelling in the profile (mybiz.kinde.com) and your network or DNS.",
        ),
        Transport::Tls => Error::new(
            ErrorCode::Tls,
            format!("the TLS connection to {host} failed ({detail})"),
            "Check the domain and your system clock. Behind a proxy or antivirus that \
             intercepts https, trust its root certificate: KEYWARD_CA_CERT=/path/to/root-ca.pem.",
        ),
        Transport::Refused => Error::new(
            ErrorCode::ConnectionRefused,
            format!("nothing accepted the connection to {host} ({detail})"),
            "Check the domain and port in the profile, and that the server (or the sandbox) is \
             running and reachable from this machine.",
        ),
        Transport::ConnectTimeout | Transport::Timeout => Error::new(
            ErrorCode::Timeout,
            format!("{what} timed out talking to {host}"),
            "Check your network connection and proxy, then try again.",
        ),
        Transport::Broken | Transport::Other => Error::new(
            ErrorCode::Network,
            format!("{what} failed on the network ({detail})"),
            "Check your network connection and proxy, then try again.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_is_read_from_the_body_or_the_operation() {
        let ctx = Ctx {
            op: Operation::CreateKey,
            subject: None,
            name: Some("n"),
        };
        let e = status_error(&ctx, StatusCode::FORBIDDEN, b"{}", None);
        assert_eq!(e.code, ErrorCode::MissingScope);
        assert!(e.message.contains("create:api_keys"));
        assert!(e.hint.contains("create:api_keys"));
        let body = br#"{"errors":[{"code":"FORBIDDEN","message":"missing the scope read:users: grant it"}]}"#;
        let ctx = Ctx {
            op: Operation::ListKeys,
            subject: None,
            name: None,
        };
        let e = status_error(&ctx, StatusCode::FORBIDDEN, body, None);
        assert!(e.message.contains("read:users"), "{}", e.message);
    }

    #[test]
    fn not_found_names_the_key() {
        let ctx = Ctx {
            op: Operation::GetKey,
            subject: Some("api_key_x"),
            name: None,
        };
        let body = br#"{"errors":{"code":"API_KEY_NOT_FOUND","message":"no"}}"#;
        let e = status_error(&ctx, StatusCode::NOT_FOUND, body, None);
        assert_eq!(e.code, ErrorCode::NotFound);
        assert!(e.message.contains("api_key_x"));
    }

    #[test]
    fn oauth_errors() {
        let e = token_error(
            StatusCode::UNAUTHORIZED,
            br#"{"error":"invalid_client"}"#,
            None,
        );
        assert_eq!(e.code, ErrorCode::InvalidClient);
        assert!(e.hint.contains("Settings > Applications"));
        let e = token_error(
            StatusCode::BAD_REQUEST,
            br#"{"error":"unauthorized_client"}"#,
            None,
        );
        assert_eq!(e.code, ErrorCode::UnauthorizedClient);
        let e = token_error(StatusCode::TOO_MANY_REQUESTS, b"", Some(7));
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert!(e.hint.contains("7 s"));
        let e = token_error(StatusCode::BAD_GATEWAY, b"<html>", None);
        assert_eq!(e.code, ErrorCode::ServerError);
    }
}
