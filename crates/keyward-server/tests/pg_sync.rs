//! keyward-core's sync, alerts and audit running unchanged on PostgreSQL: a real sandbox on
//! 127.0.0.1:0 (with live traffic where it matters), a real throwaway cluster, `PgStore` under
//! `AppCtx::for_server`.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward_core::config::{Environment, Profile};
use keyward_core::ctx::AppCtx;
use keyward_core::kinde::{Client, ClientConfig, ClientOptions, ListKeysQuery};
use keyward_core::model::alert::{AlertFilter, AlertKind};
use keyward_core::model::key::KeyFilter;
use keyward_core::model::sync::{SyncOptions, SyncSummary};
use keyward_core::secret::Secret;
use keyward_core::store::{SqliteStore, Store};
use keyward_server::pg::PgStore;
use kinde_sandbox::{Config, Sandbox, Seed};
use pg_cluster::PgCluster;
use tokio_util::sync::CancellationToken;

const PROFILE: &str = "acme";

async fn sandbox(config: Config) -> Sandbox {
    kinde_sandbox::spawn("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("sandbox starts")
}

fn fast() -> ClientOptions {
    ClientOptions {
        retry_base_delay: Duration::from_millis(10),
        max_jitter: Duration::from_millis(10),
        ..ClientOptions::default()
    }
}

fn client(sb: &Sandbox) -> Client {
    let cfg = ClientConfig::new(
        url::Url::parse(&sb.base_url()).unwrap(),
        sb.client_id(),
        Secret::new(sb.client_secret()),
    );
    Client::with_options(cfg, fast()).unwrap()
}

/// The server's context: the sandbox's M2M app, a `PgStore` on `url`.
fn server_ctx(sb: &Sandbox, store: Arc<dyn Store>, home: &std::path::Path) -> AppCtx {
    let profile = Profile::new(
        PROFILE,
        &sb.base_url(),
        sb.client_id(),
        Environment::Production,
    )
    .expect("a profile for the sandbox");
    AppCtx::for_server(
        profile,
        Secret::new(sb.client_secret()),
        store,
        Some(home.to_path_buf()),
    )
    .unwrap()
    .with_client_options(fast())
}

fn pg_store(url: &str) -> Arc<dyn Store> {
    let s = tokio::task::block_in_place(|| PgStore::open(url, PROFILE)).expect("PgStore opens");
    Arc::new(s)
}

async fn sync(ctx: &AppCtx, full: bool) -> keyward_core::Result<SyncSummary> {
    keyward_core::sync::run(
        ctx,
        SyncOptions {
            full,
            ..SyncOptions::default()
        },
        |_| {},
        CancellationToken::new(),
    )
    .await
}

async fn sync_ok(ctx: &AppCtx, full: bool) -> SyncSummary {
    let s = sync(ctx, full).await.expect("sync");
    assert_eq!(s.status, "ok", "{:?}", s.errors);
    s
}

/// Every key id the sandbox lists, by its own listing (the Management API, page by page).
async fn sandbox_ids(sb: &Sandbox) -> BTreeSet<String> {
    let c = client(sb);
    let mut ids = BTreeSet::new();
    let mut q = ListKeysQuery {
        page_size: Some(500),
        ..Default::default()
    };
    loop {
        let page = c.list_keys_page(&q).await.expect("list");
        ids.extend(page.keys.iter().map(|k| k.id.clone()));
        match (page.has_more, page.keys.last()) {
            (true, Some(last)) => q.starting_after = Some(last.id.clone()),
            _ => break,
        }
    }
    ids
}

/// The ids of the keys PostgreSQL holds for the profile and says are not gone, read by SQL.
fn pg_ids(cluster: &PgCluster, url: &str) -> BTreeSet<String> {
    let db = url.rsplit('/').next().unwrap();
    cluster
        .psql(
            db,
            &format!("SELECT id FROM keys WHERE profile = '{PROFILE}' AND NOT gone"),
        )
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// History rows that repeat the previous row of their key (the same counters): none may exist.
fn repeated_history_rows(cluster: &PgCluster, url: &str) -> i64 {
    let db = url.rsplit('/').next().unwrap();
    cluster
        .psql(
            db,
            "SELECT count(*) FROM (SELECT verification_count AS c, last_verified_on AS l, \
             last_verified_ip AS i, status AS s, \
             lag(verification_count) OVER w AS pc, lag(last_verified_on) OVER w AS pl, \
             lag(last_verified_ip) OVER w AS pi, lag(status) OVER w AS ps, \
             row_number() OVER w AS n FROM history WINDOW w AS (PARTITION BY kid ORDER BY at)) t \
             WHERE n > 1 AND c IS NOT DISTINCT FROM pc AND l IS NOT DISTINCT FROM pl \
             AND i IS NOT DISTINCT FROM pi AND s = ps",
        )
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sync_leaves_postgres_holding_exactly_the_sandbox_keys() {
    let sb = sandbox(Config {
        seed: Seed::Demo,
        extra_keys: 700,
        rng_seed: Some(7),
        ..Config::default()
    })
    .await;
    let url = support::fresh_db();
    let home = tempfile::tempdir().unwrap();
    let store = pg_store(&url);
    let ctx = server_ctx(&sb, Arc::clone(&store), home.path());
    assert!(!ctx.is_sandbox());

    let first = sync_ok(&ctx, true).await;
    let listed = sandbox_ids(&sb).await;
    assert!(listed.len() > 700, "{}", listed.len());
    assert_eq!(first.keys_seen as usize, listed.len());
    assert_eq!(
        pg_ids(support::cluster(), &url),
        listed,
        "PostgreSQL holds exactly the listed keys"
    );
    let s = Arc::clone(&store);
    let (views, owed, history) = tokio::task::spawn_blocking(move || {
        (
            s.list_keys(&KeyFilter::default(), chrono::Utc::now())
                .unwrap(),
            s.owed_details().unwrap(),
            s.history_len().unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!(views.len(), listed.len());
    assert!(owed.is_empty(), "no detail owed after a full sync");
    assert!(history > 0);

    // A second sync with nothing changed in Kinde writes no history row at all.
    let second = sync_ok(&ctx, false).await;
    assert_eq!((second.new, second.changed, second.gone), (0, 0, 0));
    let s = Arc::clone(&store);
    let again = tokio::task::spawn_blocking(move || s.history_len().unwrap())
        .await
        .unwrap();
    assert_eq!(again, history, "no duplicate history row");
    assert_eq!(repeated_history_rows(support::cluster(), &url), 0);
    // And the runs say so.
    let runs = keyward_core::sync::runs(&ctx, 5).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r.status == "ok"), "{runs:?}");
}

/// Live traffic between syncs: history grows, never by a repeated row; the alert rules run after
/// every sync, on PostgreSQL; a tripped canary is raised once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_traffic_history_and_alerts_on_postgres() {
    let sb = sandbox(Config {
        seed: Seed::Demo,
        traffic_per_sec: 200.0,
        rng_seed: Some(11),
        ..Config::default()
    })
    .await;
    let url = support::fresh_db();
    let home = tempfile::tempdir().unwrap();
    let store = pg_store(&url);
    let ctx = server_ctx(&sb, Arc::clone(&store), home.path());
    sync_ok(&ctx, true).await;
    // The first evaluation was the baseline: the alert engine has a cursor now.
    let eval = keyward_core::alerts::evaluate(&ctx).await.unwrap();
    assert!(!eval.baseline, "the sync ran the alert rules");

    // A canary: marked, then verified from somewhere.
    let listed = sandbox_ids(&sb).await;
    let views = {
        let s = Arc::clone(&store);
        tokio::task::spawn_blocking(move || {
            s.list_keys(&KeyFilter::default(), chrono::Utc::now())
                .unwrap()
        })
        .await
        .unwrap()
    };
    let canary = views
        .iter()
        .find(|k| k.key.status == keyward_core::model::key::KeyStatus::Active)
        .expect("an active key")
        .key
        .id
        .clone();
    keyward_core::alerts::canary_mark(&ctx, &canary, true)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(sb.verify_as(&canary, "203.0.113.9", chrono::Utc::now(), 3));
    let before = {
        let s = Arc::clone(&store);
        tokio::task::spawn_blocking(move || s.history_len().unwrap())
            .await
            .unwrap()
    };
    sync_ok(&ctx, false).await;
    sync_ok(&ctx, false).await;
    let after = {
        let s = Arc::clone(&store);
        tokio::task::spawn_blocking(move || s.history_len().unwrap())
            .await
            .unwrap()
    };
    assert!(
        after > before,
        "live traffic adds history ({before} -> {after})"
    );
    assert_eq!(repeated_history_rows(support::cluster(), &url), 0);
    assert_eq!(pg_ids(support::cluster(), &url), listed);

    let alerts = keyward_core::alerts::list(
        &ctx,
        AlertFilter {
            kind: Some(AlertKind::CanaryTripped),
            include_acknowledged: true,
            include_muted: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let tripped: Vec<_> = alerts
        .alerts
        .iter()
        .filter(|a| a.key_id.as_deref() == Some(canary.as_str()))
        .collect();
    assert_eq!(
        tripped.len(),
        1,
        "the canary is raised once: {:?}",
        alerts.alerts
    );
}

/// PostgreSQL restarted between syncs and during one: the pool reconnects, and the next sync
/// completes with exactly the sandbox's keys. Its own cluster (a restart cuts every session).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_between_and_during_syncs() {
    let cluster = tokio::task::block_in_place(|| PgCluster::start().expect("a cluster"));
    let url = cluster.fresh_db().unwrap();
    let sb = sandbox(Config {
        seed: Seed::Demo,
        extra_keys: 1500,
        rng_seed: Some(5),
        ..Config::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let store = pg_store(&url);
    let ctx = server_ctx(&sb, Arc::clone(&store), home.path());
    sync_ok(&ctx, true).await;
    let listed = sandbox_ids(&sb).await;
    assert_eq!(pg_ids(&cluster, &url), listed);

    // Between: every pooled connection is dead; the next sync gets new ones.
    tokio::task::block_in_place(|| cluster.restart()).unwrap();
    sync_ok(&ctx, true).await;
    assert_eq!(pg_ids(&cluster, &url), listed);

    // During: a slow full sync, PostgreSQL restarted under it. That sync may fail (in words)
    // or finish; the one after completes, and nothing is lost or doubled.
    sb.set_detail_latency_ms(5);
    let started = Instant::now();
    let running = {
        let ctx2 = server_ctx(&sb, Arc::clone(&store), home.path());
        tokio::spawn(async move { sync(&ctx2, true).await })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    tokio::task::block_in_place(|| cluster.restart()).unwrap();
    match running.await.unwrap() {
        Ok(s) => eprintln!(
            "the sync under the restart ended {} ({:?})",
            s.status, s.errors
        ),
        Err(e) => {
            eprintln!(
                "the sync under the restart failed: {} ({:?})",
                e.message, e.code
            );
            assert!(!e.message.is_empty() && !e.hint.is_empty());
        }
    }
    eprintln!("restart during the sync after {:?}", started.elapsed());
    sb.set_detail_latency_ms(0);
    sync_ok(&ctx, true).await;
    assert_eq!(pg_ids(&cluster, &url), listed);
    assert_eq!(repeated_history_rows(&cluster, &url), 0);
    let runs = keyward_core::sync::runs(&ctx, 10).await.unwrap();
    assert_eq!(runs[0].status, "ok");
    assert!(runs.iter().all(|r| r.status != "running"), "{runs:?}");
}

/// Measures (prints; asserts nothing on time) a full sync of N sandbox keys (10,000 by
/// default: `KW_BENCH_KEYS`) into PostgreSQL and into SQLite in the same run, same sandbox,
/// same client options (the app's defaults). `KW_BENCH_LATENCY_MS` (default 0: the store's
/// share shows) adds latency to every sandbox answer.
/// `cargo test -p keyward-server --release --test pg_sync -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run it by name"]
async fn measure_full_sync_postgres_vs_sqlite() {
    let env = |name: &str, default: u64| -> u64 {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let keys = env("KW_BENCH_KEYS", 10_000) as usize;
    let latency = env("KW_BENCH_LATENCY_MS", 0);
    let rounds = env("KW_BENCH_ROUNDS", 2);
    let sb = sandbox(Config {
        extra_keys: keys,
        latency_ms: latency,
        rng_seed: Some(42),
        ..Config::default()
    })
    .await;
    let app_client = {
        let cfg = ClientConfig::new(
            url::Url::parse(&sb.base_url()).unwrap(),
            sb.client_id(),
            Secret::new(sb.client_secret()),
        );
        Client::with_options(cfg, ClientOptions::default()).unwrap()
    };
    app_client.token_info().await.expect("token");
    let dir = tempfile::tempdir().unwrap();
    let mut pg_secs = Vec::new();
    let mut sqlite_secs = Vec::new();
    for round in 0..rounds {
        for backend in ["sqlite", "postgres"] {
            let store: Arc<dyn Store> = if backend == "sqlite" {
                let path = dir.path().join(format!("bench-{round}.db"));
                Arc::new(SqliteStore::open(&path, "bench").unwrap())
            } else {
                let url = support::fresh_db();
                Arc::new(tokio::task::block_in_place(|| PgStore::open(&url, "bench")).unwrap())
            };
            let t = Instant::now();
            let summary = keyward_core::sync::engine::run(
                &app_client,
                &store,
                SyncOptions {
                    full: true,
                    ..SyncOptions::default()
                },
                &|_| {},
                &CancellationToken::new(),
            )
            .await
            .expect("sync");
            let secs = t.elapsed().as_secs_f64();
            assert!(summary.errors.is_empty(), "{:?}", summary.errors);
            assert_eq!(summary.keys_seen as usize, keys);
            eprintln!(
                "round {round}: full sync of {keys} keys into {backend:8}: {secs:6.2} s \
                 ({} details, {} pages)",
                summary.details_fetched, summary.pages
            );
            if backend == "sqlite" {
                sqlite_secs.push(secs);
            } else {
                pg_secs.push(secs);
            }
        }
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);

    // The store's share alone: the same writes the sync made (pages of 500 listed keys, then
    // details in batches of 250), without HTTP, into a fresh store of each kind.
    let keys_seen: Vec<keyward_core::model::key::ApiKey> = {
        let path = dir.path().join("bench-0.db");
        let s = SqliteStore::open(&path, "bench").unwrap();
        s.all_keys()
            .unwrap()
            .into_iter()
            .map(|k| k.view.key)
            .collect()
    };
    for backend in ["sqlite", "postgres"] {
        let store: Arc<dyn Store> = if backend == "sqlite" {
            Arc::new(SqliteStore::open(&dir.path().join("writes.db"), "bench").unwrap())
        } else {
            let url = support::fresh_db();
            Arc::new(tokio::task::block_in_place(|| PgStore::open(&url, "bench")).unwrap())
        };
        let all = keys_seen.clone();
        let (listing, detail) = tokio::task::spawn_blocking(move || {
            let now = chrono::Utc::now();
            let t = Instant::now();
            for page in all.chunks(500) {
                store.apply_listing(Some(1), now, page, true).unwrap();
            }
            let listing = t.elapsed().as_secs_f64();
            let t = Instant::now();
            for batch in all.chunks(250) {
                store.apply_details(now, batch).unwrap();
            }
            (listing, t.elapsed().as_secs_f64())
        })
        .await
        .unwrap();
        eprintln!(
            "the sync's writes alone into {backend:8}: listing {listing:5.2} s, details \
             {detail:5.2} s ({} keys)",
            keys_seen.len()
        );
    }
    let (pg, lite) = (best(&pg_secs), best(&sqlite_secs));
    eprintln!(
        "full sync, {keys} keys, sandbox latency {latency} ms, best of {rounds}: \
         PostgreSQL {pg:.2} s, SQLite {lite:.2} s, ratio {:.2} (goal <= 1.3)",
        pg / lite
    );
}
