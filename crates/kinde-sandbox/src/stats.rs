//! Requests counted by kind and by route template, as `GET /_sandbox/stats` serves them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Requests counted by kind. `GET /_sandbox/stats` serves this plus a `requests` map by route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub total: u64,
    pub token: u64,
    pub list_keys: u64,
    pub get_key: u64,
    pub create_key: u64,
    pub rotate_key: u64,
    pub revoke_key: u64,
    pub verify_key: u64,
    pub other: u64,
    pub rate_limited: u64,
}

#[derive(Debug, Default)]
pub struct Counters {
    pub stats: Stats,
    pub requests: BTreeMap<String, u64>,
}

impl Counters {
    /// Counts one request by its route template (`GET /api/v1/api_keys/{key_id}`).
    pub fn count(&mut self, method: &str, template: &str) {
        let route = format!("{method} {template}");
        self.stats.total += 1;
        let s = &mut self.stats;
        match route.as_str() {
            "POST /oauth2/token" => s.token += 1,
            "GET /api/v1/api_keys" => s.list_keys += 1,
            "POST /api/v1/api_keys" => s.create_key += 1,
            "GET /api/v1/api_keys/{key_id}" => s.get_key += 1,
            "PUT /api/v1/api_keys/{key_id}" => s.rotate_key += 1,
            "DELETE /api/v1/api_keys/{key_id}" => s.revoke_key += 1,
            "POST /api/v1/api_keys/verify" => s.verify_key += 1,
            _ => s.other += 1,
        }
        *self.requests.entry(route).or_insert(0) += 1;
    }
}
