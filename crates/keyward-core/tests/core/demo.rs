//! Demo mode's synthesized past: a real demo sandbox over loopback, a sandbox `AppCtx` with its
//! SQLite store on real files, `sync::run`, then `demo::prefill_history`.

use std::sync::Arc;

use chrono::{Duration, Utc};
use keyward_core::ErrorCode;
use keyward_core::config::{Environment, Profile};
use keyward_core::ctx::AppCtx;
use keyward_core::model::history::Bucket;
use keyward_core::model::key::{KeyFilter, KeyStatus, KeyView};
use keyward_core::secret::Secret;
use keyward_core::secret::keyring::{MemoryStore, SecretStore};
use keyward_core::{demo, history, insights};
use kinde_sandbox::{Config, Sandbox, Seed};

use crate::support::{home_ctx, sandbox, sandbox_ctx, sync_ok};

async fn demo_sandbox() -> Sandbox {
    sandbox(Config {
        seed: Seed::Demo,
        rng_seed: Some(11),
        ..Config::default()
    })
    .await
}

async fn keys(ctx: &AppCtx) -> Vec<KeyView> {
    let store = ctx.store().await.unwrap();
    store.list_keys(&KeyFilter::default(), Utc::now()).unwrap()
}

/// The busiest active key that is older than the window and was verified in the last hour.
fn busy_key(keys: &[KeyView]) -> KeyView {
    let now = Utc::now();
    keys.iter()
        .filter(|k| k.key.status == KeyStatus::Active)
        .filter(|k| {
            k.key
                .created_on
                .is_some_and(|c| c < now - Duration::days(40))
        })
        .filter(|k| {
            k.key
                .last_verified_on
                .is_some_and(|t| t > now - Duration::hours(1))
        })
        .max_by_key(|k| k.key.verification_count.unwrap_or(0))
        .cloned()
        .expect("the demo seed has busy keys")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_prefill_gives_the_demo_a_believable_past() {
    let sb = demo_sandbox().await;
    let home = tempfile::tempdir().unwrap();
    let ctx = sandbox_ctx(&sb, home.path());

    // Out-of-range days are refused; before any sync there is nothing to anchor a past to.
    let e = demo::prefill_history(&ctx, 0).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(!e.hint.is_empty());
    let early = demo::prefill_history(&ctx, 30).await.unwrap();
    assert_eq!(early.rows, 0);
    assert_eq!(early.skipped.as_deref(), Some("not_synced"));

    sync_ok(&ctx).await;
    let store = ctx.store().await.unwrap();
    let db = store.path().unwrap().to_path_buf();
    assert!(db.starts_with(home.path()), "{db:?}");
    assert!(db.to_string_lossy().contains("sandbox"), "{db:?}");
    let synced_rows = store.history_len().unwrap();
    let before = keys(&ctx).await;
    let busy = busy_key(&before);
    let busy_count = busy.key.verification_count.unwrap();
    let counted = before
        .iter()
        .filter(|k| k.key.verification_count.unwrap_or(0) > 0)
        .count();

    let summary = demo::prefill_history(&ctx, 30).await.unwrap();
    assert_eq!(summary.skipped, None, "{summary:?}");
    assert_eq!(summary.days, 30);
    assert!(
        summary.keys as usize > counted / 2,
        "{summary:?} of {counted}"
    );
    assert!(summary.keys as usize <= counted, "{summary:?} of {counted}");
    assert!(summary.rows > 1_000, "{summary:?}");
    assert_eq!(
        store.history_len().unwrap(),
        synced_rows + summary.rows as i64
    );
    assert_eq!(store.demo_history_len().unwrap(), summary.rows as i64);

    // The busy key's counter over a month: ≥ 20 days, never down, ending at its count.
    let now = Utc::now();
    let h = history::key_history(
        &ctx,
        &busy.key.id,
        Bucket::Day,
        Some(now - Duration::days(31)),
    )
    .await
    .unwrap();
    let first = h.points.first().unwrap();
    let last = h.points.last().unwrap();
    assert!(
        last.at - first.at >= Duration::days(20),
        "{} .. {}",
        first.at,
        last.at
    );
    assert!(h.points.len() > 100, "{} points", h.points.len());
    for w in h.points.windows(2) {
        assert!(w[0].at < w[1].at);
        assert!(
            w[1].verification_count >= w[0].verification_count,
            "{w:?} goes down"
        );
        let moved = w[1].verification_count.unwrap() - w[0].verification_count.unwrap();
        assert_eq!(w[1].delta, moved, "a point's delta is the count's move");
    }
    assert_eq!(last.verification_count, Some(busy_count));
    assert_eq!(last.last_verified_on, busy.key.last_verified_on);
    assert!(first.verification_count.unwrap() >= 0);
    assert!(
        busy.key.created_on.is_none_or(|c| first.at >= c),
        "nothing before the key was created"
    );
    // Every last-verified time is at or before its observation, and moves with the count.
    for p in &h.points {
        assert!(p.last_verified_on.is_none_or(|t| t <= p.at), "{p:?}");
    }
    for w in h.points.windows(2) {
        if w[1].delta > 0 {
            assert!(w[1].last_verified_on > w[0].last_verified_on, "{w:?}");
        } else {
            assert_eq!(w[1].last_verified_on, w[0].last_verified_on, "{w:?}");
        }
    }
    // The daily roll-up says the same as the deltas.
    let deltas: i64 = h.points.iter().map(|p| p.delta).sum();
    assert_eq!(h.total, deltas);
    assert!(h.buckets.iter().filter(|b| b.verifications > 0).count() >= 20);
    // Hourly buckets too (the key page's 48-hour chart).
    let hourly = history::key_history(&ctx, &busy.key.id, Bucket::Hour, None)
        .await
        .unwrap();
    assert!(
        hourly
            .buckets
            .iter()
            .filter(|b| b.verifications > 0)
            .count()
            >= 6,
        "{:?}",
        hourly.buckets
    );

    // The keys table's 7-day sparkline of the busy key.
    let after = keys(&ctx).await;
    let spark = &after
        .iter()
        .find(|k| k.key.id == busy.key.id)
        .unwrap()
        .spark_7d;
    assert!(spark.iter().filter(|&&v| v > 0).count() >= 5, "{spark:?}");

    // Insights: daily totals over the month, the 7-day chart (sum of the sparklines), top keys.
    let totals = store.daily_totals(now - Duration::days(29), now).unwrap();
    assert!(
        totals.iter().filter(|b| b.verifications > 0).count() >= 20,
        "{totals:?}"
    );
    let mut week = [0i64; 7];
    for k in &after {
        for (i, v) in k.spark_7d.iter().enumerate() {
            week[i] += v;
        }
    }
    assert!(week.iter().all(|&v| v > 0), "{week:?}");
    let opts = keyward_core::insights::InsightsOptions {
        recent_days: 30,
        ..Default::default()
    };
    let ins = insights::summary(&ctx, opts).await.unwrap();
    assert_eq!(ins.top_keys.len(), 10);
    assert!(ins.by_org.iter().any(|g| g.verifications_recent > 0));
    // Keys last verified before the window are still stale.
    assert!(
        ins.stale.iter().any(|k| k.reason == "quiet"),
        "{:?}",
        ins.stale
    );

    // Keys idle for days have no increments after their last verification.
    for k in &after {
        let Some(lvo) = k.key.last_verified_on else {
            continue;
        };
        if lvo > now - Duration::days(2) {
            continue;
        }
        let h = history::key_history(&ctx, &k.key.id, Bucket::Day, Some(now - Duration::days(31)))
            .await
            .unwrap();
        assert!(
            h.points
                .iter()
                .all(|p| p.delta == 0 || p.at < lvo + Duration::hours(1)),
            "{} verified at {lvo} but counted later: {:?}",
            k.key.id,
            h.points
        );
        assert_eq!(
            h.points.last().and_then(|p| p.verification_count),
            k.key.verification_count
        );
    }

    // A second call writes nothing.
    let rows = store.history_len().unwrap();
    let again = demo::prefill_history(&ctx, 30).await.unwrap();
    assert_eq!(again.rows, 0);
    assert_eq!(again.skipped.as_deref(), Some("has_history"));
    assert_eq!(store.history_len().unwrap(), rows);

    // Syncs still work on top of it: an idle one adds nothing, a busy one adds one row per
    // verified key, after the synthesized past.
    let idle = sync_ok(&ctx).await;
    assert_eq!(idle.changed, 0);
    assert_eq!(store.history_len().unwrap(), rows);
    let verified = sb.simulate_verifications(5);
    assert!(!verified.is_empty());
    let s = sync_ok(&ctx).await;
    assert_eq!(s.changed as usize, verified.len());
    assert_eq!(
        store.history_len().unwrap(),
        rows + verified.len() as i64,
        "one new row per verified key, no duplicates"
    );
    assert_eq!(store.demo_history_len().unwrap(), summary.rows as i64);
    for id in &verified {
        let h = history::key_history(&ctx, id, Bucket::Day, Some(Utc::now() - Duration::days(31)))
            .await
            .unwrap();
        let last = h.points.last().unwrap();
        assert_eq!(last.delta, 1, "{id}: {last:?}");
        for w in h.points.windows(2) {
            assert!(w[1].verification_count >= w[0].verification_count);
        }
        let total: i64 = h.points.iter().map(|p| p.delta).sum();
        assert_eq!(h.total, total);
    }
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regular_profile_is_refused_and_left_alone() {
    let sb = demo_sandbox().await;
    let home = tempfile::tempdir().unwrap();
    // A real profile that even looks like the demo: named `demo`, environment demo.
    let secrets = Arc::new(MemoryStore::new());
    secrets
        .set("demo", &Secret::new(sb.client_secret()))
        .unwrap();
    let ctx = home_ctx(home.path(), secrets);
    let mut cfg = ctx.load_config().await.unwrap();
    cfg.profiles
        .push(Profile::new("demo", &sb.base_url(), sb.client_id(), Environment::Demo).unwrap());
    cfg.settings.default_profile = Some("demo".into());
    ctx.save_config(cfg).await.unwrap();
    sync_ok(&ctx).await;
    let store = ctx.store().await.unwrap();
    let rows = store.history_len().unwrap();
    assert!(rows > 0);

    let e = demo::prefill_history(&ctx, 30).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e:?}");
    assert!(e.hint.contains("demo"), "{e:?}");
    assert_eq!(store.history_len().unwrap(), rows);
    assert_eq!(store.demo_history_len().unwrap(), 0);

    // The sandbox context with another profile selected is refused too.
    let sandboxed = sandbox_ctx(&sb, home.path()).with_profile("prod");
    let e = demo::prefill_history(&sandboxed, 30).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e:?}");
    assert_eq!(store.demo_history_len().unwrap(), 0);
    sb.shutdown().await;
}
