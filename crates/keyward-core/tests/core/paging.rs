//! Pagination that does not advance (the same page again, an empty page with more to come, a
//! repeated id) is an error, for the client's listing and the sync's; the sync then marks no
//! key gone. A fake Kinde on loopback answers the pages.

use std::sync::Arc;

use chrono::Utc;
use keyward_core::ErrorCode;
use keyward_core::kinde::ListKeysQuery;
use keyward_core::model::key::{ApiKey, KeyStatus, KeyType};
use keyward_core::model::sync::SyncOptions;
use keyward_core::store::{PageEntry, SqliteStore, Store};
use tokio_util::sync::CancellationToken;

use crate::support::fake_kinde::*;
use crate::support::*;

fn key_json(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","name":"n {id}","type":"organization","status":"active","key_prefix":"k_live","key_suffix":"ab12","api_ids":["api1"],"scopes":["read:data"]}}"#
    )
}

fn page(ids: &[&str], has_more: bool) -> Reply {
    let keys: Vec<String> = ids.iter().map(|i| key_json(i)).collect();
    Reply::json(
        200,
        &format!(
            r#"{{"code":"OK","message":"Success","has_more":{has_more},"api_keys":[{}]}}"#,
            keys.join(",")
        ),
    )
}

/// The pages after the first `[k1]` (has more) in each broken listing.
fn broken(which: usize, list_n: usize) -> Reply {
    match (which, list_n) {
        (_, 0) => page(&["api_key_1"], true),
        // The same page again.
        (0, _) => page(&["api_key_1"], true),
        // An empty page that says there is more.
        (1, _) => page(&[], true),
        // A fresh key, then a repeated one.
        _ => page(&["api_key_2", "api_key_1"], false),
    }
}

async fn fake_listing(which: usize) -> Fake {
    let lists = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    fake(move |req, _| {
        let path = req.path.split('?').next().unwrap_or_default();
        if path == "/oauth2/token" {
            token_reply(3600)
        } else if path == "/api/v1/api_keys" {
            let n = lists.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            broken(which, n)
        } else {
            Reply::json(404, r#"{"errors":[{"code":"NOT_FOUND","message":"no"}]}"#)
        }
    })
    .await
}

fn cached(id: &str) -> ApiKey {
    ApiKey {
        id: id.into(),
        name: format!("n {id}"),
        key_type: KeyType::Organization,
        status: KeyStatus::Active,
        key_prefix: "k_live".into(),
        key_suffix: Some("ab12".into()),
        created_on: None,
        last_verified_on: None,
        last_verified_ip: None,
        created_by: None,
        api_ids: vec!["api1".into()],
        scopes: vec!["read:data".into()],
        verification_count: Some(0),
        user_id: None,
        org_code: Some("org_a".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_listing_refuses_pages_that_do_not_advance() {
    for which in 0..3 {
        let f = fake_listing(which).await;
        let c = client_for(&f.base(), "id", "secret", fast());
        let e = c
            .list_keys_all(&ListKeysQuery::default())
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::UnexpectedResponse, "case {which}: {e:?}");
        assert!(e.message.contains("did not advance"), "{}", e.message);
        assert_eq!(f.count("GET", "/api/v1/api_keys"), 2, "case {which}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_whose_listing_does_not_advance_fails_and_marks_nothing_gone() {
    for which in 0..3 {
        let f = fake_listing(which).await;
        let c = client_for(&f.base(), "id", "secret", fast());
        let dir = tempfile::tempdir().unwrap();
        let s: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("k.db"), "p").unwrap());
        let now = Utc::now();
        let entries: Vec<PageEntry> = ["api_key_1", "api_key_2", "api_key_3"]
            .into_iter()
            .map(|id| PageEntry {
                key: cached(id),
                detail: true,
            })
            .collect();
        s.apply_page(None, now, &entries).unwrap();
        let r = keyward_core::sync::run_store(
            &c,
            &s,
            SyncOptions {
                full: true,
                ..Default::default()
            },
            &|_| {},
            &CancellationToken::new(),
            false,
        )
        .await;
        match r {
            Err(e) => assert_eq!(e.code, ErrorCode::UnexpectedResponse, "case {which}"),
            Ok(summary) => assert_ne!(summary.status, "ok", "case {which}: {summary:?}"),
        }
        let states = s.key_states().unwrap();
        assert_eq!(states.len(), 3);
        assert!(
            states.values().all(|k| !k.gone),
            "case {which}: nothing marked gone: {states:?}"
        );
    }
}
