//! How to run a sandbox: its starting data and its knobs.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which data the sandbox starts with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seed {
    /// No keys; one API (`read:data`, `write:data`), one org and one user to create keys for.
    #[default]
    Empty,
    /// A believable business: 3 APIs, 12 orgs, 40 users, about 150 keys.
    Demo,
}

impl std::str::FromStr for Seed {
    type Err = String;

    /// `empty` or `demo`.
    fn from_str(s: &str) -> Result<Seed, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "empty" => Ok(Seed::Empty),
            "demo" => Ok(Seed::Demo),
            other => Err(format!("unknown seed {other:?}: use empty or demo")),
        }
    }
}

/// How to run a sandbox.
#[derive(Debug, Clone)]
pub struct Config {
    pub seed: Seed,
    /// `--keys N`: this many extra keys spread over generated orgs and users.
    pub extra_keys: usize,
    /// Requests per minute per client (per M2M app; per address for verify).
    pub rate_limit_per_min: Option<u32>,
    /// Added to each Kinde route, with ±50% jitter.
    pub latency_ms: u64,
    /// Added (exactly, no jitter) to `GET /api/v1/api_keys/{key_id}` only, on top of
    /// `latency_ms`: slow details, to watch a list-first sync (default 0).
    pub detail_latency_ms: u64,
    /// Fraction of requests that get a 500, a 503 or a dropped connection.
    pub fault_rate: f64,
    pub token_ttl_secs: u64,
    /// Simulated verifications per second (0 = none).
    pub traffic_per_sec: f64,
    /// The M2M app holding every scope.
    pub client_id: String,
    pub client_secret: String,
    /// Makes data generation and fault dice repeatable. Secrets always come from the OS CSPRNG.
    pub rng_seed: Option<u64>,
    /// Serve https with a self-signed certificate (see [`crate::Sandbox::cert_pem`]).
    pub tls: bool,
    /// Load the data from this file when it exists; save it there every 30 s and on shutdown.
    pub state_file: Option<PathBuf>,
    /// With the demo seed and live traffic: time between the watchtower script's events
    /// (default 30 s; see `traffic::watchtower_script`).
    pub script_step: std::time::Duration,
    /// The script's clock starts once this many key listings were answered (default 1: the
    /// first sync). A test that must take its baseline first waits for a later listing.
    pub script_after_listings: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: Seed::Empty,
            extra_keys: 0,
            rate_limit_per_min: None,
            latency_ms: 0,
            detail_latency_ms: 0,
            fault_rate: 0.0,
            token_ttl_secs: 3600,
            traffic_per_sec: 0.0,
            client_id: "sandbox-m2m".to_string(),
            client_secret: "sandbox-secret".to_string(),
            rng_seed: None,
            tls: false,
            state_file: None,
            script_step: std::time::Duration::from_secs(30),
            script_after_listings: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_parses() {
        assert_eq!("demo".parse::<Seed>(), Ok(Seed::Demo));
        assert_eq!(" Empty ".parse::<Seed>(), Ok(Seed::Empty));
        assert!(
            "full"
                .parse::<Seed>()
                .unwrap_err()
                .contains("empty or demo")
        );
    }
}
