//! Where M2M client secrets live: the OS keyring in the app and CLI, memory in tests.
//!
//! One keyring entry per profile, service `keyward`, user = profile name. The trait is blocking
//! (the keyring is); async callers go through [`get_blocking`]/[`set_blocking`]/
//! [`delete_blocking`], which run the call on tokio's blocking pool, never on an executor thread.
//!
//! `KEYWARD_CLIENT_SECRET`, when set, is used instead of the keyring and never stored: see
//! [`env_secret`] and [`crate::ctx::AppCtx`].

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::{Error, ErrorCode, Result};
use crate::secret::Secret;

/// The keyring service name of every Keyward entry.
pub const KEYRING_SERVICE: &str = "keyward";

/// The environment variable that overrides the keyring (headless scripts and CI).
pub const ENV_CLIENT_SECRET: &str = "KEYWARD_CLIENT_SECRET";

/// A place to keep one client secret per profile. Implementations block; call them from async
/// code only through the `*_blocking` helpers below.
pub trait SecretStore: Send + Sync {
    /// The secret of `profile`, or `None` if none is stored.
    fn get(&self, profile: &str) -> Result<Option<Secret>>;
    /// Stores (or replaces) the secret of `profile`.
    fn set(&self, profile: &str, secret: &Secret) -> Result<()>;
    /// Deletes the secret of `profile`; deleting a missing secret is not an error.
    fn delete(&self, profile: &str) -> Result<()>;
    /// A short name for messages ("OS keyring", "memory").
    fn describe(&self) -> &'static str;
}

/// The value of `KEYWARD_CLIENT_SECRET`, if set and not empty.
pub fn env_secret() -> Option<Secret> {
    std::env::var(ENV_CLIENT_SECRET)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map(|s| Secret::new(s.trim().to_string()))
}

/// [`SecretStore::get`] on the blocking pool.
pub async fn get_blocking(store: Arc<dyn SecretStore>, profile: &str) -> Result<Option<Secret>> {
    let profile = profile.to_string();
    tokio::task::spawn_blocking(move || store.get(&profile))
        .await
        .map_err(|e| Error::internal(format!("keyring task failed: {e}")))?
}

/// [`SecretStore::set`] on the blocking pool.
pub async fn set_blocking(
    store: Arc<dyn SecretStore>,
    profile: &str,
    secret: Secret,
) -> Result<()> {
    let profile = profile.to_string();
    tokio::task::spawn_blocking(move || store.set(&profile, &secret))
        .await
        .map_err(|e| Error::internal(format!("keyring task failed: {e}")))?
}

/// [`SecretStore::delete`] on the blocking pool.
pub async fn delete_blocking(store: Arc<dyn SecretStore>, profile: &str) -> Result<()> {
    let profile = profile.to_string();
    tokio::task::spawn_blocking(move || store.delete(&profile))
        .await
        .map_err(|e| Error::internal(format!("keyring task failed: {e}")))?
}

/// The OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows).
#[derive(Debug, Clone)]
pub struct KeyringStore {
    service: String,
}

impl Default for KeyringStore {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyringStore {
    pub fn new() -> Self {
        Self::with_service(KEYRING_SERVICE)
    }

    /// A store under another service name (tests use this to stay apart from real entries).
    pub fn with_service(service: &str) -> Self {
        KeyringStore {
            service: service.to_string(),
        }
    }

    fn entry(&self, profile: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(&self.service, profile).map_err(|e| keyring_error("open", profile, e))
    }
}

impl SecretStore for KeyringStore {
    fn get(&self, profile: &str) -> Result<Option<Secret>> {
        match self.entry(profile)?.get_password() {
            Ok(s) => Ok(Some(Secret::new(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error("read", profile, e)),
        }
    }

    fn set(&self, profile: &str, secret: &Secret) -> Result<()> {
        if secret.is_empty() {
            return Err(Error::invalid_input(
                "client secret",
                "must not be empty",
                "Paste the Client secret from Kinde > Settings > Applications > (your M2M app).",
            ));
        }
        self.entry(profile)?
            .set_password(secret.expose())
            .map_err(|e| keyring_error("store", profile, e))
    }

    fn delete(&self, profile: &str) -> Result<()> {
        match self.entry(profile)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error("delete", profile, e)),
        }
    }

    fn describe(&self) -> &'static str {
        "OS keyring"
    }
}

/// Maps a keyring error to `KeyringUnavailable`. keyring's messages never contain the secret
/// (the one variant that carries bytes, `BadEncoding`, is not printed).
fn keyring_error(what: &str, profile: &str, e: keyring::Error) -> Error {
    let detail = match &e {
        keyring::Error::PlatformFailure(inner) => format!("platform failure: {inner}"),
        keyring::Error::NoStorageAccess(inner) => format!("no access to the keyring: {inner}"),
        keyring::Error::BadEncoding(_) => "the stored secret is not valid UTF-8".to_string(),
        keyring::Error::TooLong(attr, max) => format!("{attr} is longer than {max}"),
        keyring::Error::Invalid(attr, why) => format!("{attr} is invalid: {why}"),
        keyring::Error::Ambiguous(_) => "several keyring entries match".to_string(),
        keyring::Error::NoEntry => "no entry".to_string(),
        _ => "unknown keyring error".to_string(),
    };
    Error::new(
        ErrorCode::KeyringUnavailable,
        format!(
            "could not {what} the client secret of profile {profile:?} in the OS keyring: {detail}"
        ),
        "Make sure an OS keyring is running and unlocked (on Linux: a Secret Service such as \
         gnome-keyring or KWallet in your desktop session). For headless use, set \
         KEYWARD_CLIENT_SECRET instead.",
    )
}

/// Secrets in memory, for tests and demo mode.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, Secret>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.lock().is_empty()
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, profile: &str) -> Result<Option<Secret>> {
        Ok(self.map.lock().get(profile).cloned())
    }

    fn set(&self, profile: &str, secret: &Secret) -> Result<()> {
        self.map.lock().insert(profile.to_string(), secret.clone());
        Ok(())
    }

    fn delete(&self, profile: &str) -> Result<()> {
        self.map.lock().remove(profile);
        Ok(())
    }

    fn describe(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_round_trips_off_the_executor() {
        let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
        assert!(get_blocking(store.clone(), "p").await.unwrap().is_none());
        set_blocking(store.clone(), "p", Secret::new("s3cret"))
            .await
            .unwrap();
        let got = get_blocking(store.clone(), "p").await.unwrap().unwrap();
        assert_eq!(got.expose(), "s3cret");
        delete_blocking(store.clone(), "p").await.unwrap();
        delete_blocking(store.clone(), "p").await.unwrap();
        assert!(get_blocking(store, "p").await.unwrap().is_none());
    }

    #[test]
    fn keyring_errors_map_to_keyring_unavailable_without_the_secret() {
        let e = keyring_error(
            "read",
            "prod",
            keyring::Error::BadEncoding(b"hunter2-secret".to_vec()),
        );
        assert_eq!(e.code, ErrorCode::KeyringUnavailable);
        assert!(!e.message.contains("hunter2"));
        assert!(e.hint.contains("KEYWARD_CLIENT_SECRET"));
    }
}
