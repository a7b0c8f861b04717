//! Team mode's figures for `make bench` (bench/team.sh), from real parts: a kinde-sandbox on
//! 127.0.0.1:0 with 10,000 keys (`KW_BENCH_KEYS`), a throwaway PostgreSQL, the server's HTTP
//! API on 127.0.0.1:0, and the member's side through `keyward_core::api` as the app and the
//! CLI call it. Ignored by `cargo test`; it prints `FIGURE` lines and asserts no timing.
//!
//! - the keys list (`keys_changed_since` from 0: the whole list, as the app's table loads it)
//!   through the server on a team profile, against the same operation on a local SQLite store
//!   synced from the same sandbox: p50 and p95 over `KW_BENCH_RUNS` (30) runs each. Goal:
//!   p95 through the server < 250 ms, or at most 3x the local p95;
//! - the time from a change in the sandbox (a key rotated in Kinde's portal, outside Keyward)
//!   to its `keys` delta at a connected Server-Sent Events client (`RemoteClient::events`), the
//!   server syncing every second: p50 and p95 over `KW_BENCH_CHANGES` (10) changes. Goal: p95
//!   <= 5 s.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward_core::api;
use keyward_core::config::{Environment, Profile};
use keyward_core::ctx::AppCtx;
use keyward_core::kinde::ClientOptions;
use keyward_core::model::sync::SyncOptions;
use keyward_core::operations::Role;
use keyward_core::profiles;
use keyward_core::remote::RemoteClient;
use keyward_core::secret::Secret;
use keyward_core::secret::keyring::MemoryStore;
use keyward_core::store::SqliteStore;
use keyward_server::api::members;
use keyward_server::config::{self, Need};
use keyward_server::serve::{self, Running, ServeOptions};
use kinde_sandbox::{Config, Sandbox, Seed};
use tokio_util::sync::CancellationToken;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fast() -> ClientOptions {
    ClientOptions {
        retry_base_delay: Duration::from_millis(10),
        max_jitter: Duration::from_millis(10),
        ..ClientOptions::default()
    }
}

async fn start_server(
    sb: &Sandbox,
    db: &str,
    sync_secs: u64,
    replica: &str,
    stop: &CancellationToken,
) -> Running {
    let env: HashMap<String, String> = [
        (config::ENV_DATABASE_URL, db.to_string()),
        (config::ENV_LISTEN, "127.0.0.1:0".to_string()),
        (config::ENV_KINDE_DOMAIN, sb.base_url()),
        (config::ENV_KINDE_CLIENT_ID, sb.client_id().to_string()),
        (
            config::ENV_KINDE_CLIENT_SECRET,
            sb.client_secret().to_string(),
        ),
        (config::ENV_SYNC_INTERVAL, sync_secs.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let cfg = config::from_str(
        "[lease]\nttl_secs = 4\nrenew_secs = 1\n",
        &env,
        Need::Everything,
    )
    .unwrap();
    serve::start(
        cfg,
        ServeOptions {
            client: Some(fast()),
            home: Some(tempfile::tempdir().unwrap().keep()),
            replica: Some(replica.into()),
        },
        stop.clone(),
    )
    .await
    .expect("the server starts")
}

async fn add_member(db: &str, name: &str, role: Role) -> String {
    let (db, name) = (db.to_string(), name.to_string());
    tokio::task::spawn_blocking(move || {
        let pool = keyward_server::pg::pool(&db).unwrap();
        let t = members::add(&mut keyward_server::pg::get(&pool).unwrap(), &name, role)
            .unwrap()
            .token
            .expose()
            .to_string();
        drop(pool);
        t
    })
    .await
    .unwrap()
}

/// The p-th percentile (nearest rank) of `xs`, sorted here.
fn pct(xs: &mut [f64], p: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * xs.len() as f64).ceil() as usize;
    xs[rank.clamp(1, xs.len()) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a benchmark: bench/team.sh runs it"]
async fn bench_team_list_and_delta() {
    let n_keys = env_num("KW_BENCH_KEYS", 10_000);
    let runs = env_num("KW_BENCH_RUNS", 30).max(1);
    let changes = env_num("KW_BENCH_CHANGES", 10).max(1);
    let sb = kinde_sandbox::spawn(
        "127.0.0.1:0".parse().unwrap(),
        Config {
            seed: Seed::Empty,
            extra_keys: n_keys,
            rng_seed: Some(11),
            ..Config::default()
        },
    )
    .await
    .expect("sandbox starts");
    let db = support::fresh_db();

    // The server, syncing once at its start (then hourly: nothing else runs while the list is
    // measured), and a member's team profile.
    let stop_a = CancellationToken::new();
    let a = start_server(&sb, &db, 3600, "bench-list", &stop_a).await;
    let server = format!("http://{}", a.addr);
    let carol = add_member(&db, "carol", Role::Viewer).await;
    let home = tempfile::tempdir().unwrap();
    let team = AppCtx::new(
        Some(home.path().to_path_buf()),
        Arc::new(MemoryStore::new()),
    )
    .unwrap();
    profiles::add_team(
        &team,
        "team",
        &server,
        Some(Secret::new(&*carol)),
        None,
        true,
    )
    .await
    .expect("the team profile");
    let t = Instant::now();
    loop {
        let listed = api::keys_changed_since(&team, 0.0).await.unwrap();
        if listed.keys.len() >= n_keys {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "the server's first sync never listed {n_keys} keys ({})",
            listed.keys.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "server's first sync of {n_keys} keys seen after {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // The same keys in a local SQLite store, synced from the same sandbox.
    let local_dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&local_dir.path().join("keyward.db"), "local").unwrap();
    let profile = Profile::new(
        "local",
        &sb.base_url(),
        sb.client_id(),
        Environment::Production,
    )
    .unwrap();
    let local = AppCtx::for_server(
        profile,
        Secret::new(sb.client_secret()),
        Arc::new(store),
        Some(local_dir.path().to_path_buf()),
    )
    .unwrap()
    .with_client_options(fast());
    let s = keyward_core::sync::run(
        &local,
        SyncOptions::default(),
        |_| {},
        CancellationToken::new(),
    )
    .await
    .expect("the local sync");
    assert_eq!(s.status, "ok", "{:?}", s.errors);

    // The list, alternately through the server and locally (one warm-up each).
    let mut remote_ms = Vec::new();
    let mut local_ms = Vec::new();
    for i in 0..=runs {
        let t = Instant::now();
        let r = api::keys_changed_since(&team, 0.0).await.unwrap();
        let rt = t.elapsed().as_secs_f64() * 1000.0;
        let t = Instant::now();
        let l = api::keys_changed_since(&local, 0.0).await.unwrap();
        let lt = t.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(r.keys.len(), l.keys.len(), "both list the same keys");
        if i > 0 {
            remote_ms.push(rt);
            local_ms.push(lt);
        }
    }
    let (r50, r95) = (pct(&mut remote_ms, 50.0), pct(&mut remote_ms, 95.0));
    let (l50, l95) = (pct(&mut local_ms, 50.0), pct(&mut local_ms, 95.0));
    let ratio = r95 / l95.max(0.001);
    let verdict = if r95 < 250.0 || ratio <= 3.0 {
        "met".to_string()
    } else {
        format!(
            "MISSED by {:.0} ms over 250 ms and {:.1}x over 3x local",
            r95 - 250.0,
            ratio / 3.0
        )
    };
    println!(
        "FIGURE keys list of {n_keys} keys (keys_changed_since from 0, {runs} runs): through the \
         server p50 {r50:.0} ms, p95 {r95:.0} ms; local SQLite p50 {l50:.0} ms, p95 {l95:.0} ms; \
         p95 ratio {ratio:.1}x (goal: server p95 < 250 ms or <= 3x local): {verdict}"
    );
    stop_a.cancel();
    a.done.await.unwrap().unwrap();

    // A replica syncing every second takes over on the same database; an app's event stream
    // is connected to it. Each change: a key rotated in the sandbox, timed to the keys delta
    // that names it.
    let stop_b = CancellationToken::new();
    let b = start_server(&sb, &db, 1, "bench-delta", &stop_b).await;
    let client =
        RemoteClient::new(&format!("http://{}", b.addr), Secret::new(&*carol), None).unwrap();
    let mut events = client.events(None);
    let hello = tokio::time::timeout(Duration::from_secs(60), events.next())
        .await
        .expect("the first event within 60 s")
        .unwrap();
    assert_eq!(hello.event, "keys", "{hello:?}");
    let listed = client.keys_changed_since(0.0).await.unwrap();
    let ids: Vec<String> = listed
        .keys
        .iter()
        .filter(|k| k.key.status.as_str() == "active")
        .map(|k| k.key.id.clone())
        .take(changes)
        .collect();
    assert_eq!(ids.len(), changes, "enough active keys");
    let mut secs = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        // Spread the changes over the sync's cycle.
        tokio::time::sleep(Duration::from_millis(137 * (i as u64 % 7) + 200)).await;
        let t = Instant::now();
        assert!(sb.portal_rotate(id), "the sandbox rotates {id}");
        loop {
            let ev = tokio::time::timeout(Duration::from_secs(120), events.next())
                .await
                .expect("a delta within 120 s")
                .unwrap();
            if ev.event == "keys" && ev.data.contains(id.as_str()) {
                break;
            }
        }
        secs.push(t.elapsed().as_secs_f64());
    }
    let (d50, d95) = (pct(&mut secs, 50.0), pct(&mut secs, 95.0));
    let verdict = if d95 <= 5.0 {
        "met".to_string()
    } else {
        format!("MISSED by {:.1} s", d95 - 5.0)
    };
    println!(
        "FIGURE sandbox change to its keys delta at a connected app ({changes} changes, \
         {n_keys} keys, server sync every 1 s): p50 {d50:.2} s, p95 {d95:.2} s (goal p95 <= 5 s): \
         {verdict}"
    );
    stop_b.cancel();
    b.done.await.unwrap().unwrap();
    sb.shutdown().await;
}
