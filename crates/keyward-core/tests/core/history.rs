//! A key's history and insights from syncs of a real sandbox into the store on real files, and
//! the cached listing (also offline).

use keyward_core::ErrorCode;
use keyward_core::insights;
use keyward_core::insights::InsightsOptions;
use keyward_core::model::history::Bucket;
use keyward_core::model::key::KeyFilter;
use keyward_core::{history, keys};
use kinde_sandbox::Config;

use crate::support::{ctx, one_retry, sandbox, sync};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn history_insights_and_cached_listing() {
    let sb = sandbox(Config {
        extra_keys: 40,
        rng_seed: Some(3),
        ..Default::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(&sb, home.path()).with_client_options(one_retry());

    // Offline before any sync: nothing to show, and it says so.
    let e = keys::list_cached(&ctx, &KeyFilter::default(), true)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Offline);

    let first = sync(&ctx).await;
    assert_eq!(first.keys, 40);
    let verified = sb.simulate_verifications(5);
    let listed = keys::list_cached(&ctx, &KeyFilter::default(), false)
        .await
        .unwrap();
    assert_eq!(listed.keys.len(), 40);
    assert!(!listed.from_cache_only && listed.synced_at.is_some());
    let busy = listed
        .keys
        .iter()
        .find(|k| k.key.id == verified[0])
        .unwrap();
    assert_eq!(busy.spark_7d.iter().sum::<i64>(), 1);

    let h = history::key_history(&ctx, &verified[0], Bucket::Hour, None)
        .await
        .unwrap();
    assert_eq!(h.buckets.len(), 48);
    assert_eq!(h.total, 1);
    assert_eq!(h.points.len(), 2, "baseline and one change");
    let e = history::key_history(&ctx, "api_key_nope", Bucket::Day, None)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);

    let ins = insights::summary(&ctx, InsightsOptions::default())
        .await
        .unwrap();
    assert_eq!(ins.keys, 40);
    assert_eq!(ins.top_keys.len(), 5);
    assert!(ins.top_keys.iter().all(|k| k.verifications_recent == 1));
    let orgs_total: u32 = ins.by_org.iter().map(|g| g.keys).sum();
    assert_eq!(orgs_total, 40);
    assert_eq!(
        ins.by_api
            .iter()
            .map(|g| g.verifications_recent)
            .sum::<i64>(),
        5
    );

    // Kinde unreachable: the cache answers, with its age and why.
    sb.shutdown().await;
    let cached = keys::list_cached(&ctx, &KeyFilter::default(), false)
        .await
        .unwrap();
    assert!(cached.from_cache_only);
    assert_eq!(cached.keys.len(), 40);
    assert!(cached.warning.is_some());
    let offline = keys::list_cached(&ctx, &KeyFilter::default(), true)
        .await
        .unwrap();
    assert_eq!(offline.warning.unwrap().code, ErrorCode::Offline);
}
