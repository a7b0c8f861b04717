//! The one error type that crosses every boundary: `{code, message, hint}`.
//!
//! Front ends branch on `code` (never on `message`). Every code a user can meet carries a hint
//! that says what to do next. Add a code only when a consumer needs to tell it apart.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Stable, machine-readable error codes (serialized as snake_case strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ErrorCode {
    // ---- input, checked before any request ----
    /// A field the user typed is malformed (the message names the field).
    InvalidInput,
    /// No profile matches, or none is selected and several exist.
    ProfileNotFound,
    /// A profile with that name already exists.
    ProfileExists,
    /// No client secret in the keyring (and `KEYWARD_CLIENT_SECRET` unset).
    SecretMissing,
    /// The OS keyring could not be reached or refused the operation.
    KeyringUnavailable,
    // ---- token endpoint (OAuth errors) ----
    /// Wrong client id or secret, or the secret was rotated.
    InvalidClient,
    /// The M2M app is not authorized for the Management API audience.
    UnauthorizedClient,
    /// The token request was refused for another OAuth reason.
    TokenRequestFailed,
    // ---- Management API ----
    /// 401 after a fresh token: the token was refused.
    Unauthenticated,
    /// 403: the M2M application lacks a scope (the message names it).
    MissingScope,
    /// A Keyward Server refused the operation to this member's role (403 `forbidden`; the
    /// message names the role it needs).
    Forbidden,
    /// 404: the key / api / org / user does not exist.
    NotFound,
    /// 400 from Kinde: the request was refused as invalid.
    BadRequest,
    /// 429: throttled; the hint says when to retry.
    RateLimited,
    /// 5xx from Kinde.
    ServerError,
    /// The answer did not have the shape the spec promises.
    UnexpectedResponse,
    /// A create/rotate/revoke may or may not have happened (timeout after sending).
    Ambiguous,
    // ---- network ----
    /// The host name does not resolve.
    Dns,
    /// TLS handshake or certificate failure.
    Tls,
    /// Nothing is listening / connection refused or reset.
    ConnectionRefused,
    /// Connect or overall timeout.
    Timeout,
    /// Other transport failure.
    Network,
    // ---- local ----
    /// The local database failed (I/O, corruption, lock).
    Database,
    /// The database was written by a newer Keyward.
    DatabaseTooNew,
    /// The disk holding the local database is full (the message names it); reads still work.
    DiskFull,
    /// Reading or writing a local file failed.
    Io,
    /// Another sync of the same profile is running (the app or another CLI); try again when
    /// it ends.
    SyncInProgress,
    /// A one-time secret (a created, rotated or re-issued key's) could not be written out: the
    /// key at Kinde now has a secret nobody holds (the message names the key; rotate it again).
    SecretNotDelivered,
    /// The operation was cancelled by the user.
    Cancelled,
    /// Offline: Kinde unreachable; cached data is being shown.
    Offline,
    /// A bug: should not happen.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        code_name(self)
    }

    /// Process exit code for the CLI, one per class of error.
    pub fn exit_code(self) -> i32 {
        use ErrorCode::*;
        match self {
            InvalidInput | ProfileNotFound | ProfileExists => 2,
            SecretMissing | KeyringUnavailable | InvalidClient | UnauthorizedClient
            | TokenRequestFailed | Unauthenticated => 3,
            MissingScope => 4,
            Forbidden => 11,
            NotFound => 5,
            BadRequest => 6,
            RateLimited => 7,
            Dns | Tls | ConnectionRefused | Timeout | Network | Offline | ServerError => 8,
            Ambiguous => 9,
            Database | DatabaseTooNew | DiskFull | Io | SyncInProgress => 10,
            SecretNotDelivered => 12,
            Cancelled => 130,
            UnexpectedResponse | Internal => 1,
        }
    }
}

fn code_name(c: ErrorCode) -> &'static str {
    use ErrorCode::*;
    match c {
        InvalidInput => "invalid_input",
        ProfileNotFound => "profile_not_found",
        ProfileExists => "profile_exists",
        SecretMissing => "secret_missing",
        KeyringUnavailable => "keyring_unavailable",
        InvalidClient => "invalid_client",
        UnauthorizedClient => "unauthorized_client",
        TokenRequestFailed => "token_request_failed",
        Unauthenticated => "unauthenticated",
        MissingScope => "missing_scope",
        Forbidden => "forbidden",
        NotFound => "not_found",
        BadRequest => "bad_request",
        RateLimited => "rate_limited",
        ServerError => "server_error",
        UnexpectedResponse => "unexpected_response",
        Ambiguous => "ambiguous",
        Dns => "dns",
        Tls => "tls",
        ConnectionRefused => "connection_refused",
        Timeout => "timeout",
        Network => "network",
        Database => "database",
        DatabaseTooNew => "database_too_new",
        DiskFull => "disk_full",
        Io => "io",
        SyncInProgress => "sync_in_progress",
        SecretNotDelivered => "secret_not_delivered",
        Cancelled => "cancelled",
        Offline => "offline",
        Internal => "internal",
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(code_name(*self))
    }
}

/// `{code, message, hint}`. `message` says what happened, `hint` what to do about it.
/// Neither ever contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message} ({code})")]
#[ts(export)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub hint: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// A malformed user-typed field. `field` is the name the user sees.
    pub fn invalid_input(
        field: &str,
        problem: impl std::fmt::Display,
        hint: impl Into<String>,
    ) -> Self {
        Self::new(ErrorCode::InvalidInput, format!("{field}: {problem}"), hint)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            ErrorCode::Internal,
            message,
            "This is a bug in Keyward. Please report it with the steps that led here.",
        )
    }

    pub fn io(what: &str, e: &std::io::Error) -> Self {
        Self::new(
            ErrorCode::Io,
            format!("{what}: {e}"),
            "Check that the path exists and that you may write to it.",
        )
    }

    pub fn cancelled() -> Self {
        Self::new(
            ErrorCode::Cancelled,
            "cancelled",
            "Nothing more was done after the cancel.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_names() {
        for c in [
            ErrorCode::InvalidClient,
            ErrorCode::MissingScope,
            ErrorCode::DatabaseTooNew,
        ] {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
    }

    #[test]
    fn error_serializes_as_code_message_hint() {
        let e = Error::invalid_input("name", "must not be empty", "Type a name.");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["code"], "invalid_input");
        assert_eq!(v["message"], "name: must not be empty");
        assert_eq!(v["hint"], "Type a name.");
    }
}
