//! Profile operations: config.toml under a temp KEYWARD_HOME, secrets in a memory store.

use std::sync::Arc;

use crate::support::{fast, home_ctx, sandbox};
use keyward_core::ErrorCode;
use keyward_core::config::{ConfigFile, Environment, Paths};
use keyward_core::ctx::AppCtx;
use keyward_core::profiles::{ProfileDraft, ProfileInput, SecretSource};
use keyward_core::secret::Secret;
use keyward_core::secret::keyring::{MemoryStore, SecretStore};
use keyward_core::{directory, doctor, profiles};
use kinde_sandbox::Config;

fn input(name: &str, domain: &str) -> ProfileInput {
    ProfileInput {
        name: name.into(),
        domain: domain.into(),
        client_id: "m2m_client_1".into(),
        environment: None,
    }
}

fn ctx(home: &std::path::Path, store: Arc<MemoryStore>) -> AppCtx {
    home_ctx(home, store).with_client_options(fast())
}

#[tokio::test]
async fn add_list_remove_and_secrets_stay_out_of_config() {
    let home = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let ctx = ctx(home.path(), store.clone());

    let added = profiles::add(
        &ctx,
        ProfileInput {
            environment: Some(Environment::Staging),
            ..input("acme", "acme.kinde.com")
        },
        Some(Secret::new("top-secret-value-1\n")),
    )
    .await
    .unwrap();
    assert_eq!(added.info.profile.domain, "https://acme.kinde.com");
    assert_eq!(added.secret, SecretSource::Keyring);
    assert!(added.info.is_default && added.info.selected);
    assert!(added.warning.is_none());
    assert_eq!(
        store.get("acme").unwrap().unwrap().expose(),
        "top-secret-value-1"
    );

    // Without a secret (and no KEYWARD_CLIENT_SECRET) it is added with a warning.
    let second = profiles::add(&ctx, input("local", "http://127.0.0.1:8787/"), None)
        .await
        .unwrap();
    assert_eq!(second.secret, SecretSource::Missing);
    assert!(second.warning.unwrap().contains("KEYWARD_CLIENT_SECRET"));
    assert_eq!(second.info.profile.domain, "http://127.0.0.1:8787");
    assert!(!second.info.is_default);

    let e = profiles::add(&ctx, input("acme", "other.kinde.com"), None)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ProfileExists);

    for (domain, what) in [
        ("http://acme.kinde.com", "http"),
        ("https://acme.kinde.com/api", "path"),
        ("acme kinde.com", "spaces"),
        ("https://acme.kinde.com?x=1", "query"),
        ("", "empty"),
    ] {
        let e = profiles::add(&ctx, input("bad", domain), Some(Secret::new("s")))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput, "{what}");
        assert!(e.message.starts_with("domain"), "{what}: {}", e.message);
        assert!(!e.hint.is_empty());
    }
    for bad_name in ["", "a b", "x/y"] {
        let e = profiles::add(&ctx, input(bad_name, "acme.kinde.com"), None)
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
    }
    let e = profiles::add(
        &ctx,
        ProfileInput {
            client_id: "has space".into(),
            ..input("c", "acme.kinde.com")
        },
        None,
    )
    .await
    .unwrap_err();
    assert!(e.message.starts_with("client id"));
    assert_eq!(store.len(), 1, "a refused profile stores no secret");

    let list = profiles::list(&ctx).await.unwrap();
    let names: Vec<_> = list.iter().map(|p| p.profile.name.as_str()).collect();
    assert_eq!(names, ["acme", "local"]);
    assert!(list[0].selected && !list[1].selected);
    let picked = profiles::list(&ctx_with(home.path(), &store, "local"))
        .await
        .unwrap();
    assert!(picked[1].selected && !picked[0].selected);

    let text = std::fs::read_to_string(Paths::under(home.path()).config_file()).unwrap();
    assert!(!text.contains("top-secret"), "{text}");
    assert!(text.contains("client_id = \"m2m_client_1\""));
    assert!(text.contains("environment = \"staging\""));

    let removed = profiles::remove(&ctx, "acme").await.unwrap();
    assert!(removed.secret_deleted && removed.warning.is_none());
    assert!(store.is_empty());
    let cfg = ConfigFile::load(&Paths::under(home.path())).unwrap();
    assert_eq!(cfg.names(), ["local"]);
    assert_eq!(cfg.settings.default_profile, None);
    let e = profiles::remove(&ctx, "acme").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ProfileNotFound);
    assert!(e.message.contains("local"), "{}", e.message);
}

fn ctx_with(home: &std::path::Path, store: &Arc<MemoryStore>, name: &str) -> AppCtx {
    ctx(home, store.clone()).with_profile(name)
}

#[tokio::test]
async fn selection_secret_lookup_and_connection_test() {
    let sb = sandbox(Config::default()).await;
    let home = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let base = ctx(home.path(), store.clone());

    // No profile yet: a clear error.
    let e = doctor::connection(&base).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ProfileNotFound);
    assert!(e.hint.contains("profile add"));

    profiles::add(
        &base,
        ProfileInput {
            client_id: sb.client_id().into(),
            ..input("sb", &sb.base_url())
        },
        Some(Secret::new(sb.client_secret())),
    )
    .await
    .unwrap();
    profiles::add(
        &base,
        ProfileInput {
            client_id: sb.client_id().into(),
            ..input("nosecret", &sb.base_url())
        },
        None,
    )
    .await
    .unwrap();

    // The default (first) profile works.
    let report = profiles::test(&base, None).await.unwrap();
    assert!(report.healthy, "{report:#?}");
    assert!(directory::apis(&base).await.unwrap().len() == 1);

    // A profile without a secret: secret_missing, with a hint naming both ways out.
    let nosecret = ctx(home.path(), store.clone()).with_profile("nosecret");
    let e = directory::apis(&nosecret).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::SecretMissing);
    assert!(e.hint.contains("--client-secret-stdin") && e.hint.contains("KEYWARD_CLIENT_SECRET"));
    // ...unless KEYWARD_CLIENT_SECRET is given, which is used and never stored.
    let env = ctx(home.path(), store.clone())
        .with_profile("nosecret")
        .with_env_secret(Some(Secret::new(sb.client_secret())));
    assert_eq!(directory::apis(&env).await.unwrap().len(), 1);
    assert!(store.get("nosecret").unwrap().is_none());

    let e = directory::apis(&ctx(home.path(), store.clone()).with_profile("zz"))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ProfileNotFound);

    // A draft (first-run form) with a wrong secret: the token step fails, nothing is saved.
    let draft = ProfileDraft {
        domain: sb.base_url(),
        client_id: sb.client_id().into(),
        client_secret: Secret::new("wrong"),
    };
    let report = profiles::test(&base, Some(draft)).await.unwrap();
    assert!(!report.healthy);
    let token = report.steps.iter().find(|s| s.name == "token").unwrap();
    assert!(!token.ok, "{report:#?}");
    assert_eq!(profiles::list(&base).await.unwrap().len(), 2);
    let draft = ProfileDraft {
        domain: "http://example.com".into(),
        client_id: "x".into(),
        client_secret: Secret::new("s"),
    };
    assert_eq!(
        profiles::test(&base, Some(draft)).await.unwrap_err().code,
        ErrorCode::InvalidInput
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn settings_are_checked_and_saved() {
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(home.path(), Arc::new(MemoryStore::new()));
    let s = profiles::settings(&ctx).await.unwrap();
    assert_eq!((s.stale_days, s.rotation_days), (30, 90));
    profiles::add(&ctx, input("a", "a.kinde.com"), None)
        .await
        .unwrap();
    profiles::add(&ctx, input("b", "b.kinde.com"), None)
        .await
        .unwrap();
    let mut want = s.clone();
    want.stale_days = 14;
    want.default_profile = Some("b".into());
    assert_eq!(
        profiles::set_settings(&ctx, want.clone()).await.unwrap(),
        want
    );
    assert_eq!(profiles::settings(&ctx).await.unwrap(), want);
    assert_eq!(ctx.profile().await.unwrap().name, "b");
    let bad = keyward_core::config::Settings {
        rotation_days: 0,
        ..want.clone()
    };
    assert_eq!(
        profiles::set_settings(&ctx, bad).await.unwrap_err().code,
        ErrorCode::InvalidInput
    );
    let bad = keyward_core::config::Settings {
        default_profile: Some("zz".into()),
        ..want.clone()
    };
    assert_eq!(
        profiles::set_settings(&ctx, bad).await.unwrap_err().code,
        ErrorCode::ProfileNotFound
    );
    assert_eq!(
        profiles::settings(&ctx).await.unwrap(),
        want,
        "a refused change saves nothing"
    );
}

#[tokio::test]
async fn the_sandbox_database_is_apart_from_a_profile_named_demo() {
    let home = tempfile::tempdir().unwrap();
    let real = ctx(home.path(), Arc::new(MemoryStore::new()));
    profiles::add(&real, input("demo", "demo.kinde.com"), None)
        .await
        .unwrap();
    let sandbox = AppCtx::for_sandbox(
        "http://127.0.0.1:9",
        "id",
        Secret::new("s"),
        Some(home.path().to_path_buf()),
    )
    .unwrap();
    let a = real.db_path().await.unwrap();
    let b = sandbox.db_path().await.unwrap();
    assert_ne!(a, b);
    assert!(a.starts_with(home.path()) && b.starts_with(home.path()));
    let store = sandbox.store().await.unwrap();
    assert_eq!(store.path(), Some(b.as_path()));
    assert!(
        !a.exists(),
        "opening the sandbox store does not touch the profile's"
    );
}

/// A keyring that holds secrets in memory and refuses every write while `refuse` is set.
struct RefusingKeyring {
    inner: MemoryStore,
    refuse: std::sync::atomic::AtomicBool,
}

impl SecretStore for RefusingKeyring {
    fn get(&self, profile: &str) -> keyward_core::Result<Option<Secret>> {
        self.inner.get(profile)
    }
    fn set(&self, profile: &str, secret: &Secret) -> keyward_core::Result<()> {
        if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(keyward_core::Error::new(
                ErrorCode::KeyringUnavailable,
                "the keyring is locked",
                "Unlock it.",
            ));
        }
        self.inner.set(profile, secret)
    }
    fn delete(&self, profile: &str) -> keyward_core::Result<()> {
        self.inner.delete(profile)
    }
    fn describe(&self) -> &'static str {
        "refusing"
    }
}

#[tokio::test]
async fn update_edits_a_profile_in_one_step_and_a_refused_secret_changes_nothing() {
    use keyward_core::profiles::ProfileUpdate;
    let home = tempfile::tempdir().unwrap();
    let keyring = Arc::new(RefusingKeyring {
        inner: MemoryStore::new(),
        refuse: false.into(),
    });
    let ctx = AppCtx::new(Some(home.path().to_path_buf()), keyring.clone())
        .unwrap()
        .with_env_secret(None);
    profiles::add(
        &ctx,
        input("acme", "acme.kinde.com"),
        Some(Secret::new("first-secret")),
    )
    .await
    .unwrap();
    profiles::add(
        &ctx,
        input("other", "other.kinde.com"),
        Some(Secret::new("other-secret")),
    )
    .await
    .unwrap();
    let paths = Paths::under(home.path());
    let before = std::fs::read_to_string(paths.config_file()).unwrap();

    // The keyring refuses the new secret: the profile, its secret and config.toml are as before.
    keyring
        .refuse
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let e = profiles::update(
        &ctx,
        "acme",
        ProfileUpdate {
            domain: Some("new.kinde.com".into()),
            client_secret: Some(Secret::new("second-secret")),
            ..ProfileUpdate::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::KeyringUnavailable);
    assert_eq!(
        std::fs::read_to_string(paths.config_file()).unwrap(),
        before
    );
    assert_eq!(
        keyring.get("acme").unwrap().unwrap().expose(),
        "first-secret"
    );
    let list = profiles::list(&ctx).await.unwrap();
    let acme = list.iter().find(|p| p.profile.name == "acme").unwrap();
    assert_eq!(acme.profile.domain, "https://acme.kinde.com");
    assert!(acme.is_default);

    // A bad field is refused before anything is written.
    keyring
        .refuse
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let e = profiles::update(
        &ctx,
        "acme",
        ProfileUpdate {
            domain: Some("a..b".into()),
            client_secret: Some(Secret::new("second-secret")),
            ..ProfileUpdate::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert_eq!(
        keyring.get("acme").unwrap().unwrap().expose(),
        "first-secret"
    );
    let e = profiles::update(&ctx, "nobody", ProfileUpdate::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ProfileNotFound);

    // It works: every field at once; the default stays the default, the other profile as it was.
    let info = profiles::update(
        &ctx,
        "acme",
        ProfileUpdate {
            domain: Some("new.kinde.com".into()),
            client_id: Some("m2m_client_2".into()),
            environment: Some(Environment::Staging),
            client_secret: Some(Secret::new(" second-secret\n")),
        },
    )
    .await
    .unwrap();
    assert_eq!(info.profile.domain, "https://new.kinde.com");
    assert_eq!(info.profile.client_id, "m2m_client_2");
    assert_eq!(info.profile.environment, Environment::Staging);
    assert!(info.is_default);
    assert_eq!(
        keyring.get("acme").unwrap().unwrap().expose(),
        "second-secret"
    );
    let cfg = ConfigFile::load(&paths).unwrap();
    assert_eq!(cfg.settings.default_profile.as_deref(), Some("acme"));
    assert_eq!(cfg.profiles.len(), 2);
    assert_eq!(cfg.find("other").unwrap().domain, "https://other.kinde.com");
    let text = std::fs::read_to_string(paths.config_file()).unwrap();
    assert!(!text.contains("second-secret") && !text.contains("first-secret"));

    // Without a secret the stored one stays.
    profiles::update(
        &ctx,
        "acme",
        ProfileUpdate {
            environment: Some(Environment::Production),
            ..ProfileUpdate::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        keyring.get("acme").unwrap().unwrap().expose(),
        "second-secret"
    );
}
