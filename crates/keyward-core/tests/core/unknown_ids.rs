//! Marks, dates and mutes name keys the store knows: `canary mark`, `policy expires` and
//! `alerts mute --key` on an id no sync or create brought here are `not_found` with a hint to
//! sync, in core, so the app, the CLI and the server all refuse them (a mistyped canary would
//! never trip). Nothing is written for a refused id.

use keyward_core::ErrorCode;
use keyward_core::model::alert::MuteTarget;
use keyward_core::{alerts, keys};
use kinde_sandbox::Config;

use crate::support::{ctx, org_key, sandbox, sync_ok};

fn assert_unknown(e: &keyward_core::Error, id: &str) {
    assert_eq!(e.code, ErrorCode::NotFound, "{e:?}");
    assert!(e.message.contains(id), "{}", e.message);
    assert!(e.hint.contains("keyward sync"), "{}", e.hint);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marks_dates_and_mutes_of_unknown_ids_are_refused() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let c = ctx(&sb, home.path());
    sync_ok(&c).await;
    let unknown = ["api_key_nope", "api_key_0123456789abcdef0123456789abcdef"];
    for id in unknown {
        assert_unknown(&alerts::canary_mark(&c, id, true).await.unwrap_err(), id);
        let on = Some(chrono::Utc::now() + chrono::Duration::days(30));
        assert_unknown(&alerts::expires_set(&c, id, on).await.unwrap_err(), id);
        let mute = MuteTarget::Key {
            key_id: id.to_string(),
        };
        assert_unknown(&alerts::mute(&c, mute).await.unwrap_err(), id);
    }
    // A malformed id is still invalid_input, before the store is asked.
    let e = alerts::canary_mark(&c, "not an id", true)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e:?}");
    // Nothing was written for them.
    let metas = alerts::key_metas(&c).await.unwrap();
    assert!(
        metas.iter().all(|m| !unknown.contains(&m.key_id.as_str())),
        "{metas:?}"
    );
    assert!(alerts::mutes(&c).await.unwrap().is_empty());

    // A key created through Keyward is known at once (no sync needed), and one seeded at the
    // sandbox is known after the sync.
    let k = keys::create(&c, org_key("known", &["read:data"]))
        .await
        .unwrap();
    let meta = alerts::canary_mark(&c, &k.id, true).await.unwrap();
    assert!(meta.canary);
    let on = Some(chrono::Utc::now() + chrono::Duration::days(30));
    alerts::expires_set(&c, &k.id, on).await.unwrap();
    alerts::mute(
        &c,
        MuteTarget::Key {
            key_id: k.id.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(alerts::mutes(&c).await.unwrap().len(), 1);
}
