//! A profile's store belongs to one business: a profile removed and added again with another
//! domain, a domain changed by `profile update`, or by hand in config.toml, starts from an
//! empty store; the old business's keys, alerts and history are archived, never inherited.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use keyward_core::config::{ConfigFile, Paths};
use keyward_core::ctx::{AppCtx, blocking};
use keyward_core::kinde::ListKeysQuery;
use keyward_core::model::alert::{AlertFilter, AlertKind};
use keyward_core::model::audit::{AuditAction, AuditFilter};
use keyward_core::model::key::{KeyFilter, KeyStatus};
use keyward_core::profiles::{self, ProfileInput, ProfileUpdate};
use keyward_core::secret::Secret;
use keyward_core::secret::keyring::MemoryStore;
use keyward_core::store::{DB_FILE, SqliteStore};
use keyward_core::{alerts, audit, sync};
use kinde_sandbox::{Config, Sandbox};

use crate::support::{client, fast, home_ctx, sandbox, sync_ok};

/// Two businesses: `a` with 30 keys, `b` with 12 (their ids are random, so never shared).
async fn businesses() -> (Sandbox, Sandbox) {
    let a = sandbox(Config {
        extra_keys: 30,
        ..Config::default()
    })
    .await;
    let b = sandbox(Config {
        extra_keys: 12,
        ..Config::default()
    })
    .await;
    (a, b)
}

fn input(name: &str, sb: &Sandbox) -> ProfileInput {
    ProfileInput {
        name: name.into(),
        domain: sb.base_url(),
        client_id: sb.client_id().into(),
        environment: None,
    }
}

/// A fresh context on profile `name` (a new `keyward` process).
fn on(home: &Path, secrets: &Arc<MemoryStore>, name: &str) -> AppCtx {
    home_ctx(home, secrets.clone())
        .with_client_options(fast())
        .with_profile(name)
}

/// What the profile's store holds: key ids, alerts, audit rows (and how many are
/// `outside_keyward`), sync runs.
#[derive(Debug)]
struct Held {
    keys: BTreeSet<String>,
    alerts: usize,
    /// The keys the alerts are about, and whether any is drift.
    alerted: BTreeSet<String>,
    drift: bool,
    audit: usize,
    outside: usize,
    runs: usize,
}

async fn held(ctx: &AppCtx) -> Held {
    let store = ctx.store().await.unwrap();
    let keys = blocking(move || store.list_keys(&KeyFilter::default(), Utc::now()))
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.key.id)
        .collect();
    let alerts = alerts::list(
        ctx,
        AlertFilter {
            include_acknowledged: true,
            include_muted: true,
            ..AlertFilter::default()
        },
    )
    .await
    .unwrap()
    .alerts;
    let rows = audit::list(ctx, AuditFilter::default()).await.unwrap();
    let outside = rows
        .iter()
        .filter(|r| r.action == AuditAction::OutsideKeyward)
        .count();
    Held {
        keys,
        alerts: alerts.len(),
        alerted: alerts.iter().filter_map(|a| a.key_id.clone()).collect(),
        drift: alerts.iter().any(|a| a.kind == AlertKind::Drift),
        audit: rows.len(),
        outside,
        runs: sync::runs(ctx, 100).await.unwrap().len(),
    }
}

/// Every key id the business `sb` has.
async fn ids_of(sb: &Sandbox) -> BTreeSet<String> {
    client(sb)
        .list_keys_all(&ListKeysQuery::default())
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect()
}

/// Profile `name` on business `a`, synced, with a key rotated at Kinde behind Keyward's back
/// (a drift alert and an `outside_keyward` audit row) and synced again.
async fn with_history_of(home: &Path, secrets: &Arc<MemoryStore>, name: &str, a: &Sandbox) {
    let ctx = on(home, secrets, name);
    sync_ok(&ctx).await;
    // An active key: a revoked one cannot be rotated (the sandbox's data has both).
    let victim = client(a)
        .list_keys_all(&ListKeysQuery::default())
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.status == KeyStatus::Active)
        .expect("an active key")
        .id;
    client(a).rotate_key(&victim).await.unwrap();
    sync_ok(&ctx).await;
    let h = held(&ctx).await;
    assert_eq!(h.keys, ids_of(a).await);
    assert!(
        h.drift && h.outside >= 1 && h.runs == 2,
        "the old business left alerts, drift and runs: {h:?}"
    );
}

/// `ctx`'s store is empty; after one sync it holds exactly `b`'s keys, with nothing marked
/// gone, no drift, no `outside_keyward` row, and alerts (b's own stale keys) about b's keys
/// only.
async fn starts_empty_then_only(ctx: &AppCtx, b: &Sandbox) {
    let h = held(ctx).await;
    assert!(
        h.keys.is_empty() && h.alerts == 0 && h.audit == 0 && h.runs == 0,
        "a new business starts with an empty store: {h:?}"
    );
    let s = sync_ok(ctx).await;
    assert_eq!(s.gone, 0, "{s:?}");
    let h = held(ctx).await;
    let ids = ids_of(b).await;
    assert_eq!(h.keys, ids);
    assert!(h.alerted.is_subset(&ids), "{h:?}");
    assert_eq!((h.drift, h.outside, h.runs), (false, 0, 1), "{h:?}");
}

fn archived(home: &Path) -> Vec<std::path::PathBuf> {
    let root = Paths::under(home).data_dir.join("archive");
    let mut out: Vec<_> = match std::fs::read_dir(&root) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => vec![],
    };
    out.sort();
    out
}

#[tokio::test]
async fn a_profile_removed_and_added_with_another_domain_inherits_nothing() {
    let (a, b) = businesses().await;
    let home = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let setup = on(home.path(), &secrets, "p");
    let secret = || Some(Secret::new(a.client_secret()));
    profiles::add(&setup, input("p", &a), secret())
        .await
        .unwrap();
    with_history_of(home.path(), &secrets, "p", &a).await;

    let removed = profiles::remove(&setup, "p").await.unwrap();
    let to = removed.archived_to.clone().expect("the store is archived");
    assert!(removed.warning.is_none(), "{removed:?}");
    assert!(Path::new(&to).join(DB_FILE).is_file(), "{to}");
    assert_eq!(archived(home.path()), vec![std::path::PathBuf::from(&to)]);
    assert!(!SqliteStore::dir_for(&Paths::under(home.path()).data_dir, "p").exists());

    profiles::add(&setup, input("p", &b), Some(Secret::new(b.client_secret())))
        .await
        .unwrap();
    starts_empty_then_only(&on(home.path(), &secrets, "p"), &b).await;

    // Nothing was lost: the archive still holds the old business's keys.
    let old = SqliteStore::open(&Path::new(&to).join(DB_FILE), "p").unwrap();
    let old_keys = old.list_keys(&KeyFilter::default(), Utc::now()).unwrap();
    assert_eq!(old_keys.len(), ids_of(&a).await.len());

    // A profile removed with no store archives nothing.
    profiles::add(&setup, input("empty", &b), None)
        .await
        .unwrap();
    let removed = profiles::remove(&setup, "empty").await.unwrap();
    assert_eq!(removed.archived_to, None);
}

#[tokio::test]
async fn a_domain_changed_by_update_starts_an_empty_store() {
    let (a, b) = businesses().await;
    let home = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let setup = on(home.path(), &secrets, "q");
    profiles::add(&setup, input("q", &a), Some(Secret::new(a.client_secret())))
        .await
        .unwrap();
    with_history_of(home.path(), &secrets, "q", &a).await;

    // The client id and environment alone are the same business: the store stays.
    let same = profiles::update(
        &setup,
        "q",
        ProfileUpdate {
            domain: Some(a.base_url()),
            ..ProfileUpdate::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(same.profile.domain, a.base_url());
    assert!(archived(home.path()).is_empty());
    assert_eq!(
        held(&on(home.path(), &secrets, "q")).await.keys,
        ids_of(&a).await
    );

    profiles::update(
        &setup,
        "q",
        ProfileUpdate {
            domain: Some(b.base_url()),
            client_secret: Some(Secret::new(b.client_secret())),
            ..ProfileUpdate::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(archived(home.path()).len(), 1);
    starts_empty_then_only(&on(home.path(), &secrets, "q"), &b).await;
}

#[tokio::test]
async fn a_store_opened_for_another_domain_is_archived_not_mixed() {
    let (a, b) = businesses().await;
    let home = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let setup = on(home.path(), &secrets, "r");
    profiles::add(&setup, input("r", &a), Some(Secret::new(a.client_secret())))
        .await
        .unwrap();
    with_history_of(home.path(), &secrets, "r", &a).await;

    // config.toml edited by hand: the same profile now names business b.
    let paths = Paths::under(home.path());
    let mut cfg = ConfigFile::load(&paths).unwrap();
    for p in &mut cfg.profiles {
        p.domain = b.base_url();
    }
    cfg.save(&paths).unwrap();

    starts_empty_then_only(&on(home.path(), &secrets, "r"), &b).await;
    assert_eq!(archived(home.path()).len(), 1);
}
