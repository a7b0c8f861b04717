//! Simulated verification traffic: busy keys get most of it, idle keys none.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use rand::seq::IndexedRandom;

use crate::keys;
use crate::model::Status;
use crate::state::Shared;

/// Addresses the simulated callers come from (documentation ranges).
const IPS: &[&str] = &[
    "203.0.113.10",
    "203.0.113.77",
    "198.51.100.23",
    "198.51.100.140",
    "192.0.2.54",
];

/// Verifies `n` distinct random active keys once each and returns their ids.
pub fn simulate(sh: &Shared, n: usize) -> Vec<String> {
    let mut db = sh.db.lock();
    let active: Vec<String> = db
        .keys
        .values()
        .filter(|k| k.status == Status::Active)
        .map(|k| k.id.clone())
        .collect();
    let mut rng = sh.rng.lock();
    let chosen: Vec<String> = active.choose_multiple(&mut *rng, n).cloned().collect();
    let now = Utc::now();
    for id in &chosen {
        let ip = IPS.choose(&mut *rng).copied().unwrap_or("203.0.113.10");
        keys::verify_id(&mut db, id, ip, now);
    }
    chosen
}

/// `n` verifications spread over active keys by their traffic weight.
pub fn weighted(sh: &Shared, n: usize) {
    if n == 0 {
        return;
    }
    let mut db = sh.db.lock();
    let mut rng = sh.rng.lock();
    // Pick first (borrowing the ids), then count (mutating).
    let chosen: Vec<String> = {
        let mut ids: Vec<&str> = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0u64;
        for k in db.keys.values() {
            if k.status == Status::Active && k.traffic_weight > 0 {
                total += u64::from(k.traffic_weight);
                ids.push(&k.id);
                cumulative.push(total);
            }
        }
        if total == 0 {
            return;
        }
        (0..n)
            .filter_map(|_| {
                let x = rng.random_range(0..total);
                ids.get(cumulative.partition_point(|&c| c <= x))
                    .map(|s| s.to_string())
            })
            .collect()
    };
    let now = Utc::now();
    for id in &chosen {
        let ip = IPS.choose(&mut *rng).copied().unwrap_or("203.0.113.10");
        keys::verify_id(&mut db, id, ip, now);
    }
}

/// Runs `per_sec` verifications per second until the task is aborted.
pub async fn run(sh: Arc<Shared>, per_sec: f64) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut budget = 0.0f64;
    // At most 100k per second; NaN or negative means none.
    let per_sec = if per_sec.is_finite() {
        per_sec.clamp(0.0, 100_000.0)
    } else {
        0.0
    };
    loop {
        tick.tick().await;
        budget += per_sec / 10.0;
        let n = budget.floor();
        budget -= n;
        weighted(&sh, n as usize);
    }
}
