//! The client's configuration and the data of its requests and answers.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::model::key::{KeyStatus, KeyType, Owner};
pub use crate::model::sync::RequestCounts;
use crate::secret::{OneTimeSecret, Secret};

/// The scopes of the Kinde Management API that Keyward uses.
pub const NEEDED_SCOPES: [&str; 8] = [
    "read:api_keys",
    "create:api_keys",
    "update:api_keys",
    "delete:api_keys",
    "read:apis",
    "read:api_scopes",
    "read:organizations",
    "read:users",
];

/// The most bytes one answer of a listing may hold (a page of keys, APIs, scopes,
/// organizations or users). A page of 500 keys is about 250 KB, and 500 APIs with their scopes
/// expanded well under 1 MB: 4 MiB leaves a wide margin while an endless or hostile answer
/// stops there instead of filling the memory.
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// The most bytes any other answer may hold (one key, a token, a created key, an error body):
/// each is a few KB. Kept small because the sync reads up to 64 key details at once.
pub const MAX_ITEM_BODY_BYTES: usize = 256 << 10;

/// A Retry-After or RateLimit-Reset above this many seconds is not a wait Kinde asks for: it
/// is reported, never waited out or passed on as a hint.
pub const MAX_SANE_RESET_SECS: u64 = 3600;

/// The largest page Kinde serves.
pub const MAX_PAGE_SIZE: u32 = 500;

/// Where and who: what a profile resolves to.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://<business>.kinde.com` (http only on loopback), no path, query or fragment.
    pub base_url: url::Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub connect_timeout: Duration,
    /// Overall timeout of one HTTP request (each retry gets its own).
    pub timeout: Duration,
}

impl ClientConfig {
    /// Connect timeout 10 s, overall timeout 30 s.
    pub fn new(base_url: url::Url, client_id: impl Into<String>, client_secret: Secret) -> Self {
        ClientConfig {
            base_url,
            client_id: client_id.into(),
            client_secret,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Tuning knobs, mostly for tests; [`Default`] is what the app and the CLI use.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// An extra trusted root certificate (PEM), e.g. the sandbox's self-signed one.
    pub root_cert_pem: Option<String>,
    /// How many times a GET is re-sent after a 5xx or a network error (and a 429 waited out:
    /// one request gets at most `1 + max_retries` tries in all).
    pub max_retries: u32,
    /// First backoff delay; doubles each retry (plus jitter).
    pub retry_base_delay: Duration,
    /// How many 429 answers are waited out before giving up with `rate_limited`.
    pub max_rate_limit_waits: u32,
    /// A 429 asking for a longer wait than this is not waited out: it fails at once.
    pub max_rate_limit_wait: Duration,
    /// Largest random jitter added to a 429 wait and to backoffs.
    pub max_jitter: Duration,
    /// The shortest wait after a 429, doubled at each further 429 of a request (a
    /// `RateLimit-Reset: 0` is not "go now").
    pub min_rate_limit_wait: Duration,
    /// The total deadline of one request with all its retries and waits (when the caller set
    /// no budget of its own: see [`super::Client::with_budget`]).
    pub retry_deadline: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            root_cert_pem: None,
            max_retries: 3,
            retry_base_delay: Duration::from_millis(250),
            max_rate_limit_waits: 3,
            max_rate_limit_wait: Duration::from_secs(65),
            max_jitter: Duration::from_millis(400),
            min_rate_limit_wait: Duration::from_secs(1),
            retry_deadline: Duration::from_secs(60),
        }
    }
}

/// Answers received by this client (and its clones), by HTTP status code, and the requests
/// that got no answer at all (refused, reset, timed out, DNS, TLS): every try counts, so a
/// request retried after a 503 shows once under 503 and once under its final code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseCounts {
    /// Status code to the number of answers with it.
    pub by_status: std::collections::BTreeMap<u16, u64>,
    /// Tries that failed before a status line was read, or whose body could not be read.
    pub transport_failures: u64,
}

impl ResponseCounts {
    /// Answers with this status code.
    pub fn status(&self, code: u16) -> u64 {
        self.by_status.get(&code).copied().unwrap_or(0)
    }

    /// Every answer with a status code, whatever it was.
    pub fn answered(&self) -> u64 {
        self.by_status.values().sum()
    }
}

/// The cached token, seen from outside (the token itself is never exposed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TokenInfo {
    /// The scopes granted to the M2M application (from the token's `scope`/`scp` claims).
    pub scopes: Vec<String>,
    /// When Keyward stops using the token (local clock).
    pub expires_at: DateTime<Utc>,
    /// Kinde's clock minus the local clock, in seconds, from the token answer's `Date` header
    /// (`None` when the header was missing or unreadable).
    #[ts(type = "number | null")]
    pub clock_skew_secs: Option<i64>,
    /// Set when the skew exceeds 60 s: what is wrong and what to do.
    pub clock_skew_warning: Option<String>,
}

/// Filters and paging of `GET /api/v1/api_keys`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ListKeysQuery {
    pub key_type: Option<KeyType>,
    pub status: Option<KeyStatus>,
    pub user_id: Option<String>,
    pub org_code: Option<String>,
    /// 1..=500; Kinde's default (50) when `None`.
    pub page_size: Option<u32>,
    /// A key id: the page starts after it.
    pub starting_after: Option<String>,
}

/// One page of keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct KeysPage {
    pub keys: Vec<crate::model::key::ApiKey>,
    pub has_more: bool,
}

/// `POST /api/v1/api_keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CreateKeyRequest {
    pub name: String,
    pub owner: Owner,
    pub api_id: String,
    /// Scope ids (not keys) of that API.
    pub scope_ids: Vec<String>,
}

/// A created or rotated key: its id and the secret, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CreatedKey {
    pub id: String,
    pub key: OneTimeSecret,
}
