//! The keys rules give one answer whoever asks, on the demo data: the cached list (what the
//! CLI's `keyward keys list` prints, read from SQLite), the live list (`keys::list_live`,
//! straight from Kinde), and what the app loads (`keys_changed_since` through
//! `operations::call`, the declared operation).

use std::collections::{BTreeMap, BTreeSet};

use keyward_core::keys::rules::Search;
use keyward_core::model::key::{KeyChanges, KeyFilter, KeyView};
use keyward_core::{keys, operations};
use kinde_sandbox::{Config, Seed};
use serde_json::json;

use crate::support::{sandbox, sandbox_ctx, sync};

fn flags(keys: &[KeyView]) -> BTreeMap<String, (bool, bool)> {
    keys.iter()
        .map(|v| (v.key.id.clone(), (v.stale, v.rotation_due)))
        .collect()
}

fn ids(keys: &[KeyView]) -> BTreeSet<String> {
    keys.iter().map(|v| v.key.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_live_and_app_agree_on_flags_and_search() {
    let sb = sandbox(Config {
        seed: Seed::Demo,
        ..Config::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let ctx = sandbox_ctx(&sb, home.path());
    sync(&ctx).await;

    let all = KeyFilter::default();
    let cached = keys::list_cached(&ctx, &all, true).await.unwrap().keys;
    let live = keys::list_live(&ctx, &all).await.unwrap();
    let app: KeyChanges = serde_json::from_value(
        operations::call(&ctx, "keys_changed_since", json!({ "since_rev": 0 }))
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        cached.len() > 50,
        "the demo has many keys: {}",
        cached.len()
    );
    assert_eq!(flags(&cached), flags(&live), "cached vs live");
    assert_eq!(flags(&cached), flags(&app.keys), "cached vs the app");
    // The demo holds keys of every kind, so the comparison above could fail.
    let f = flags(&cached);
    assert!(f.values().any(|(stale, _)| *stale), "some key is stale");
    assert!(
        f.values().any(|(_, due)| *due),
        "some key is due for rotation"
    );
    assert!(f.values().any(|(s, d)| !s && !d), "some key is neither");

    // The same search, asked three ways.
    let first = &cached[0];
    let owner = cached
        .iter()
        .find_map(|v| v.owner_name.clone())
        .expect("owner names resolved");
    let api = cached
        .iter()
        .find_map(|v| v.api_name.clone())
        .expect("API names resolved");
    let word = first
        .key
        .name
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    // Kinde's listing carries no owner (only a key's detail does), so the live list can match an
    // owner's name only where an owner filter told it the owner: for those queries it finds a
    // subset of what the cache finds. Every other field is in the listing.
    let queries = [
        (word.clone(), true),
        (owner.clone(), false),
        (api.to_uppercase(), true),
        (first.key.key_suffix.clone().unwrap_or_default(), true),
        (first.key.id.clone(), true),
        (
            format!("{word} {}", owner.split_whitespace().next().unwrap()),
            false,
        ),
        ("no-key-is-called-this".to_string(), true),
    ];
    let mut matched_some = 0;
    for (q, listing_has_it) in queries {
        let filter = KeyFilter {
            search: Some(q.clone()),
            ..KeyFilter::default()
        };
        let c = ids(&keys::list_cached(&ctx, &filter, true).await.unwrap().keys);
        let l = ids(&keys::list_live(&ctx, &filter).await.unwrap());
        let search = Search::parse(Some(&q));
        let a: BTreeSet<String> = app
            .keys
            .iter()
            .filter(|v| search.matches(v))
            .map(|v| v.key.id.clone())
            .collect();
        if listing_has_it {
            assert_eq!(c, l, "cached vs live for {q:?}");
        } else {
            assert!(l.is_subset(&c), "live finds more than the cache for {q:?}");
        }
        assert_eq!(c, a, "cached vs the app for {q:?}");
        if !c.is_empty() {
            matched_some += 1;
        }
    }
    assert!(matched_some >= 5, "the queries find keys: {matched_some}");
}
