//! The typed client of Kinde's Management API (and of `kinde-sandbox`).
//!
//! - token: client credentials, cached until shortly before expiry, one refresh in flight at a
//!   time, refreshed once on a 401, clock skew measured from Kinde's `Date` header;
//! - one method per route, iterators that page to the end (`page_size` 500);
//! - retries: 429 waits for `RateLimit-Reset`/`Retry-After` plus jitter (a bounded number of
//!   times); 5xx and network errors are retried with backoff only for GETs; create, rotate,
//!   revoke and verify are never retried blindly (a timeout after sending a create or rotate
//!   is `ambiguous`);
//! - every failure is an [`Error`](crate::Error) with a hint (see `errors.rs`).
//!
//! ```no_run
//! # async fn demo() -> keyward_core::Result<()> {
//! use keyward_core::kinde::{Client, ClientConfig, ListKeysQuery};
//! use keyward_core::secret::Secret;
//! let base = keyward_core::kinde::parse_base_url("mybiz.kinde.com")?;
//! let client = Client::new(ClientConfig::new(base, "m2m-id", Secret::new("...")))?;
//! let keys = client.list_keys_all(&ListKeysQuery::default()).await?;
//! # Ok(()) }
//! ```

mod api;
mod budget;
mod errors;
mod http;
mod token;
mod transport;
mod types;
mod validate;
pub mod wire;

use std::sync::Arc;

use crate::error::Result;

pub use budget::RetryBudget;
pub use errors::{Operation, scope_hint};
pub use transport::{BodyError, read_capped, server_http, server_transport_error};
pub use types::{
    ClientConfig, ClientOptions, CreateKeyRequest, CreatedKey, KeysPage, ListKeysQuery,
    MAX_BODY_BYTES, MAX_ITEM_BODY_BYTES, MAX_PAGE_SIZE, MAX_SANE_RESET_SECS, NEEDED_SCOPES,
    RequestCounts, ResponseCounts, TokenInfo,
};
pub use validate::{is_bidi_control, parse_base_url, validate_id, validate_name, validate_scope};

/// The Management API client. Cheap to clone: clones share the token cache and counters.
#[derive(Clone)]
pub struct Client {
    inner: Arc<http::Inner>,
    /// The operation's retry budget when a caller set one ([`Client::with_budget`]); else each
    /// request gets its own from the options.
    budget: Option<RetryBudget>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Validates the configuration (https except on loopback, no path/query) and builds the
    /// HTTP client. Sends nothing.
    pub fn new(cfg: ClientConfig) -> Result<Client> {
        Self::with_options(cfg, ClientOptions::default())
    }

    pub fn with_options(cfg: ClientConfig, opts: ClientOptions) -> Result<Client> {
        Ok(Client {
            inner: Arc::new(http::Inner::new(cfg, opts)?),
            budget: None,
        })
    }

    /// This client (sharing its token cache and counters) with every request under `budget`:
    /// its deadline bounds them all, and each request gets at most its `max_attempts` tries,
    /// counted together with any retry loop of the caller that holds the same budget.
    pub fn with_budget(&self, budget: RetryBudget) -> Client {
        Client {
            inner: Arc::clone(&self.inner),
            budget: Some(budget),
        }
    }

    /// The budget of one call made by a caller that may retry it (the sync): a
    /// [`child`](RetryBudget::child) of this client's budget if it has one, else a fresh one
    /// from the options (`1 + max_retries` attempts within `retry_deadline`).
    pub fn call_budget(&self) -> RetryBudget {
        let deadline = self.inner.opts.retry_deadline;
        match &self.budget {
            Some(b) => b.child(deadline),
            None => RetryBudget::new(self.inner.opts.max_retries + 1, deadline),
        }
    }

    /// The budget a request of this client goes under.
    fn request_budget(&self) -> RetryBudget {
        match &self.budget {
            Some(b) => b.clone(),
            None => self.call_budget(),
        }
    }

    pub fn base_url(&self) -> &url::Url {
        &self.inner.base
    }

    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// Gets (or reuses) a token and describes it.
    pub async fn token_info(&self) -> Result<TokenInfo> {
        let i = &self.inner;
        let budget = self.request_budget();
        let t = i
            .token
            .get(&i.link, &i.client_id, &i.secret, None, &budget)
            .await?;
        Ok(t.info())
    }

    /// An unauthenticated GET of the domain's root (for the doctor): any HTTP answer means
    /// DNS, TCP and TLS work. Returns the HTTP status.
    pub async fn probe(&self) -> Result<u16> {
        self.inner.probe().await
    }

    pub fn request_counts(&self) -> RequestCounts {
        self.inner.counts.snapshot()
    }

    /// Kinde's answers to this client (and its clones) by HTTP status code, token requests
    /// and the doctor's probe included, and the tries that got no answer (refused, reset,
    /// timed out, DNS, TLS). Each try counts: a 429 waited out and retried shows under 429
    /// and under the code of the retry's answer.
    pub fn status_counts(&self) -> ResponseCounts {
        self.inner.counts.responses()
    }

    /// How many 429 answers this client (and its clones) received so far. Each was waited
    /// out (`RateLimit-Reset`) before the next request of this client went out.
    pub fn throttled_count(&self) -> u64 {
        self.inner
            .throttled
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}
