//! Simulated verification traffic: busy keys get most of it, idle keys none.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use rand::seq::IndexedRandom;

use crate::keys;
use crate::model::{KeyKind, Status};
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
        // A key's callers keep their address (so that a new IP stands out in the demo).
        let ip = match db.keys.get(id).and_then(|k| k.last_verified_ip.clone()) {
            Some(ip) => ip,
            None => IPS
                .choose(&mut *rng)
                .copied()
                .unwrap_or("203.0.113.10")
                .to_string(),
        };
        keys::verify_id(&mut db, id, &ip, now);
    }
}

/// Counts `times` verifications of key `id` from `ip` at `at` (the key's callers, as a test or
/// the demo script wants them). `false` when the key is unknown or not active.
pub fn verify_as(sh: &Shared, id: &str, ip: &str, at: DateTime<Utc>, times: u64) -> bool {
    let mut db = sh.db.lock();
    let active = db.keys.get(id).is_some_and(|k| k.status == Status::Active);
    if !active || times == 0 {
        return false;
    }
    for _ in 0..times {
        keys::verify_id(&mut db, id, ip, at);
    }
    true
}

/// "In the portal": a key rotated by someone else (a user in Kinde's self-serve portal).
pub fn portal_rotate(sh: &Shared, id: &str) -> bool {
    keys::rotate(&mut sh.db.lock(), id).is_ok()
}

/// "In the portal": a key created by someone else, for the first organization and API, with
/// `created_by` set. Returns its id (its secret is dropped: nobody here needs it).
pub fn portal_create(sh: &Shared, name: &str, created_by: &str) -> Option<String> {
    let mut db = sh.db.lock();
    let api = db.apis.first()?.clone();
    let org = db.orgs.first()?.code.clone();
    let new = keys::NewKey {
        name: name.to_string(),
        kind: KeyKind::Organization,
        api_id: api.id.clone(),
        scopes: api.scopes.iter().take(1).map(|s| s.key.clone()).collect(),
        user_id: None,
        org_code: Some(org),
        created_by: Some(created_by.to_string()),
        created_on: Utc::now(),
        traffic_weight: 0,
    };
    let mut rng = sh.rng.lock();
    Some(keys::create(&mut db, new, &mut *rng).0)
}

/// The demo's watchtower script: within a few minutes of live traffic, one of each event an
/// admin should see (deterministic for a given `--rng-seed`):
/// - at start, a key named "Canary: finance backup" (for the app to mark as a canary);
///
/// then, counted from the first key listing (a client's first sync, which makes every key's
/// IPs known: an IP changed before it would be no news):
/// - 30 s: a never-seen IP on a busy key;
/// - 60 s: a key idle for months verified again (dormant wakes);
/// - 90 s: a spike of 600 verifications on a regular key;
/// - 120 s: a key created and another rotated "in the portal" (drift);
/// - 150 s: the canary key verified (canary tripped).
pub async fn watchtower_script(sh: Arc<Shared>, step: Duration, after_listings: u64) {
    let canary = portal_create(&sh, "Canary: finance backup", "Keyward demo");
    let pick = |f: &dyn Fn(&crate::model::KeyRec) -> bool| -> Option<String> {
        let db = sh.db.lock();
        let ids: Vec<String> = db
            .keys
            .values()
            .filter(|k| k.status == Status::Active && f(k))
            .map(|k| k.id.clone())
            .collect();
        let mut rng = sh.rng.lock();
        ids.choose(&mut *rng).cloned()
    };
    while sh.counters.lock().stats.list_keys < after_listings {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(step).await;
    if let Some(id) = pick(&|k| k.traffic_weight >= 50) {
        verify_as(&sh, &id, "198.18.7.77", Utc::now(), 3);
    }
    tokio::time::sleep(step).await;
    let long_ago = Utc::now() - chrono::Duration::days(45);
    if let Some(id) =
        pick(&|k| k.traffic_weight == 0 && k.last_verified_on.is_some_and(|t| t < long_ago))
    {
        let ip = sh
            .db
            .lock()
            .keys
            .get(&id)
            .and_then(|k| k.last_verified_ip.clone());
        verify_as(
            &sh,
            &id,
            ip.as_deref().unwrap_or("203.0.113.10"),
            Utc::now(),
            1,
        );
    }
    tokio::time::sleep(step).await;
    if let Some(id) = pick(&|k| k.traffic_weight == 5) {
        let ip = sh
            .db
            .lock()
            .keys
            .get(&id)
            .and_then(|k| k.last_verified_ip.clone());
        verify_as(
            &sh,
            &id,
            ip.as_deref().unwrap_or("203.0.113.10"),
            Utc::now(),
            600,
        );
    }
    tokio::time::sleep(step).await;
    portal_create(&sh, "Self-serve key (portal)", "Grace Nakamura");
    if let Some(id) = pick(&|k| k.traffic_weight == 5 && !k.name.starts_with("Canary")) {
        portal_rotate(&sh, &id);
    }
    tokio::time::sleep(step).await;
    if let Some(id) = canary {
        verify_as(&sh, &id, "192.0.2.200", Utc::now(), 1);
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
