//! The screens that name keys (audit, handovers, mutes, a key's page) ask the cache for those
//! keys only (`keys_by_ids`), and the insights chart's daily totals come from the store
//! (`insights.per_day_7d`): neither needs the whole list in a front end.

use keyward_core::error::ErrorCode;
use keyward_core::insights::Insights;
use keyward_core::model::key::{KeyFilter, KeyView};
use keyward_core::{keys, operations};
use kinde_sandbox::{Config, Seed};
use serde_json::json;

use crate::support::{sandbox, sandbox_ctx, sync};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_by_ids_answers_the_cached_views_asked_and_insights_sum_the_days_in_the_store() {
    let sb = sandbox(Config {
        seed: Seed::Demo,
        ..Config::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let ctx = sandbox_ctx(&sb, home.path());
    sync(&ctx).await;
    // Traffic after the first sync: the second one records it as history.
    let verified = sb.simulate_verifications(5);
    assert!(!verified.is_empty());
    sync(&ctx).await;
    let cached = keys::list_cached(&ctx, &KeyFilter::default(), true)
        .await
        .unwrap()
        .keys;
    assert!(cached.len() > 10, "the demo has many keys");
    let (a, b) = (&cached[3], &cached[7]);

    // In the order asked, each once; an unknown id is left out.
    let got: Vec<KeyView> = serde_json::from_value(
        operations::call(
            &ctx,
            "keys_by_ids",
            json!({ "ids": [b.key.id, "api_key_not_here", a.key.id, b.key.id] }),
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        got[0], *b,
        "the same view as the cached list, flags included"
    );
    assert_eq!(got[1], *a);
    assert!(keys::cached_by_ids(&ctx, vec![]).await.unwrap().is_empty());

    // More than the cap: refused with a hint, nothing read.
    let many: Vec<String> = (0..=keys::MAX_BY_IDS)
        .map(|i| format!("api_key_{i}"))
        .collect();
    let e = operations::call(&ctx, "keys_by_ids", json!({ "ids": many }))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(e.message.contains("at most 1000"), "{}", e.message);

    // The insights chart: the store's per-day totals equal the keys' 7-day series summed.
    let ins: Insights = serde_json::from_value(
        operations::call(&ctx, "insights", json!({ "recent_days": 7 }))
            .await
            .unwrap(),
    )
    .unwrap();
    let mut summed = vec![0i64; 7];
    for k in &cached {
        for (i, v) in k.spark_7d.iter().enumerate() {
            summed[i] += v;
        }
    }
    assert_eq!(ins.per_day_7d, summed);
    assert!(
        summed.iter().sum::<i64>() > 0,
        "the demo has recent traffic, so the comparison could fail"
    );
}
