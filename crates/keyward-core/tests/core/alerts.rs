//! The demo's watchtower: the demo sandbox with live traffic plays its script (a new IP, a
//! dormant key waking, a spike, changes made "in the portal", a canary touched) and the demo
//! flow of the app (sync, synthesized past, canary marked, syncs) raises each alert kind.

use std::collections::BTreeMap;
use std::time::Duration;

use keyward_core::model::alert::{AlertFilter, AlertKind};
use keyward_core::{alerts, demo};
use kinde_sandbox::{Config, Seed};

use crate::support::{sandbox, sandbox_ctx, sync_ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_traffic_raises_each_event_kind() {
    let sb = sandbox(Config {
        seed: Seed::Demo,
        traffic_per_sec: 10.0,
        rng_seed: Some(3),
        script_step: Duration::from_millis(1_000),
        // The script's clock starts at the second key listing (the first sync of the loop
        // below), so that the first sync, the baseline, never sees an event of the script,
        // however slowly it runs on a loaded machine.
        script_after_listings: 2,
        ..Config::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let ctx = sandbox_ctx(&sb, home.path());
    // The app's demo start: one sync, a synthesized past, the demo's canary marked.
    sync_ok(&ctx).await;
    demo::prefill_history(&ctx, 30).await.unwrap();
    let marked = demo::mark_canaries(&ctx).await.unwrap();
    assert_eq!(marked.len(), 1, "the script plants one canary key");

    let wanted = [
        AlertKind::NewIp,
        AlertKind::DormantWakes,
        AlertKind::Spike,
        AlertKind::Drift,
        AlertKind::CanaryTripped,
    ];
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    // The script's five steps take 5 s here; poll with syncs (bounded) until all are seen.
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        sync_ok(&ctx).await;
        let list = alerts::list(
            &ctx,
            AlertFilter {
                include_acknowledged: true,
                include_muted: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        counts.clear();
        for a in &list.alerts {
            *counts.entry(a.kind.as_str()).or_default() += 1;
        }
        if wanted.iter().all(|k| counts.contains_key(k.as_str())) {
            break;
        }
    }
    for k in wanted {
        assert!(
            counts.contains_key(k.as_str()),
            "no {} alert: {counts:?}",
            k.as_str()
        );
    }
    println!("demo alerts after the script: {counts:?}");
    let drift = alerts::list(
        &ctx,
        AlertFilter {
            kind: Some(AlertKind::Drift),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let changes: Vec<&str> = drift
        .alerts
        .iter()
        .filter_map(|a| a.evidence["change"].as_str())
        .collect();
    assert!(changes.contains(&"created"), "{changes:?}");
    assert!(changes.contains(&"rotated"), "{changes:?}");
    sb.shutdown().await;
}
