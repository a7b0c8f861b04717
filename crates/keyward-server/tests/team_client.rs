//! keyward-core's team client (`keyward_core::remote::RemoteClient`, derived from the
//! operations list) and its dispatch (`keyward_core::api`) against a real server: a
//! kinde-sandbox on 127.0.0.1:0, a throwaway PostgreSQL, the server's HTTP API on 127.0.0.1:0.
//!
//! - a team profile added with `profiles::add_team` (the token checked with /api/v1/me; a bad
//!   token records nothing), its token in the secret store, nothing of it in config.toml;
//! - each kind of operation through the typed client: reads (keys, show, apis, alerts, audit,
//!   insights, handovers, history, policy), writes (create, rotate, re-issue, revoke, ack),
//!   a viewer's write refused as `forbidden` with the role it needed, the server's streamed
//!   `sync_start`, and the SSE reader seeing the keys delta of a rotate;
//! - `api::<op>` on a team profile runs on the server (the audit names the member), and the
//!   last answers are kept for `--offline`.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use keyward_core::api;
use keyward_core::ctx::AppCtx;
use keyward_core::kinde::ClientOptions;
use keyward_core::model::alert::AlertFilter;
use keyward_core::model::audit::{AuditAction, AuditFilter};
use keyward_core::model::history::Bucket;
use keyward_core::model::key::{CreateKeyInput, KeyChanges, KeyWindowQuery};
use keyward_core::operations::Role;
use keyward_core::profiles;
use keyward_core::remote::{FORBIDDEN, RemoteClient};
use keyward_core::secret::Secret;
use keyward_core::secret::keyring::{MemoryStore, SecretStore};
use keyward_core::{Error, ErrorCode};
use keyward_server::api::members;
use keyward_server::config::{self, Need};
use keyward_server::serve::{self, ServeOptions};
use kinde_sandbox::{Config, Seed};
use tokio_util::sync::CancellationToken;

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

/// Retries `f` while the server answers `sync_in_progress` (its scheduled sync).
async fn settled<T, F, Fut>(mut f: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    for _ in 0..300 {
        match f().await {
            Err(e) if e.code == ErrorCode::SyncInProgress => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
    f().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_operation_through_the_team_client() {
    let sb = kinde_sandbox::spawn(
        "127.0.0.1:0".parse().unwrap(),
        Config {
            seed: Seed::Empty,
            extra_keys: 4,
            rng_seed: Some(7),
            ..Config::default()
        },
    )
    .await
    .expect("sandbox starts");
    let db = support::fresh_db();
    let env: HashMap<String, String> = [
        (config::ENV_DATABASE_URL, db.clone()),
        (config::ENV_LISTEN, "127.0.0.1:0".to_string()),
        (config::ENV_KINDE_DOMAIN, sb.base_url()),
        (config::ENV_KINDE_CLIENT_ID, sb.client_id().to_string()),
        (
            config::ENV_KINDE_CLIENT_SECRET,
            sb.client_secret().to_string(),
        ),
        (config::ENV_SYNC_INTERVAL, "1".to_string()),
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
    let stop = CancellationToken::new();
    let running = serve::start(
        cfg,
        ServeOptions {
            client: Some(ClientOptions {
                retry_base_delay: Duration::from_millis(10),
                max_jitter: Duration::from_millis(10),
                max_retries: 1,
                ..ClientOptions::default()
            }),
            home: Some(tempfile::tempdir().unwrap().keep()),
            replica: Some("team-client".into()),
        },
        stop.clone(),
    )
    .await
    .expect("the server starts");
    let server = format!("http://{}", running.addr);
    let bob = add_member(&db, "bob", Role::Operator).await;
    let carol = add_member(&db, "carol", Role::Viewer).await;

    // A team profile on the member's machine: a bad token records nothing.
    let home = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let ctx = AppCtx::new(Some(home.path().to_path_buf()), secrets.clone()).unwrap();
    let e = profiles::add_team(
        &ctx,
        "team",
        &server,
        Some(Secret::new("kwp_wrong")),
        None,
        true,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthenticated, "{e:?}");
    assert!(profiles::list(&ctx).await.unwrap().is_empty());
    assert!(secrets.get("team").unwrap().is_none());
    let (added, me) =
        profiles::add_team(&ctx, "team", &server, Some(Secret::new(&*bob)), None, true)
            .await
            .unwrap();
    let me = me.unwrap();
    assert_eq!((me.name.as_str(), me.role), ("bob", Role::Operator));
    assert_eq!(added.info.profile.server.as_deref(), Some(server.as_str()));
    assert!(added.info.profile.client_id.is_empty() && added.info.profile.domain.is_empty());
    let toml = std::fs::read_to_string(ctx.paths().config_file()).unwrap();
    assert!(!toml.contains(&bob) && toml.contains("server = "), "{toml}");
    assert_eq!(secrets.get("team").unwrap().unwrap().expose(), bob);
    assert!(ctx.is_team().await.unwrap());

    let remote = RemoteClient::of(&ctx)
        .await
        .unwrap()
        .expect("a team client");
    let viewer = RemoteClient::new(&server, Secret::new(&*carol), None).unwrap();

    // Reads: the first sync's keys.
    let mut listed = KeyChanges {
        rev: 0,
        keys: vec![],
    };
    for _ in 0..150 {
        listed = remote.keys_changed_since(0.0).await.unwrap();
        if listed.keys.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(listed.keys.len(), 4, "the first sync's keys");
    let shown = remote
        .key_show(listed.keys[0].key.id.clone())
        .await
        .unwrap();
    assert_eq!(shown.key.id, listed.keys[0].key.id);
    let e = remote.key_show("api_key_nope".into()).await.unwrap_err();
    assert!(
        matches!(e.code, ErrorCode::NotFound | ErrorCode::InvalidInput),
        "{e:?}"
    );
    let apis = viewer.apis_list().await.unwrap();
    let api0 = apis.iter().find(|a| !a.scopes.is_empty()).expect("an API");
    viewer.alerts_list(AlertFilter::default()).await.unwrap();
    viewer.insights(30).await.unwrap();
    viewer.handovers_list().await.unwrap();
    viewer.policy_show().await.unwrap();
    viewer
        .key_history(listed.keys[0].key.id.clone(), Bucket::Day, 7)
        .await
        .unwrap();

    // Writes by the operator, through the dispatching entry points.
    let input = CreateKeyInput {
        name: "team made".into(),
        api_id: api0.id.clone(),
        scopes: vec![api0.scopes[0].key.clone()],
        org_code: Some(kinde_sandbox::EMPTY_ORG_CODE.into()),
        user_id: None,
    };
    let created = settled(|| api::key_create(&ctx, input.clone()))
        .await
        .unwrap();
    assert!(!created.key.expose().is_empty());
    let mut events = remote.events(Some(listed.rev.to_string()));
    let rotated = settled(|| api::key_rotate(&ctx, created.id.clone()))
        .await
        .unwrap();
    assert_ne!(rotated.key.expose(), created.key.expose());
    // The SSE reader sees the rotated key in a keys delta.
    let mut seen = false;
    for _ in 0..50 {
        let ev = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("an event within 30 s")
            .unwrap();
        if ev.event == "keys" && ev.data.contains(&created.id) {
            seen = true;
            break;
        }
    }
    assert!(seen, "no keys delta named {}", created.id);
    assert!(events.last_event_id().is_some());

    let reissued =
        settled(|| api::key_reissue(&ctx, listed.keys[1].key.id.clone(), None, None, None))
            .await
            .unwrap();
    assert_eq!(reissued.old_id, listed.keys[1].key.id);

    // A viewer's write is refused with the role it needed; nothing is revoked.
    let e = viewer
        .keys_revoke(vec![created.id.clone()])
        .await
        .unwrap_err();
    assert_eq!(e.code, FORBIDDEN, "{e:?}");
    assert!(
        e.message.starts_with("forbidden:") && e.message.contains("operator"),
        "{}",
        e.message
    );
    let revoked = settled(|| api::keys_revoke(&ctx, vec![created.id.clone()]))
        .await
        .unwrap();
    assert_eq!((revoked.requested, revoked.revoked), (1, 1), "{revoked:?}");

    // The server's own operation, streamed.
    let mut progress = 0;
    let mut summary = None;
    for _ in 0..300 {
        match remote.sync_start(|_| progress += 1).await {
            Err(e) if e.code == ErrorCode::SyncInProgress => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            r => {
                summary = Some(r.unwrap());
                break;
            }
        }
    }
    let summary = summary.expect("a sync of ours ran");
    assert!(summary.keys_seen >= 5, "{summary:?}");

    // The audit names the member; the viewer's refusal is in it too.
    let audit = api::audit_list(&ctx, AuditFilter::default()).await.unwrap();
    let by = |a: AuditAction| {
        audit
            .iter()
            .find(|e| e.action == a)
            .and_then(|e| e.actor.clone())
    };
    assert_eq!(by(AuditAction::Create).as_deref(), Some("bob"));
    assert_eq!(by(AuditAction::Rotate).as_deref(), Some("bob"));
    assert_eq!(by(AuditAction::Revoke).as_deref(), Some("bob"));
    assert_eq!(by(AuditAction::Denied).as_deref(), Some("carol"));

    // Acknowledge whatever alert is open (an operator may).
    let alerts = api::alerts_list(&ctx, AlertFilter::default())
        .await
        .unwrap();
    if let Some(a) = alerts.alerts.first() {
        let acked = api::alerts_ack(&ctx, vec![u32::try_from(a.id).unwrap()])
            .await
            .unwrap();
        assert_eq!(acked.len(), 1);
    }

    // The last answers are kept for --offline, with no secret in them.
    let keys = api::team_keys(&ctx).await.unwrap().unwrap();
    assert!(keys.iter().any(|k| k.key.id == rotated.id));
    let kept: api::Cached<Vec<keyward_core::model::key::KeyView>> =
        api::cached(&ctx, api::KEYS_LIST).await.unwrap();
    assert_eq!(kept.answer.len(), keys.len());
    let kept_alerts: api::Cached<keyward_core::model::alert::AlertList> =
        api::cached(&ctx, "alerts_list").await.unwrap();
    let _ = kept_alerts;
    for entry in walk(home.path()) {
        let body = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&body);
        for s in [
            bob.as_str(),
            carol.as_str(),
            created.key.expose(),
            rotated.key.expose(),
            reissued.new_key.key.expose(),
        ] {
            assert!(!text.contains(s), "a secret in {}", entry.display());
        }
    }

    // A wrong server answers a transport error in words.
    let gone = RemoteClient::new("http://127.0.0.1:9", Secret::new("kwp_x"), None).unwrap();
    let e = gone.me().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ConnectionRefused, "{e:?}");
    assert!(e.hint.contains("--offline"), "{}", e.hint);

    // The app's start-up windows (the counts, the table's first screen) as the server answers
    // them; a search's window is not kept.
    let every = KeyWindowQuery::default();
    let active = KeyWindowQuery {
        status: Some(keyward_core::model::key::KeyStatus::Active),
        ..KeyWindowQuery::default()
    };
    let searched = KeyWindowQuery {
        search: Some("a".into()),
        ..KeyWindowQuery::default()
    };
    let counts_up = api::keys_window(&ctx, every.clone(), 0, 0).await.unwrap();
    let screen_up = api::keys_window(&ctx, every.clone(), 0, 3).await.unwrap();
    let active_up = api::keys_window(&ctx, active.clone(), 0, 40).await.unwrap();
    api::keys_window(&ctx, searched.clone(), 0, 40)
        .await
        .unwrap();
    assert!(
        counts_up.rows.is_empty() && counts_up.counts.all > 0,
        "{counts_up:?}"
    );
    assert_eq!(screen_up.rows.len(), 3);

    // The server goes away and comes back on the same address: the event stream reconnects
    // by itself (Last-Event-ID) and goes on with the next change.
    let addr = running.addr;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), running.done)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();

    // While it is down, those windows answer as they last were (a member opening Keyward sees
    // the team's keys, not an error); a search, a later page or a window never asked for
    // answers the transport error.
    let ids = |w: &keyward_core::model::key::KeyWindow| {
        w.rows.iter().map(|k| k.key.id.clone()).collect::<Vec<_>>()
    };
    let counts_down = api::keys_window(&ctx, every.clone(), 0, 0).await.unwrap();
    assert_eq!(
        (counts_down.counts, counts_down.total, counts_down.rev),
        (counts_up.counts, counts_up.total, counts_up.rev)
    );
    let screen_down = api::keys_window(&ctx, every.clone(), 0, 3).await.unwrap();
    assert_eq!(ids(&screen_down), ids(&screen_up));
    let active_down = api::keys_window(&ctx, active.clone(), 0, 40).await.unwrap();
    assert_eq!(ids(&active_down), ids(&active_up));
    assert!(
        active_down
            .rows
            .iter()
            .all(|k| k.key.status == keyward_core::model::key::KeyStatus::Active)
    );
    for (q, offset, limit) in [(searched, 0, 40), (every.clone(), 3, 3), (every, 0, 7)] {
        let e = api::keys_window(&ctx, q, offset, limit).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::ConnectionRefused, "{e:?}");
    }
    let mut env2 = env.clone();
    env2.insert(config::ENV_LISTEN.into(), addr.to_string());
    let cfg = config::from_str(
        "[lease]\nttl_secs = 4\nrenew_secs = 1\n",
        &env2,
        Need::Everything,
    )
    .unwrap();
    let stop2 = CancellationToken::new();
    let again = serve::start(
        cfg,
        ServeOptions {
            client: None,
            home: Some(tempfile::tempdir().unwrap().keep()),
            replica: Some("team-client-again".into()),
        },
        stop2.clone(),
    )
    .await
    .expect("the server starts again");
    let before = events.last_event_id().map(str::to_string);
    let again_rotated = settled(|| remote.key_rotate(reissued.new_key.id.clone()))
        .await
        .unwrap();
    let mut seen = false;
    for _ in 0..50 {
        let ev = tokio::time::timeout(Duration::from_secs(60), events.next())
            .await
            .expect("an event within 60 s")
            .unwrap();
        // The rotated key as it is after the restart (its new prefix and suffix), not an
        // older delta of the same id.
        if ev.event == "keys"
            && ev.data.contains(&again_rotated.id)
            && ev.data.contains(&again_rotated.key_prefix)
            && ev.data.contains(&again_rotated.key_suffix)
        {
            seen = true;
            break;
        }
    }
    assert!(seen, "no keys delta after the reconnect");
    assert_ne!(events.last_event_id().map(str::to_string), before);
    stop2.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(30), again.done).await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
