//! Sync benchmark (figures and ratios, no assertions on time).
//!
//! 1. Full sync of N keys (default 10,000) from a sandbox with 20 ms latency (±50% jitter), with
//!    the default settings (adaptive detail concurrency, cap 64), then pinned concurrencies for
//!    comparison, then a naive strategy in the same process (sequential, `page_size` 50, every
//!    detail fetched). Each is set against the bound
//!    max(requests / rate limit, requests × measured RTT / concurrency), where the measured RTT
//!    is the naive run's mean time per request and the concurrency is the most the run may use
//!    (the cap for the adaptive default).
//! 2. Incremental sync after k changed keys: requests = ceil(N/500) + k, counted by the sandbox.
//! 3. A rate-bound full sync (the rate limit binds), default settings.
//! 4. 100,000 keys: the sandbox's start-up, and a full sync under a rate limit with faults on,
//!    then the store checked: every key listed, no detail owed, nothing lost.
//!
//! Environment: `KW_BENCH_KEYS` (10000), `KW_BENCH_LATENCY_MS` (20), `KW_BENCH_RATE` (per
//! minute; unset = no limit in scenario 1), `KW_BENCH_CONCURRENCY` (pinned runs, comma list,
//! "8,32"), `KW_BENCH_NAIVE` (1 = run it), `KW_BENCH_RATE_SCENARIO` (1 = run scenario 3),
//! `KW_BENCH_BIG_KEYS` (100000; 0 skips scenario 4), `KW_BENCH_BIG_RATE` (per minute, 30000),
//! `KW_BENCH_BIG_FAULTS` (0.02).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use keyward_core::kinde::{Client, ListKeysQuery};
use keyward_core::model::sync::SyncOptions;
use keyward_core::store::{PageEntry, Store};
use keyward_core::sync::engine::run as run_sync;
use kinde_sandbox::{Config, Sandbox};
use tokio_util::sync::CancellationToken;

use support::{app_client, file_store, sandbox};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A sandbox with `keys` more keys than its seed, `latency_ms` on every answer and an optional
/// rate limit.
async fn sandbox_with(keys: usize, latency_ms: u64, rate: Option<u32>) -> Sandbox {
    sandbox(Config {
        extra_keys: keys,
        latency_ms,
        rate_limit_per_min: rate,
        rng_seed: Some(42),
        ..Config::default()
    })
    .await
}

struct Run {
    secs: f64,
    requests: u64,
    rate_limited: u64,
    /// The most detail requests in flight the run reached, and their mean over the details.
    peak: u32,
    mean: f64,
}

/// A full sync with `concurrency` (`None`: the default, adaptive up to `SyncOptions`' cap).
async fn ours(sb: &Sandbox, dir: &tempfile::TempDir, concurrency: Option<u32>, name: &str) -> Run {
    let c = app_client(sb);
    c.token_info().await.expect("token");
    let s = file_store(&dir.path().join(name), "bench");
    sb.reset_stats();
    let seen = parking_lot::Mutex::new((0u32, 0u64, 0u64));
    let t = Instant::now();
    let opts = SyncOptions {
        full: true,
        concurrency,
        ..SyncOptions::default()
    };
    let progress = |p: keyward_core::model::sync::SyncProgress| {
        if p.phase == keyward_core::model::sync::SyncPhase::Details {
            let mut g = seen.lock();
            g.0 = g.0.max(p.concurrency);
            g.1 += u64::from(p.concurrency);
            g.2 += 1;
        }
    };
    let summary = run_sync(&c, &s, opts, &progress, &CancellationToken::new())
        .await
        .expect("sync");
    let secs = t.elapsed().as_secs_f64();
    let st = sb.stats();
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    let (peak, sum, n) = *seen.lock();
    Run {
        secs,
        requests: st.total - st.rate_limited,
        rate_limited: st.rate_limited,
        peak,
        mean: sum as f64 / n.max(1) as f64,
    }
}

/// Sequential, `page_size` 50, every detail fetched, stored page by page like ours.
async fn naive(sb: &Sandbox, dir: &tempfile::TempDir) -> Run {
    let c = app_client(sb);
    c.token_info().await.expect("token");
    let s = file_store(&dir.path().join("naive.db"), "bench");
    sb.reset_stats();
    let t = Instant::now();
    let mut q = ListKeysQuery {
        page_size: Some(50),
        ..Default::default()
    };
    loop {
        let page = c.list_keys_page(&q).await.expect("list");
        let mut entries = Vec::with_capacity(page.keys.len());
        for k in &page.keys {
            let d = c.get_key(&k.id).await.expect("detail");
            entries.push(PageEntry {
                key: d,
                detail: true,
            });
        }
        let s2 = Arc::clone(&s);
        tokio::task::spawn_blocking(move || s2.apply_page(None, Utc::now(), &entries))
            .await
            .expect("join")
            .expect("store");
        match (page.has_more, page.keys.last()) {
            (true, Some(last)) => q.starting_after = Some(last.id.clone()),
            _ => break,
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let st = sb.stats();
    Run {
        secs,
        requests: st.total - st.rate_limited,
        rate_limited: st.rate_limited,
        peak: 1,
        mean: 1.0,
    }
}

/// One sync with the default options, as the app and the CLI run it.
async fn default_sync(c: &Client, s: &Arc<dyn Store>) -> keyward_core::model::sync::SyncSummary {
    run_sync(
        c,
        s,
        SyncOptions::default(),
        &|_| {},
        &CancellationToken::new(),
    )
    .await
    .expect("sync")
}

/// max(requests / rate limit, requests × RTT / concurrency), in seconds.
fn bound(requests: u64, rate_per_min: Option<u32>, rtt_ms: f64, concurrency: u32) -> f64 {
    let by_rate = rate_per_min.map_or(0.0, |r| requests as f64 / (f64::from(r) / 60.0));
    let by_latency = requests as f64 * rtt_ms / 1000.0 / f64::from(concurrency);
    by_rate.max(by_latency)
}

fn verdict(ok: bool, missed: String) -> String {
    if ok {
        "met".into()
    } else {
        format!("MISSED: {missed}")
    }
}

/// Every key the sandbox lists, counted through the API (page size 500).
async fn listed(sb: &Sandbox) -> usize {
    let c = app_client(sb);
    let mut q = ListKeysQuery {
        page_size: Some(500),
        ..Default::default()
    };
    let mut n = 0;
    loop {
        let page = c.list_keys_page(&q).await.expect("list");
        n += page.keys.len();
        match (page.has_more, page.keys.last()) {
            (true, Some(last)) => q.starting_after = Some(last.id.clone()),
            _ => return n,
        }
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n: usize = env("KW_BENCH_KEYS", 10_000);
    let latency: u64 = env("KW_BENCH_LATENCY_MS", 20);
    let rate: Option<u32> = std::env::var("KW_BENCH_RATE")
        .ok()
        .and_then(|v| v.parse().ok());
    let pinned: Vec<u32> = env("KW_BENCH_CONCURRENCY", "8,32".to_string())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let run_naive: u32 = env("KW_BENCH_NAIVE", 1);
    let cap = SyncOptions::default().max_concurrency;
    let dir = tempfile::tempdir().expect("tempdir");

    let rate_txt = rate.map_or("no rate limit".to_string(), |r| {
        format!("rate limit {r}/min")
    });
    println!("== full sync: {n} keys, latency {latency} ms (±50%), {rate_txt} ==");
    let sb = sandbox_with(n, latency, rate).await;
    let mut runs: Vec<(String, u32, Run)> = Vec::new();
    let r = ours(&sb, &dir, None, "ours-default.db").await;
    runs.push((format!("default (adaptive, cap {cap})"), cap, r));
    for &c in &pinned {
        let r = ours(&sb, &dir, Some(c), &format!("ours-{c}.db")).await;
        runs.push((format!("pinned concurrency {c}"), c, r));
    }
    let naive_run = if run_naive == 1 {
        Some(naive(&sb, &dir).await)
    } else {
        None
    };
    sb.shutdown().await;
    // The naive run is sequential: its mean time per request is the round trip really seen (the
    // nominal latency plus HTTP, the sandbox's own work and timer granularity).
    let rtt_ms = naive_run
        .as_ref()
        .map_or(latency as f64, |r| r.secs * 1000.0 / r.requests as f64);
    println!(
        "bound = max(requests / rate limit, requests × measured RTT / concurrency), \
         measured RTT {rtt_ms:.2} ms{}",
        if naive_run.is_some() {
            " (the naive run's mean per request)"
        } else {
            " (nominal: naive run skipped)"
        }
    );
    if let Some(nv) = &naive_run {
        println!(
            "naive (sequential, page 50, all details): {:>7.2} s, {} requests",
            nv.secs, nv.requests
        );
    }
    for (i, (label, conc, r)) in runs.iter().enumerate() {
        let b = bound(r.requests, rate, rtt_ms, *conc);
        let ratio = r.secs / b;
        println!(
            "{label:<28} {:>7.2} s, {} requests ({} answered 429), concurrency peak {} \
             mean {:.1}",
            r.secs, r.requests, r.rate_limited, r.peak, r.mean
        );
        let goal = i == 0;
        println!(
            "  bound {b:.2} s, ratio {ratio:.3}{}",
            if goal {
                format!(
                    " (goal ≤ 1.15: {})",
                    verdict(
                        ratio <= 1.15,
                        format!("by {:.0}%", (ratio / 1.15 - 1.0) * 100.0)
                    )
                )
            } else {
                String::new()
            }
        );
        if let Some(nv) = &naive_run {
            let x = nv.secs / r.secs;
            println!(
                "  {x:.1}x faster than naive{}",
                if goal {
                    format!(
                        " (goal ≥ 10x: {})",
                        verdict(x >= 10.0, format!("by {:.0}%", (1.0 - x / 10.0) * 100.0))
                    )
                } else {
                    String::new()
                }
            );
        }
    }

    println!("\n== incremental sync after k changed keys ({n} keys) ==");
    let sb = sandbox_with(n, latency, rate).await;
    let c = app_client(&sb);
    let s = file_store(&dir.path().join("incremental.db"), "bench");
    default_sync(&c, &s).await;
    for k in [0usize, 1, 10, 100, 1000] {
        let changed = sb.simulate_verifications(k).len() as u64;
        sb.reset_stats();
        let t = Instant::now();
        let summary = default_sync(&c, &s).await;
        let secs = t.elapsed().as_secs_f64();
        let st = sb.stats();
        let expected = n.div_ceil(500) as u64 + changed;
        let got = st.list_keys + st.get_key;
        println!(
            "k = {changed:>4}: {got:>5} requests ({} list + {} detail; expected ceil(N/500)+k \
             = {expected}) {}, other {}, {:.2} s, {} changed",
            st.list_keys,
            st.get_key,
            if got == expected { "OK" } else { "MISMATCH" },
            st.other,
            secs,
            summary.changed
        );
    }
    sb.shutdown().await;

    if env("KW_BENCH_RATE_SCENARIO", 1u32) == 1 {
        let rn: usize = env("KW_BENCH_RATE_KEYS", 3_000);
        let rr: u32 = env("KW_BENCH_RATE_LIMIT", 2_000);
        println!("\n== rate-bound full sync: {rn} keys, latency {latency} ms, {rr}/min ==");
        let sb = sandbox_with(rn, latency, Some(rr)).await;
        let r = ours(&sb, &dir, None, "rate.db").await;
        let b = bound(r.requests, Some(rr), rtt_ms, cap);
        let ratio = r.secs / b;
        println!(
            "default (adaptive, cap {cap}): {:>7.2} s, {} requests ({} answered 429), \
             concurrency peak {} mean {:.1}; bound {b:.2} s, ratio {ratio:.3} (goal ≤ 1.15: {})",
            r.secs,
            r.requests,
            r.rate_limited,
            r.peak,
            r.mean,
            verdict(
                ratio <= 1.15,
                format!("by {:.0}%", (ratio / 1.15 - 1.0) * 100.0)
            )
        );
        println!(
            "note: the sandbox limits by fixed one-minute windows, so a burst of up to {rr} \
             requests passes at once; the smooth-rate bound can then exceed the real minimum."
        );
        sb.shutdown().await;
    }

    let big: usize = env("KW_BENCH_BIG_KEYS", 100_000);
    if big > 0 {
        let br: u32 = env("KW_BENCH_BIG_RATE", 30_000);
        let bf: f64 = env("KW_BENCH_BIG_FAULTS", 0.02);
        println!(
            "\n== {big} keys: sandbox start-up, then a full sync at {br}/min with {:.0}% faults \
             (500, 503, dropped connections), latency 5 ms ==",
            bf * 100.0
        );
        let t = Instant::now();
        let cfg = Config {
            extra_keys: big,
            latency_ms: 5,
            rate_limit_per_min: Some(br),
            fault_rate: bf,
            rng_seed: Some(42),
            ..Config::default()
        };
        let sb = sandbox(cfg).await;
        let start = t.elapsed().as_secs_f64();
        println!(
            "sandbox start with {big} keys (what `kinde-sandbox --keys {big}` runs, release \
             profile): {start:.2} s (goal < 5 s: {})",
            verdict(start < 5.0, format!("by {:.1} s", start - 5.0))
        );
        let c = app_client(&sb);
        let s = file_store(&dir.path().join("big.db"), "bench");
        let mut syncs = 0;
        let t = Instant::now();
        loop {
            syncs += 1;
            let summary = default_sync(&c, &s).await;
            println!(
                "sync {syncs}: {} in {:.1} s, {} keys, {} details fetched, {} list + {} detail \
                 requests, {} retried, {} errors",
                summary.status,
                summary.duration_ms as f64 / 1000.0,
                summary.keys,
                summary.details_fetched,
                summary.requests.list,
                summary.requests.detail,
                summary.requests.retries,
                summary.errors.len()
            );
            if summary.status == "ok" || syncs == 3 {
                break;
            }
        }
        let secs = t.elapsed().as_secs_f64();
        let st = sb.stats();
        let owed = s.owed_details().expect("owed").len();
        let stored = s
            .all_keys()
            .expect("keys")
            .iter()
            .filter(|k| !k.view.gone)
            .count();
        let seen = listed(&sb).await;
        println!(
            "after {syncs} sync(s), {secs:.1} s ({} answered 429): {stored} keys in the store, \
             {seen} listed by the sandbox, {owed} details owed: {}",
            st.rate_limited,
            if stored == seen && owed == 0 {
                "nothing lost"
            } else {
                "LOST OR OWED KEYS"
            }
        );
        sb.shutdown().await;
    }
}
