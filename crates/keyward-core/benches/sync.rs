//! Sync benchmark (figures and ratios, no assertions on time).
//!
//! 1. Full sync of N keys (default 10,000) from a sandbox with 20 ms latency (±50% jitter) and
//!    a rate limit, against the lower bound max(requests / rate, requests × latency /
//!    concurrency), and against a naive strategy in the same process (sequential,
//!    `page_size` 50, every detail fetched).
//! 2. Incremental sync after k changed keys: requests = ceil(N/500) + k, counted by the sandbox.
//!
//! Environment: `KW_BENCH_KEYS` (10000), `KW_BENCH_LATENCY_MS` (20), `KW_BENCH_RATE` (per
//! minute, 60000), `KW_BENCH_CONCURRENCY` (comma list, "8,32"), `KW_BENCH_NAIVE` (1 = run it),
//! `KW_BENCH_RATE_SCENARIO` (1 = also a run where the rate limit binds).

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use keyward_core::kinde::{Client, ClientConfig, ListKeysQuery};
use keyward_core::secret::Secret;
use keyward_core::store::{PageEntry, Store};
use keyward_core::sync::{SyncOptions, run_sync};
use kinde_sandbox::{Config, Sandbox};
use tokio_util::sync::CancellationToken;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn sandbox(keys: usize, latency_ms: u64, rate: Option<u32>) -> Sandbox {
    let cfg = Config {
        extra_keys: keys,
        latency_ms,
        rate_limit_per_min: rate,
        rng_seed: Some(42),
        ..Config::default()
    };
    kinde_sandbox::spawn("127.0.0.1:0".parse().expect("addr"), cfg)
        .await
        .expect("sandbox starts")
}

fn client(sb: &Sandbox) -> Client {
    let url = url::Url::parse(&sb.base_url()).expect("url");
    Client::new(ClientConfig::new(
        url,
        sb.client_id(),
        Secret::new(sb.client_secret()),
    ))
    .expect("client")
}

fn store(dir: &tempfile::TempDir, name: &str) -> Arc<Store> {
    Arc::new(Store::open(&dir.path().join(name), "bench").expect("store"))
}

struct Run {
    secs: f64,
    requests: u64,
    rate_limited: u64,
}

async fn ours(sb: &Sandbox, dir: &tempfile::TempDir, concurrency: u32, name: &str) -> Run {
    let c = client(sb);
    c.token_info().await.expect("token");
    let s = store(dir, name);
    sb.reset_stats();
    let t = Instant::now();
    let opts = SyncOptions {
        full: true,
        concurrency: Some(concurrency),
        ..SyncOptions::default()
    };
    let summary = run_sync(&c, &s, opts, &|_| {}, &CancellationToken::new())
        .await
        .expect("sync");
    let secs = t.elapsed().as_secs_f64();
    let st = sb.stats();
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    Run {
        secs,
        requests: st.total - st.rate_limited,
        rate_limited: st.rate_limited,
    }
}

/// Sequential, `page_size` 50, every detail fetched, stored page by page like ours.
async fn naive(sb: &Sandbox, dir: &tempfile::TempDir) -> Run {
    let c = client(sb);
    c.token_info().await.expect("token");
    let s = store(dir, "naive.db");
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
    }
}

fn bound(requests: u64, rate_per_min: Option<u32>, latency_ms: u64, concurrency: u32) -> f64 {
    let by_rate = rate_per_min.map_or(0.0, |r| requests as f64 / (f64::from(r) / 60.0));
    let by_latency = requests as f64 * latency_ms as f64 / 1000.0 / f64::from(concurrency);
    by_rate.max(by_latency)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n: usize = env("KW_BENCH_KEYS", 10_000);
    let latency: u64 = env("KW_BENCH_LATENCY_MS", 20);
    let rate: u32 = env("KW_BENCH_RATE", 60_000);
    let concurrencies: Vec<u32> = env("KW_BENCH_CONCURRENCY", "8,32".to_string())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let run_naive: u32 = env("KW_BENCH_NAIVE", 1);
    let dir = tempfile::tempdir().expect("tempdir");

    println!("== full sync: {n} keys, latency {latency} ms (±50%), rate limit {rate}/min ==");
    let sb = sandbox(n, latency, Some(rate)).await;
    let mut runs = Vec::new();
    for &c in &concurrencies {
        let r = ours(&sb, &dir, c, &format!("ours-{c}.db")).await;
        let b = bound(r.requests, Some(rate), latency, c);
        println!(
            "ours  concurrency {c:>2}: {:>7.2} s, {} requests ({} answered 429), \
             bound {:>6.2} s, ratio {:.3}",
            r.secs,
            r.requests,
            r.rate_limited,
            b,
            r.secs / b
        );
        runs.push((c, r));
    }
    if run_naive == 1 {
        let r = naive(&sb, &dir).await;
        // The naive run is sequential: its mean time per request is the latency really seen
        // (the nominal latency plus HTTP, the sandbox's own work and timer granularity).
        let seen_ms = r.secs * 1000.0 / r.requests as f64;
        println!(
            "naive (sequential, page 50, all details): {:>7.2} s, {} requests, \
             {seen_ms:.2} ms per request",
            r.secs, r.requests
        );
        for (c, o) in &runs {
            let b = bound(o.requests, Some(rate), 0, *c)
                .max(o.requests as f64 * seen_ms / 1000.0 / f64::from(*c));
            println!(
                "  concurrency {c:>2}: {:.1}x faster than naive; against the bound with the \
                 latency seen ({b:.2} s): ratio {:.3}",
                r.secs / o.secs,
                o.secs / b
            );
        }
    }

    println!("\n== incremental sync after k changed keys ({n} keys) ==");
    let c = client(&sb);
    let s = store(&dir, "incremental.db");
    run_sync(
        &c,
        &s,
        SyncOptions::default(),
        &|_| {},
        &CancellationToken::new(),
    )
    .await
    .expect("first sync");
    for k in [0usize, 1, 10, 100, 1000] {
        let changed = sb.simulate_verifications(k).len() as u64;
        sb.reset_stats();
        let t = Instant::now();
        let summary = run_sync(
            &c,
            &s,
            SyncOptions::default(),
            &|_| {},
            &CancellationToken::new(),
        )
        .await
        .expect("sync");
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
        let sb = sandbox(rn, latency, Some(rr)).await;
        let r = ours(&sb, &dir, 8, "rate.db").await;
        let b = bound(r.requests, Some(rr), latency, 8);
        println!(
            "ours  concurrency  8: {:>7.2} s, {} requests ({} answered 429), bound {:>6.2} s, \
             ratio {:.3}",
            r.secs,
            r.requests,
            r.rate_limited,
            b,
            r.secs / b
        );
        println!(
            "note: the sandbox limits by fixed one-minute windows, so a burst of up to {rr} \
             requests passes at once; the smooth-rate bound can then exceed the real minimum."
        );
        sb.shutdown().await;
    }
}
