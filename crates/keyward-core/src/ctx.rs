//! `AppCtx`: what every operation of the capabilities (`keys`, `sync`, `alerts`, ...) runs
//! against.
//!
//! It knows where files live ([`Paths`]), where secrets live (a [`SecretStore`]), which profile
//! is selected, and it builds (once, lazily) the Kinde [`Client`] and opens (once, lazily) the
//! profile's local [`Store`]. The CLI makes one per process; the app keeps one per selected
//! profile and makes a new one when the user switches.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::config::{ConfigFile, Environment, Paths, Profile, Settings};
use crate::error::{Error, ErrorCode, Result};
use crate::kinde::{Client, ClientConfig, ClientOptions};
use crate::secret::Secret;
use crate::secret::keyring::{MemoryStore, SecretStore};
use crate::store::{SqliteStore, Store, StoreOwner};

/// An extra trusted root certificate (PEM file path) for every Kinde connection.
pub const ENV_CA_CERT: &str = "KEYWARD_CA_CERT";

/// A team member's personal access token for this shell (CI, scripts, a machine without a
/// keyring); wins over the keyring on a team profile, and is never stored.
pub const ENV_TOKEN: &str = "KEYWARD_TOKEN";

/// The name of the in-memory profile of [`AppCtx::for_sandbox`].
pub const SANDBOX_PROFILE: &str = "demo";

pub struct AppCtx {
    paths: Paths,
    secrets: Arc<dyn SecretStore>,
    /// `--profile` / `KEYWARD_PROFILE` / the app's switcher. `None`: default or only profile.
    selected: Option<String>,
    /// A profile that is not in config.toml (sandbox / demo mode, or a server's).
    fixed: Option<Profile>,
    /// Made by [`AppCtx::for_server`]: the fixed profile is a real one, not a sandbox.
    server: bool,
    /// `KEYWARD_CLIENT_SECRET`, read once at construction; wins over the keyring.
    env_secret: Option<Secret>,
    /// `KEYWARD_TOKEN`, read once at construction; wins over the keyring on a team profile.
    env_token: Option<Secret>,
    client_options: ClientOptions,
    client: OnceCell<Client>,
    store: OnceCell<Arc<dyn Store>>,
    /// A team profile's client of its Keyward Server (`None`: a Kinde profile), made on first
    /// use.
    remote: OnceCell<Option<Arc<dyn std::any::Any + Send + Sync>>>,
}

impl std::fmt::Debug for AppCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCtx")
            .field("paths", &self.paths)
            .field("secrets", &self.secrets.describe())
            .field("selected", &self.selected)
            .field("fixed", &self.fixed)
            .field("env_secret", &self.env_secret.is_some())
            .finish_non_exhaustive()
    }
}

impl AppCtx {
    /// Config and data under `home` if given, else `$KEYWARD_HOME`, else the platform dirs.
    /// Reads `KEYWARD_CLIENT_SECRET` once, here.
    pub fn new(home: Option<PathBuf>, secrets: Arc<dyn SecretStore>) -> Result<AppCtx> {
        let client_options = ClientOptions {
            root_cert_pem: extra_root_cert()?,
            ..ClientOptions::default()
        };
        let paths = Paths::resolve(home)?;
        paths.secure();
        Ok(AppCtx {
            paths,
            secrets,
            selected: None,
            fixed: None,
            server: false,
            env_secret: crate::secret::keyring::env_secret(),
            env_token: std::env::var(ENV_TOKEN)
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .map(Secret::new),
            client_options,
            client: OnceCell::new(),
            store: OnceCell::new(),
            remote: OnceCell::new(),
        })
    }

    /// A context on a sandbox (demo mode, tests): one in-memory profile named `demo` with the
    /// given credentials; no keyring, nothing written to config.toml. Its store lives under
    /// `home` (or the platform data dir) like any profile's, so the demo database is separate.
    pub fn for_sandbox(
        base_url: &str,
        client_id: &str,
        secret: Secret,
        home: Option<PathBuf>,
    ) -> Result<AppCtx> {
        let profile = Profile::new(SANDBOX_PROFILE, base_url, client_id, Environment::Demo)?;
        let store = Arc::new(MemoryStore::new());
        store.set(SANDBOX_PROFILE, &secret)?;
        let mut ctx = AppCtx::new(home, store)?;
        ctx.env_secret = None;
        ctx.fixed = Some(profile);
        Ok(ctx)
    }

    /// A server's context (keyward-server): one fixed profile with its client secret held in
    /// memory (never written anywhere), over a store the server opened (PostgreSQL), so that
    /// sync, alerts, keys and audit run unchanged on it. Nothing is read from or written to
    /// config.toml; `home` only places the config and data directories (the platform ones when
    /// `None`). `KEYWARD_CLIENT_SECRET` is ignored: the server passes its secret here.
    pub fn for_server(
        profile: Profile,
        secret: Secret,
        store: Arc<dyn Store>,
        home: Option<PathBuf>,
    ) -> Result<AppCtx> {
        let secrets = Arc::new(MemoryStore::new());
        secrets.set(&profile.name, &secret)?;
        let mut ctx = AppCtx::new(home, secrets)?;
        ctx.env_secret = None;
        ctx.fixed = Some(profile);
        ctx.server = true;
        ctx.store = OnceCell::new_with(Some(store));
        Ok(ctx)
    }

    /// Selects a profile by name (checked when first used). Resets the cached client and store.
    pub fn with_profile(mut self, name: impl Into<String>) -> AppCtx {
        self.selected = Some(name.into());
        self.client = OnceCell::new();
        self.store = OnceCell::new();
        self.remote = OnceCell::new();
        self
    }

    /// Client tuning (tests: short retries, a sandbox's self-signed certificate).
    pub fn with_client_options(mut self, opts: ClientOptions) -> AppCtx {
        self.client_options = opts;
        self.client = OnceCell::new();
        self.remote = OnceCell::new();
        self
    }

    /// Overrides (or clears) the `KEYWARD_CLIENT_SECRET` value read at construction.
    pub fn with_env_secret(mut self, secret: Option<Secret>) -> AppCtx {
        self.env_secret = secret;
        self.client = OnceCell::new();
        self
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn secrets(&self) -> Arc<dyn SecretStore> {
        self.secrets.clone()
    }

    pub fn selected_name(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    /// True in sandbox / demo mode.
    pub fn is_sandbox(&self) -> bool {
        self.fixed.is_some() && !self.server
    }

    /// True when `KEYWARD_CLIENT_SECRET` is in use.
    pub fn has_env_secret(&self) -> bool {
        self.env_secret.is_some()
    }

    /// config.toml, read on the blocking pool (missing file = empty config).
    pub async fn load_config(&self) -> Result<ConfigFile> {
        let paths = self.paths.clone();
        blocking(move || ConfigFile::load(&paths)).await
    }

    /// Writes config.toml atomically on the blocking pool.
    pub async fn save_config(&self, cfg: ConfigFile) -> Result<()> {
        let paths = self.paths.clone();
        blocking(move || cfg.save(&paths)).await
    }

    pub async fn settings(&self) -> Result<Settings> {
        Ok(self.load_config().await?.settings)
    }

    /// The profile operations run against: the sandbox's, or `--profile`, then the default,
    /// then the only one.
    pub async fn profile(&self) -> Result<Profile> {
        if let Some(p) = &self.fixed
            && self.selected.as_deref().is_none_or(|s| s == p.name)
        {
            return Ok(p.clone());
        }
        let cfg = self.load_config().await?;
        cfg.select(self.selected.as_deref()).cloned()
    }

    /// The client secret of `profile`: `KEYWARD_CLIENT_SECRET` if set, else the secret store.
    pub async fn client_secret(&self, profile: &str) -> Result<Secret> {
        if let Some(s) = &self.env_secret
            && self.fixed.is_none()
        {
            return Ok(s.clone());
        }
        match crate::secret::keyring::get_blocking(self.secrets.clone(), profile).await? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(Error::new(
                ErrorCode::SecretMissing,
                format!(
                    "no client secret for profile {profile:?} in the {}",
                    self.secrets.describe()
                ),
                format!(
                    "Store it with `keyward profile add {profile} --domain ... --client-id ... \
                     --client-secret-stdin` (after `keyward profile remove {profile}`), or set \
                     KEYWARD_CLIENT_SECRET for this shell."
                ),
            )),
        }
    }

    /// The Kinde client of the selected profile, built on first use and then shared.
    pub async fn client(&self) -> Result<Client> {
        self.client
            .get_or_try_init(|| async {
                let profile = self.profile().await?;
                if let Some(server) = &profile.server {
                    return Err(Error::new(
                        ErrorCode::InvalidInput,
                        format!(
                            "profile {:?} is a team profile: Kinde is reached by its Keyward \
                             Server ({server}), not from this machine",
                            profile.name
                        ),
                        "Use the operations (keys, alerts, audit, …): they run on the server.",
                    ));
                }
                let secret = self.client_secret(&profile.name).await?;
                let cfg = ClientConfig::new(profile.base_url()?, profile.client_id.clone(), secret);
                Client::with_options(cfg, self.client_options.clone())
            })
            .await
            .cloned()
    }

    /// True when the selected profile is a team profile (on a Keyward Server).
    pub async fn is_team(&self) -> Result<bool> {
        Ok(self.profile().await?.is_team())
    }

    /// A team profile's server and the member's token from the secret store (`None` on a
    /// Kinde profile or a sandbox).
    pub async fn team_link(&self) -> Result<Option<(String, Secret)>> {
        let profile = self.profile().await?;
        let Some(server) = profile.server.clone() else {
            return Ok(None);
        };
        if let Some(t) = &self.env_token {
            return Ok(Some((server, t.clone())));
        }
        match crate::secret::keyring::get_blocking(self.secrets.clone(), &profile.name).await? {
            Some(t) if !t.is_empty() => Ok(Some((server, t))),
            _ => Err(Error::new(
                ErrorCode::SecretMissing,
                format!(
                    "no personal access token for team profile {:?} in the {}",
                    profile.name,
                    self.secrets.describe()
                ),
                format!(
                    "Add it again: `keyward profile remove {0}`, then pipe the kwp_… token to \
                     `keyward profile add {0} --server {server} --token-stdin`.",
                    profile.name
                ),
            )),
        }
    }

    /// `KEYWARD_TOKEN`, if set (never stored).
    pub fn env_token(&self) -> Option<&Secret> {
        self.env_token.as_ref()
    }

    /// Where `crate::remote` keeps the team profile's client once built (the context may not
    /// name it: it sits below the operations in the layers).
    pub fn team_slot(&self) -> &OnceCell<Option<Arc<dyn std::any::Any + Send + Sync>>> {
        &self.remote
    }

    pub fn client_options(&self) -> &ClientOptions {
        &self.client_options
    }

    /// The database path of the selected profile.
    pub async fn db_path(&self) -> Result<PathBuf> {
        let profile = self.profile().await?;
        Ok(self.store_path(&profile))
    }

    /// A sandbox's database lives apart from every profile's (`data/sandbox/`), so that demo
    /// data never mixes with a real profile that happens to be named `demo`.
    fn store_path(&self, profile: &Profile) -> PathBuf {
        if self.fixed.as_ref() == Some(profile) {
            self.paths
                .data_dir
                .join("sandbox")
                .join(crate::store::DB_FILE)
        } else {
            SqliteStore::path_for(&self.paths.data_dir, &profile.name)
        }
    }

    /// The local store of the selected profile, opened (and migrated) on first use on the
    /// blocking pool, then shared. All `Store` methods block: call them via [`blocking`].
    ///
    /// A profile's store records the business it belongs to (its Kinde domain, or a team
    /// profile's server): one recorded for another business (config.toml edited by hand, or a
    /// name reused) is archived (`data/archive/<profile>-<time>/`) and a fresh one started, so
    /// two businesses never share keys, alerts or history. A sandbox's store is not bound (its
    /// address changes at every start).
    pub async fn store(&self) -> Result<Arc<dyn Store>> {
        self.store
            .get_or_try_init(|| async {
                let profile = self.profile().await?;
                let path = self.store_path(&profile);
                let owner = (self.fixed.as_ref() != Some(&profile)).then(|| owner_of(&profile));
                let data_dir = self.paths.data_dir.clone();
                let store =
                    blocking(move || open_bound(&data_dir, &path, &profile.name, owner)).await?;
                Ok(Arc::new(store) as Arc<dyn Store>)
            })
            .await
            .cloned()
    }
}

/// The business a profile's store belongs to.
pub fn owner_of(profile: &Profile) -> StoreOwner {
    match &profile.server {
        Some(server) => StoreOwner {
            domain: String::new(),
            server: Some(server.clone()),
        },
        None => StoreOwner {
            domain: profile.domain.clone(),
            server: None,
        },
    }
}

/// Opens the store of profile `name` at `path` for `owner` (`None`: not bound). A store
/// recorded for another business is archived and a fresh one started; one with no record gets
/// `owner` (best effort: a store that cannot be written, on a full disk, still answers reads).
fn open_bound(
    data_dir: &std::path::Path,
    path: &std::path::Path,
    name: &str,
    owner: Option<StoreOwner>,
) -> Result<SqliteStore> {
    let store = SqliteStore::open(path, name)?;
    let Some(owner) = owner else {
        return Ok(store);
    };
    match store.owner()? {
        Some(o) if o == owner => Ok(store),
        None => {
            if let Err(e) = store.bind_owner(&owner, chrono::Utc::now()) {
                tracing::warn!(code = %e.code, "could not record the business of profile {name:?}'s store: {}", e.message);
            }
            Ok(store)
        }
        Some(other) => {
            drop(store);
            let archived = SqliteStore::archive(data_dir, name)?;
            tracing::warn!(
                "profile {name:?} is now {}, but its local data was {}'s: moved to {} and \
                 started afresh",
                owner.describe(),
                other.describe(),
                archived.as_deref().unwrap_or(path).display()
            );
            let store = SqliteStore::open(path, name)?;
            store.bind_owner(&owner, chrono::Utc::now())?;
            Ok(store)
        }
    }
}

/// The largest `KEYWARD_CA_CERT` file read: a PEM root certificate is 1-3 KB, a whole bundle
/// of public roots about 200 KB.
pub const MAX_CA_CERT_BYTES: u64 = 1 << 20;

/// `KEYWARD_CA_CERT`: a PEM file with one more trusted root (a TLS-inspecting proxy, or a
/// sandbox started with `--tls`). Read only if it is a regular file of at most
/// [`MAX_CA_CERT_BYTES`]: a FIFO (which would block for ever), a device such as `/dev/zero`
/// (which never ends) or a huge file is refused at once.
fn extra_root_cert() -> Result<Option<String>> {
    let Some(path) = std::env::var_os(ENV_CA_CERT).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    read_root_cert(std::path::Path::new(&path)).map(Some)
}

/// Reads the PEM file of `KEYWARD_CA_CERT` at `path` (see [`extra_root_cert`]): a regular
/// file of at most [`MAX_CA_CERT_BYTES`] holding a certificate, or a clear error at once.
pub fn read_root_cert(path: &std::path::Path) -> Result<String> {
    use std::io::Read;
    let shown = path.display().to_string();
    let io_error = |e: std::io::Error| {
        Error::new(
            ErrorCode::Io,
            format!("cannot read {ENV_CA_CERT} ({shown}): {e}"),
            format!("Point {ENV_CA_CERT} at a PEM certificate file, or unset it."),
        )
    };
    let not_a_file = |what: String| {
        Error::new(
            ErrorCode::InvalidInput,
            format!("{ENV_CA_CERT} ({shown}) {what}"),
            format!(
                "Point {ENV_CA_CERT} at a regular PEM certificate file of at most {} KiB \
                 (-----BEGIN CERTIFICATE-----), or unset it.",
                MAX_CA_CERT_BYTES >> 10
            ),
        )
    };
    // The path's type first (this never opens it: a FIFO would block the open itself).
    let meta = std::fs::metadata(path).map_err(io_error)?;
    if !meta.is_file() {
        return Err(not_a_file(
            "is not a regular file (a directory, a pipe or a device)".into(),
        ));
    }
    if meta.len() > MAX_CA_CERT_BYTES {
        return Err(not_a_file(format!(
            "is {} bytes, more than any certificate file ({MAX_CA_CERT_BYTES} at most)",
            meta.len()
        )));
    }
    // Opened without blocking, checked again on the handle (the path may have been swapped),
    // and read no further than the cap.
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.custom_flags(libc_nonblock());
    }
    let file = open.open(path).map_err(io_error)?;
    let meta = file.metadata().map_err(io_error)?;
    if !meta.is_file() {
        return Err(not_a_file(
            "is not a regular file (a directory, a pipe or a device)".into(),
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CA_CERT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > MAX_CA_CERT_BYTES {
        return Err(not_a_file(format!(
            "is larger than any certificate file ({MAX_CA_CERT_BYTES} bytes at most)"
        )));
    }
    let pem = String::from_utf8(bytes).map_err(|_| not_a_file("is not text (PEM)".into()))?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("{ENV_CA_CERT} ({shown}) is not a PEM certificate"),
            format!("Point {ENV_CA_CERT} at a file that starts with -----BEGIN CERTIFICATE-----."),
        ));
    }
    Ok(pem)
}

/// `O_NONBLOCK`: opening a FIFO for reading returns at once instead of waiting for a writer.
#[cfg(unix)]
fn libc_nonblock() -> i32 {
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    {
        0x0004
    }
    #[cfg(not(any(target_os = "macos", target_os = "ios", target_os = "freebsd")))]
    {
        0o4000
    }
}

/// Runs blocking work (SQLite, files, keyring) on tokio's blocking pool.
pub async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("background task failed: {e}")))?
}
