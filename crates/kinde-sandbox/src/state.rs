//! State shared by every request: data, M2M apps, signer, counters, rate-limit windows.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use parking_lot::Mutex;
use parking_lot::RwLock;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::clients::ClientApp;
use crate::http::ApiError;
use crate::model::Db;
use crate::stats::Counters;
use crate::token::Signer;

/// Knobs read at request time.
#[derive(Debug, Clone)]
pub struct Settings {
    pub rate_limit_per_min: Option<u32>,
    pub latency_ms: u64,
    /// Extra latency of `GET /api/v1/api_keys/{key_id}` (ms); changeable while serving.
    pub detail_latency_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub fault_rate: f64,
    pub token_ttl_secs: u64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

pub struct Shared {
    pub db: Mutex<Db>,
    pub clients: RwLock<HashMap<String, ClientApp>>,
    pub signer: Signer,
    pub counters: Mutex<Counters>,
    limiter: Mutex<HashMap<String, Window>>,
    /// Data generation and fault dice; seeded by `--rng-seed`. Secrets never come from here.
    pub rng: Mutex<StdRng>,
    pub base_url: String,
    pub settings: Settings,
}

impl Shared {
    pub fn new(db: Db, base_url: String, settings: Settings, rng_seed: Option<u64>) -> Self {
        let rng = match rng_seed {
            Some(s) => StdRng::seed_from_u64(s.wrapping_add(1)),
            None => StdRng::from_os_rng(),
        };
        Shared {
            db: Mutex::new(db),
            clients: RwLock::new(HashMap::new()),
            signer: Signer::new(),
            counters: Mutex::new(Counters::default()),
            limiter: Mutex::new(HashMap::new()),
            rng: Mutex::new(rng),
            base_url,
            settings,
        }
    }

    /// The Management API audience.
    pub fn audience(&self) -> String {
        format!("{}/api", self.base_url)
    }

    pub fn add_client(&self, id: &str, secret: &str, scopes: &[&str]) {
        self.clients.write().insert(
            id.to_string(),
            ClientApp {
                secret: secret.to_string(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            },
        );
    }

    /// Counts one request by its route template (`GET /api/v1/api_keys/{key_id}`).
    pub fn count(&self, method: &str, template: &str) {
        self.counters.lock().count(method, template);
    }

    /// Fixed one-minute window per client. Past the limit: 429 with `RateLimit-Reset`.
    pub fn check_rate(&self, client: &str) -> Result<(), ApiError> {
        let Some(limit) = self.settings.rate_limit_per_min else {
            return Ok(());
        };
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        let mut map = self.limiter.lock();
        let w = map.entry(client.to_string()).or_insert(Window {
            start: now,
            count: 0,
        });
        if now.duration_since(w.start) >= minute {
            *w = Window {
                start: now,
                count: 0,
            };
        }
        if w.count < limit {
            w.count += 1;
            return Ok(());
        }
        let left = minute.saturating_sub(now.duration_since(w.start));
        let reset = left.as_secs_f64().ceil().max(1.0) as u64;
        drop(map);
        self.counters.lock().stats.rate_limited += 1;
        Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_REQUESTS",
            format!("Rate limit of {limit} requests per minute exceeded; retry in {reset} s"),
        )
        .with_header(
            header::HeaderName::from_static("ratelimit-reset"),
            reset.to_string(),
        ))
    }
}
