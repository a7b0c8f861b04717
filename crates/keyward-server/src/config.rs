//! The server's configuration: a TOML file (every key in `config.example.toml`), with the
//! essentials overridable from the environment (`KEYWARD_SERVER_*`), as servers conventionally
//! allow. Everything is checked here, before anything runs: a bad value is an
//! `{code, message, hint}` naming the key, never a panic. Secrets (the Kinde client secret,
//! webhook signing secrets, the Slack URL, the database URL's password) are held in
//! [`Secret`]s and never printed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use keyward_core::config::{Environment, Profile};
use keyward_core::error::{Error, ErrorCode, Result};
use keyward_core::model::alert::{AlertKind, Severity};
use keyward_core::secret::Secret;
use serde::Deserialize;

/// Where `--config` points when it is not given.
pub const DEFAULT_PATH: &str = "/etc/keyward-server/config.toml";
/// The address `serve` listens on when neither the file nor the environment says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8650";
/// Seconds between two syncs by default.
pub const DEFAULT_SYNC_INTERVAL: u64 = 300;
/// The file systemd's `LoadCredential=kinde-client-secret:...` puts in `$CREDENTIALS_DIRECTORY`.
pub const CREDENTIAL_NAME: &str = "kinde-client-secret";

pub const ENV_DATABASE_URL: &str = "KEYWARD_SERVER_DATABASE_URL";
pub const ENV_LISTEN: &str = "KEYWARD_SERVER_LISTEN";
pub const ENV_KINDE_DOMAIN: &str = "KEYWARD_SERVER_KINDE_DOMAIN";
pub const ENV_KINDE_CLIENT_ID: &str = "KEYWARD_SERVER_KINDE_CLIENT_ID";
pub const ENV_KINDE_CLIENT_SECRET: &str = "KEYWARD_SERVER_KINDE_CLIENT_SECRET";
pub const ENV_KINDE_CLIENT_SECRET_FILE: &str = "KEYWARD_SERVER_KINDE_CLIENT_SECRET_FILE";
pub const ENV_SYNC_INTERVAL: &str = "KEYWARD_SERVER_SYNC_INTERVAL";
pub const ENV_WEBHOOK_URL: &str = "KEYWARD_SERVER_WEBHOOK_URL";
pub const ENV_WEBHOOK_SECRET: &str = "KEYWARD_SERVER_WEBHOOK_SECRET";
pub const ENV_SLACK_WEBHOOK_URL: &str = "KEYWARD_SERVER_SLACK_WEBHOOK_URL";

// ---------------------------------------------------------------- the file, as written

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<Secret>,
    listen: Option<String>,
    public_url: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    allow_plain_http: Option<bool>,
    profile: Option<String>,
    sync_interval_secs: Option<u64>,
    #[serde(default)]
    kinde: KindeFile,
    #[serde(default)]
    lease: LeaseFile,
    #[serde(default)]
    delivery: DeliveryFile,
    #[serde(default)]
    webhook: Vec<WebhookFile>,
    #[serde(default)]
    slack: Vec<SlackFile>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct KindeFile {
    domain: Option<String>,
    client_id: Option<String>,
    client_secret_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LeaseFile {
    ttl_secs: Option<u64>,
    renew_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DeliveryFile {
    retry_base_ms: Option<u64>,
    give_up_after_hours: Option<u64>,
    timeout_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookFile {
    name: Option<String>,
    url: String,
    secret: Option<Secret>,
    secret_file: Option<PathBuf>,
    previous_secret: Option<Secret>,
    min_severity: Option<String>,
    kinds: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlackFile {
    name: Option<String>,
    url: Option<Secret>,
    url_file: Option<PathBuf>,
    min_severity: Option<String>,
    kinds: Option<Vec<String>>,
}

// ---------------------------------------------------------------- the configuration, checked

/// The checked configuration `serve`, `migrate` and `check` run with.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the file was read from (`None`: the default path did not exist; environment only).
    pub source: Option<PathBuf>,
    pub database_url: DatabaseUrl,
    pub listen: SocketAddr,
    /// Where an alert's "open in Keyward" link points (`<public_url>/alerts/<id>`).
    pub public_url: Option<url::Url>,
    /// Serve HTTPS with this certificate chain and private key (PEM files).
    pub tls: Option<TlsFiles>,
    /// Serve plain HTTP on an address other than loopback (behind a proxy that terminates TLS).
    pub allow_plain_http: bool,
    pub kinde: Option<KindeConfig>,
    pub sync_interval: Duration,
    pub lease: LeaseConfig,
    pub delivery: DeliveryConfig,
    pub destinations: Vec<Destination>,
}

/// The certificate chain and private key `serve` answers HTTPS with (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The database URL: its password (if any) stays out of `Debug` and of every message.
#[derive(Clone)]
pub struct DatabaseUrl(Secret);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
    /// The URL with its password replaced by `***` (for messages).
    pub fn redacted(&self) -> String {
        match url::Url::parse(self.0.expose()) {
            Ok(mut u) => {
                if u.password().is_some() {
                    let _ = u.set_password(Some("***"));
                }
                u.to_string()
            }
            Err(_) => "(unparsable URL)".into(),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

/// The Kinde business the server watches.
#[derive(Debug, Clone)]
pub struct KindeConfig {
    /// The profile as keyward-core runs it (name, normalized domain, client id).
    pub profile: Profile,
    pub client_secret: Secret,
}

#[derive(Debug, Clone, Copy)]
pub struct LeaseConfig {
    /// A leader that has not renewed for this long loses the lease.
    pub ttl: Duration,
    /// How often the leader renews (and a follower tries to take over).
    pub renew: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct DeliveryConfig {
    /// The first retry's delay; doubled per attempt (plus jitter), at most an hour.
    pub retry_base: Duration,
    /// A delivery still failing this long after it was queued is given up.
    pub give_up_after: Duration,
    /// One attempt's timeout.
    pub timeout: Duration,
}

/// Where alerts go.
#[derive(Debug, Clone)]
pub struct Destination {
    /// Unique among the destinations; keys the outbox (an alert is queued once per name).
    pub name: String,
    pub kind: DestinationKind,
    pub filter: Filter,
}

#[derive(Debug, Clone)]
pub enum DestinationKind {
    /// A Standard Webhooks endpoint: `secret` signs; `previous` signs too while it is rotated.
    Webhook {
        url: url::Url,
        secret: WebhookSecret,
        previous: Option<WebhookSecret>,
    },
    /// A Slack incoming webhook (the URL is the credential).
    Slack { url: Secret },
}

impl DestinationKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            DestinationKind::Webhook { .. } => "webhook",
            DestinationKind::Slack { .. } => "slack",
        }
    }
}

/// Which alerts a destination receives.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub min_severity: Severity,
    /// Empty: every kind.
    pub kinds: Vec<AlertKind>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            min_severity: Severity::Info,
            kinds: Vec::new(),
        }
    }
}

impl Filter {
    pub fn accepts(&self, kind: AlertKind, severity: Severity) -> bool {
        severity >= self.min_severity && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }
}

/// A Standard Webhooks signing secret: `whsec_` + base64 of the key bytes.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>`; `field` names the setting in an error.
    pub fn parse(field: &str, s: &Secret) -> Result<WebhookSecret> {
        let hint = "Give the signing secret as `whsec_` followed by base64 (at least 24 bytes), \
                    e.g. from `echo whsec_$(head -c 32 /dev/urandom | base64)`.";
        let raw = s.expose().trim();
        let Some(b64) = raw.strip_prefix("whsec_") else {
            return Err(Error::invalid_input(
                field,
                "does not start with `whsec_`",
                hint,
            ));
        };
        let key = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| Error::invalid_input(field, "is not valid base64 after `whsec_`", hint))?;
        if key.len() < 24 {
            return Err(Error::invalid_input(
                field,
                format!("is {} bytes long; use at least 24", key.len()),
                hint,
            ));
        }
        Ok(WebhookSecret { key })
    }

    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

// ---------------------------------------------------------------- loading

/// Where the environment comes from (the process's, or a map in tests).
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Env for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::HashMap::get(self, name)
            .cloned()
            .filter(|v| !v.is_empty())
    }
}

/// What the configuration is needed for: `migrate` needs only the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Database,
    Everything,
}

fn config_error(message: impl Into<String>, hint: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidInput, message, hint)
}

/// Reads and checks the configuration: the file at `path` (`explicit`: given with `--config`,
/// so it must exist; else the default path, which may be absent), then the environment.
pub fn load(path: &Path, explicit: bool, env: &dyn Env, need: Need) -> Result<ServerConfig> {
    let (file, source) = match std::fs::read_to_string(path) {
        Ok(text) => (parse_file(&text, path)?, Some(path.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            (FileConfig::default(), None)
        }
        Err(e) => {
            return Err(Error::new(
                ErrorCode::Io,
                format!("cannot read the configuration {}: {e}", path.display()),
                "Check the path given to --config and that the keyward-server user may read it.",
            ));
        }
    };
    resolve(file, source, env, need)
}

/// Checks a configuration file's text (no environment; for tests and `check`).
fn parse_file(text: &str, path: &Path) -> Result<FileConfig> {
    toml::from_str(text).map_err(|e| {
        let what = e.message().to_string();
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        config_error(
            format!("{}{at}: {what}", path.display()),
            "Every key is documented in config.example.toml (installed in \
             /usr/share/doc/keyward-server/); fix or remove the key named.",
        )
    })
}

fn resolve(
    file: FileConfig,
    source: Option<PathBuf>,
    env: &dyn Env,
    need: Need,
) -> Result<ServerConfig> {
    // The database.
    let database_url = match env.get(ENV_DATABASE_URL) {
        Some(u) => Secret::new(u),
        None => file.database_url.ok_or_else(|| {
            config_error(
                "no database URL",
                format!(
                    "Set database_url in the configuration or {ENV_DATABASE_URL}, e.g. \
                     postgres://keyward@localhost/keyward."
                ),
            )
        })?,
    };
    check_database_url(&database_url)?;
    let database_url = DatabaseUrl(database_url);

    let listen_text = env
        .get(ENV_LISTEN)
        .or(file.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listen: SocketAddr = listen_text.parse().map_err(|_| {
        Error::invalid_input(
            "listen",
            format!("{listen_text:?} is not an address and port"),
            format!("Give an IP address and port such as {DEFAULT_LISTEN} or 0.0.0.0:8650."),
        )
    })?;

    let public_url = match file.public_url {
        None => None,
        Some(p) => {
            let u = url::Url::parse(&p).map_err(|e| {
                Error::invalid_input(
                    "public_url",
                    format!("{p:?} is not a URL ({e})"),
                    "Give the address people open Keyward at, e.g. https://keyward.example.com.",
                )
            })?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(Error::invalid_input(
                    "public_url",
                    "must be an http or https URL",
                    "Give the address people open Keyward at, e.g. https://keyward.example.com.",
                ));
            }
            Some(u)
        }
    };

    let sync_interval = match env.get(ENV_SYNC_INTERVAL) {
        Some(s) => s.trim().parse::<u64>().map_err(|_| {
            Error::invalid_input(
                ENV_SYNC_INTERVAL,
                format!("{s:?} is not a whole number of seconds"),
                "Give seconds between syncs, e.g. 300.",
            )
        })?,
        None => file.sync_interval_secs.unwrap_or(DEFAULT_SYNC_INTERVAL),
    };
    if !(1..=86_400).contains(&sync_interval) {
        return Err(Error::invalid_input(
            "sync interval",
            format!("{sync_interval} s is outside 1..=86400"),
            "Give seconds between syncs from 1 to 86400 (default 300).",
        ));
    }

    let profile_name = file.profile.unwrap_or_else(|| "server".to_string());
    keyward_core::config::validate_profile_name(&profile_name)?;

    let kinde = resolve_kinde(&file.kinde, &profile_name, env, need)?;

    let lease = LeaseConfig {
        ttl: Duration::from_secs(file.lease.ttl_secs.unwrap_or(15)),
        renew: Duration::from_secs(file.lease.renew_secs.unwrap_or(5)),
    };
    if lease.ttl.as_secs() < 2 || lease.renew.is_zero() || lease.renew * 2 > lease.ttl {
        return Err(Error::invalid_input(
            "lease",
            format!(
                "ttl_secs {} and renew_secs {} do not fit",
                lease.ttl.as_secs(),
                lease.renew.as_secs()
            ),
            "Renew at most every half TTL: e.g. ttl_secs = 15, renew_secs = 5.",
        ));
    }

    let tls = match (file.tls_cert, file.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::invalid_input(
                "tls_cert/tls_key",
                "only one of the two is set",
                "Set both tls_cert (the certificate chain, PEM) and tls_key (its private key, \
                 PEM), or neither to serve plain HTTP on loopback behind a reverse proxy.",
            ));
        }
    };
    let allow_plain_http = file.allow_plain_http.unwrap_or(false);

    let delivery = DeliveryConfig {
        retry_base: Duration::from_millis(file.delivery.retry_base_ms.unwrap_or(5_000).max(1)),
        give_up_after: Duration::from_secs(
            3600 * file
                .delivery
                .give_up_after_hours
                .unwrap_or(24)
                .clamp(1, 24 * 30),
        ),
        timeout: Duration::from_secs(file.delivery.timeout_secs.unwrap_or(10).clamp(1, 120)),
    };

    let destinations = resolve_destinations(file.webhook, file.slack, env)?;

    Ok(ServerConfig {
        source,
        database_url,
        listen,
        public_url,
        tls,
        allow_plain_http,
        kinde,
        sync_interval: Duration::from_secs(sync_interval),
        lease,
        delivery,
        destinations,
    })
}

fn check_database_url(u: &Secret) -> Result<()> {
    let hint = "Give a PostgreSQL URL such as postgres://keyward:PASSWORD@localhost:5432/keyward.";
    let parsed = url::Url::parse(u.expose()).map_err(|_| {
        Error::invalid_input("database URL", "is not a URL (its text is not shown)", hint)
    })?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(Error::invalid_input(
            "database URL",
            format!("has the scheme {:?}, not postgres://", parsed.scheme()),
            hint,
        ));
    }
    Ok(())
}

fn resolve_kinde(
    file: &KindeFile,
    profile_name: &str,
    env: &dyn Env,
    need: Need,
) -> Result<Option<KindeConfig>> {
    // `migrate` needs no Kinde (nor its secret, which an operator's shell may not hold).
    if need == Need::Database {
        return Ok(None);
    }
    let domain = env.get(ENV_KINDE_DOMAIN).or_else(|| file.domain.clone());
    let client_id = env
        .get(ENV_KINDE_CLIENT_ID)
        .or_else(|| file.client_id.clone());
    let domain = domain.ok_or_else(|| {
        config_error(
            "no Kinde domain",
            format!(
                "Set [kinde] domain in the configuration or {ENV_KINDE_DOMAIN} (mybiz.kinde.com)."
            ),
        )
    })?;
    let client_id = client_id.ok_or_else(|| {
        config_error(
            "no Kinde client id",
            format!(
                "Set [kinde] client_id in the configuration or {ENV_KINDE_CLIENT_ID} (Kinde > \
                 Settings > Applications > your M2M app)."
            ),
        )
    })?;
    // The same checks as a desktop profile (keyward-core's config::validate).
    let profile = Profile::new(profile_name, &domain, &client_id, Environment::Production)?;
    let client_secret = client_secret(file, env)?;
    Ok(Some(KindeConfig {
        profile,
        client_secret,
    }))
}

/// The client secret: the environment, then a file named by the environment or the
/// configuration, then systemd's credential.
fn client_secret(file: &KindeFile, env: &dyn Env) -> Result<Secret> {
    if let Some(s) = env.get(ENV_KINDE_CLIENT_SECRET) {
        return non_empty_secret(Secret::new(s.trim()), ENV_KINDE_CLIENT_SECRET);
    }
    let from_file = env
        .get(ENV_KINDE_CLIENT_SECRET_FILE)
        .map(PathBuf::from)
        .or_else(|| file.client_secret_file.clone());
    if let Some(p) = from_file {
        return read_secret_file(&p, "Kinde client secret file");
    }
    if let Some(dir) = env.get("CREDENTIALS_DIRECTORY") {
        let p = Path::new(&dir).join(CREDENTIAL_NAME);
        if p.exists() {
            return read_secret_file(&p, "Kinde client secret credential");
        }
    }
    Err(Error::new(
        ErrorCode::SecretMissing,
        "no Kinde client secret",
        format!(
            "Set {ENV_KINDE_CLIENT_SECRET} or {ENV_KINDE_CLIENT_SECRET_FILE}, or [kinde] \
             client_secret_file, or (under systemd) LoadCredential={CREDENTIAL_NAME}:<file>."
        ),
    ))
}

fn non_empty_secret(s: Secret, what: &str) -> Result<Secret> {
    if s.is_empty() {
        return Err(Error::new(
            ErrorCode::SecretMissing,
            format!("{what} is empty"),
            "Put the M2M application's client secret there.",
        ));
    }
    Ok(s)
}

fn read_secret_file(p: &Path, what: &str) -> Result<Secret> {
    let text = std::fs::read_to_string(p).map_err(|e| {
        Error::new(
            ErrorCode::Io,
            format!("cannot read the {what} {}: {e}", p.display()),
            "Check the path and that the keyward-server user may read it (mode 0600 or 0640).",
        )
    })?;
    non_empty_secret(
        Secret::new(text.trim()),
        &format!("the {what} {}", p.display()),
    )
}

fn parse_filter(
    field: &str,
    min_severity: Option<String>,
    kinds: Option<Vec<String>>,
) -> Result<Filter> {
    let min_severity = match min_severity {
        None => Severity::Info,
        Some(s) => {
            let t = s.trim().to_ascii_lowercase();
            let sev = Severity::parse(&t);
            if sev.as_str() != t {
                return Err(Error::invalid_input(
                    &format!("{field}.min_severity"),
                    format!("{s:?} is not a severity"),
                    "Use one of info, low, medium, high, critical.",
                ));
            }
            sev
        }
    };
    let kinds = kinds
        .unwrap_or_default()
        .iter()
        .map(|k| AlertKind::parse(k))
        .collect::<Result<Vec<_>>>()?;
    Ok(Filter {
        min_severity,
        kinds,
    })
}

fn http_url(field: &str, s: &str, secret_url: bool) -> Result<url::Url> {
    let shown = if secret_url {
        "its text is not shown".to_string()
    } else {
        format!("{s:?}")
    };
    let u = url::Url::parse(s.trim()).map_err(|_| {
        Error::invalid_input(
            field,
            format!("is not a URL ({shown})"),
            "Give an https:// URL (http:// only for a receiver on this machine).",
        )
    })?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(Error::invalid_input(
            field,
            format!("must be http or https ({shown})"),
            "Give an https:// URL.",
        ));
    }
    Ok(u)
}

fn resolve_destinations(
    webhooks: Vec<WebhookFile>,
    slacks: Vec<SlackFile>,
    env: &dyn Env,
) -> Result<Vec<Destination>> {
    let mut out = Vec::new();
    for (i, w) in webhooks.into_iter().enumerate() {
        let name = w.name.unwrap_or_else(|| format!("webhook-{}", i + 1));
        let field = format!("webhook {name:?}");
        let url = http_url(&format!("{field} url"), &w.url, false)?;
        let secret = match (w.secret, w.secret_file) {
            (Some(s), None) => s,
            (None, Some(p)) => read_secret_file(&p, &format!("{field} secret file"))?,
            (Some(_), Some(_)) => {
                return Err(Error::invalid_input(
                    &field,
                    "has both secret and secret_file",
                    "Keep one of them.",
                ));
            }
            (None, None) => {
                return Err(Error::invalid_input(
                    &field,
                    "has no signing secret",
                    "Set secret = \"whsec_...\" or secret_file; a receiver checks every \
                     delivery's signature with it.",
                ));
            }
        };
        let secret = WebhookSecret::parse(&format!("{field} secret"), &secret)?;
        let previous = w
            .previous_secret
            .map(|p| WebhookSecret::parse(&format!("{field} previous_secret"), &p))
            .transpose()?;
        out.push(Destination {
            name,
            kind: DestinationKind::Webhook {
                url,
                secret,
                previous,
            },
            filter: parse_filter(&field, w.min_severity, w.kinds)?,
        });
    }
    for (i, s) in slacks.into_iter().enumerate() {
        let name = s.name.unwrap_or_else(|| format!("slack-{}", i + 1));
        let field = format!("slack {name:?}");
        let url = match (s.url, s.url_file) {
            (Some(u), None) => u,
            (None, Some(p)) => read_secret_file(&p, &format!("{field} url file"))?,
            _ => {
                return Err(Error::invalid_input(
                    &field,
                    "needs exactly one of url and url_file",
                    "Give the incoming webhook URL Slack made (https://hooks.slack.com/...).",
                ));
            }
        };
        http_url(&format!("{field} url"), url.expose(), true)?;
        out.push(Destination {
            name,
            kind: DestinationKind::Slack { url },
            filter: parse_filter(&field, s.min_severity, s.kinds)?,
        });
    }
    // The environment's destinations come after the file's.
    if let Some(u) = env.get(ENV_WEBHOOK_URL) {
        let url = http_url(ENV_WEBHOOK_URL, &u, false)?;
        let secret = env.get(ENV_WEBHOOK_SECRET).ok_or_else(|| {
            Error::invalid_input(
                ENV_WEBHOOK_SECRET,
                format!("is not set, but {ENV_WEBHOOK_URL} is"),
                "Set the webhook's signing secret (whsec_...) too.",
            )
        })?;
        out.push(Destination {
            name: "webhook-env".into(),
            kind: DestinationKind::Webhook {
                url,
                secret: WebhookSecret::parse(ENV_WEBHOOK_SECRET, &Secret::new(secret))?,
                previous: None,
            },
            filter: Filter::default(),
        });
    } else if env.get(ENV_WEBHOOK_SECRET).is_some() {
        return Err(Error::invalid_input(
            ENV_WEBHOOK_URL,
            format!("is not set, but {ENV_WEBHOOK_SECRET} is"),
            "Set the webhook's URL too, or unset the secret.",
        ));
    }
    if let Some(u) = env.get(ENV_SLACK_WEBHOOK_URL) {
        http_url(ENV_SLACK_WEBHOOK_URL, &u, true)?;
        out.push(Destination {
            name: "slack-env".into(),
            kind: DestinationKind::Slack {
                url: Secret::new(u),
            },
            filter: Filter::default(),
        });
    }
    let mut seen = std::collections::HashSet::new();
    for d in &out {
        if !seen.insert(d.name.clone()) {
            return Err(Error::invalid_input(
                "destination name",
                format!("{:?} is used twice", d.name),
                "Give each [[webhook]] and [[slack]] its own name: it keys the delivery log.",
            ));
        }
        if d.name.is_empty() || d.name.len() > 64 {
            return Err(Error::invalid_input(
                "destination name",
                format!("{:?} must be 1-64 characters", d.name),
                "Give a short name such as `ops-webhook`.",
            ));
        }
    }
    Ok(out)
}

/// Parses a configuration's text with an environment (tests; `check --json` reports it).
pub fn from_str(text: &str, env: &dyn Env, need: Need) -> Result<ServerConfig> {
    let file = parse_file(text, Path::new("config.toml"))?;
    resolve(file, None, env, need)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn base_env() -> HashMap<String, String> {
        env(&[
            (ENV_DATABASE_URL, "postgres://keyward:pw@localhost/keyward"),
            (ENV_KINDE_DOMAIN, "mybiz.kinde.com"),
            (ENV_KINDE_CLIENT_ID, "0123456789abcdef0123456789abcdef"),
            (ENV_KINDE_CLIENT_SECRET, "s3cr3t-value"),
        ])
    }

    #[test]
    fn the_environment_alone_is_enough_and_defaults_apply() {
        let c = from_str("", &base_env(), Need::Everything).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.sync_interval, Duration::from_secs(300));
        let k = c.kinde.as_ref().unwrap();
        assert_eq!(k.profile.domain, "https://mybiz.kinde.com");
        assert_eq!(k.client_secret.expose(), "s3cr3t-value");
        assert!(c.destinations.is_empty());
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
        assert!(!dbg.contains(":pw@"), "{dbg}");
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let text = r#"
            database_url = "postgres://file@localhost/file"
            listen = "127.0.0.1:9000"
            sync_interval_secs = 60
            [kinde]
            domain = "file.kinde.com"
            client_id = "fileclient"
        "#;
        let mut e = base_env();
        e.insert(ENV_SYNC_INTERVAL.into(), "42".into());
        e.insert(ENV_LISTEN.into(), "0.0.0.0:8650".into());
        let c = from_str(text, &e, Need::Everything).unwrap();
        assert_eq!(c.sync_interval, Duration::from_secs(42));
        assert_eq!(c.listen.to_string(), "0.0.0.0:8650");
        assert_eq!(c.kinde.unwrap().profile.domain, "https://mybiz.kinde.com");
        assert_eq!(
            c.database_url.expose(),
            "postgres://keyward:pw@localhost/keyward"
        );
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let e = from_str("databse_url = \"x\"\n", &base_env(), Need::Everything).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains("databse_url"), "{}", e.message);
        let e = from_str(
            "[kinde]\nclient_secret = \"inline\"\n",
            &base_env(),
            Need::Everything,
        )
        .unwrap_err();
        assert!(e.message.contains("client_secret"), "{}", e.message);
        assert!(!e.message.contains("inline"), "{}", e.message);
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut e = base_env();
        e.insert(ENV_KINDE_DOMAIN.into(), "a..b".into());
        let err = from_str("", &e, Need::Everything).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(err.message.contains("domain"), "{}", err.message);

        let mut e = base_env();
        e.insert(ENV_SYNC_INTERVAL.into(), "five".into());
        let err = from_str("", &e, Need::Everything).unwrap_err();
        assert!(err.message.contains(ENV_SYNC_INTERVAL), "{}", err.message);

        let mut e = base_env();
        e.insert(ENV_DATABASE_URL.into(), "mysql://u:topsecret@h/db".into());
        let err = from_str("", &e, Need::Everything).unwrap_err();
        assert!(err.message.contains("mysql"), "{}", err.message);
        assert!(!err.message.contains("topsecret"));

        let mut e = base_env();
        e.remove(ENV_KINDE_CLIENT_SECRET);
        let err = from_str("", &e, Need::Everything).unwrap_err();
        assert_eq!(err.code, ErrorCode::SecretMissing);
        // migrate needs no Kinde at all, not even the secret.
        let mut e = env(&[(ENV_DATABASE_URL, "postgres://localhost/k")]);
        assert!(from_str("", &e, Need::Database).unwrap().kinde.is_none());
        let mut no_secret = base_env();
        no_secret.remove(ENV_KINDE_CLIENT_SECRET);
        assert!(
            from_str("", &no_secret, Need::Database)
                .unwrap()
                .kinde
                .is_none()
        );
        e.insert(ENV_WEBHOOK_URL.into(), "https://example.com/hook".into());
        let err = from_str("", &e, Need::Database).unwrap_err();
        assert!(err.message.contains(ENV_WEBHOOK_SECRET), "{}", err.message);
    }

    #[test]
    fn destinations_from_file_and_environment() {
        let text = format!(
            r#"
            [[webhook]]
            name = "ops"
            url = "https://hooks.example.com/keyward"
            secret = "{SECRET}"
            previous_secret = "{SECRET}"
            min_severity = "high"
            kinds = ["canary_tripped", "spike"]

            [[slack]]
            url = "https://hooks.slack.com/services/T/B/X"
        "#
        );
        let mut e = base_env();
        e.insert(ENV_WEBHOOK_URL.into(), "http://127.0.0.1:9/h".into());
        e.insert(ENV_WEBHOOK_SECRET.into(), SECRET.into());
        let c = from_str(&text, &e, Need::Everything).unwrap();
        let names: Vec<&str> = c.destinations.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["ops", "slack-1", "webhook-env"]);
        let ops = &c.destinations[0];
        assert!(ops.filter.accepts(AlertKind::Spike, Severity::Critical));
        assert!(!ops.filter.accepts(AlertKind::Spike, Severity::Medium));
        assert!(!ops.filter.accepts(AlertKind::Stale, Severity::Critical));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("MfKQ9"), "{dbg}");
        assert!(!dbg.contains("services/T/B/X"), "{dbg}");

        let bad = text.replace("whsec_MfKQ", "MfKQ");
        let err = from_str(&bad, &base_env(), Need::Everything).unwrap_err();
        assert!(err.message.contains("whsec_"), "{}", err.message);
        let bad = text.replace("\"high\"", "\"severe\"");
        let err = from_str(&bad, &base_env(), Need::Everything).unwrap_err();
        assert!(err.message.contains("min_severity"), "{}", err.message);
    }

    #[test]
    fn the_systemd_credential_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CREDENTIAL_NAME), "from-credential\n").unwrap();
        let mut e = base_env();
        e.remove(ENV_KINDE_CLIENT_SECRET);
        e.insert(
            "CREDENTIALS_DIRECTORY".into(),
            dir.path().to_string_lossy().into_owned(),
        );
        let c = from_str("", &e, Need::Everything).unwrap();
        assert_eq!(c.kinde.unwrap().client_secret.expose(), "from-credential");
    }
}
