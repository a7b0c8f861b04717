//! Profiles: add, list, remove and test a connection to a Kinde business, and the app settings.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::config::{ConfigFile, Environment, Profile, Settings, profile_not_found};
use crate::ctx::AppCtx;
use crate::doctor;
use crate::error::{Error, ErrorCode, Result};
use crate::model::doctor::DoctorReport;
use crate::secret::Secret;
use crate::store::SqliteStore;

/// What `profile add` takes (the secret travels separately).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ProfileInput {
    pub name: String,
    /// `mybiz.kinde.com` or a full URL.
    pub domain: String,
    pub client_id: String,
    /// Defaults to `production`.
    pub environment: Option<Environment>,
}

/// A profile as `profile list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ProfileInfo {
    #[serde(flatten)]
    pub profile: Profile,
    /// It is `default_profile` in the settings.
    pub is_default: bool,
    /// It is the profile operations would use now.
    pub selected: bool,
}

/// Where a profile's client secret came from when the operation ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SecretSource {
    /// Stored in the OS keyring (or the memory store of a sandbox).
    Keyring,
    /// From `KEYWARD_CLIENT_SECRET` (never stored).
    Env,
    /// None stored: the profile cannot connect until one is given.
    Missing,
}

/// The result of `profile add`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ProfileAdded {
    #[serde(flatten)]
    pub info: ProfileInfo,
    pub secret: SecretSource,
    /// Set when the profile cannot connect yet (no secret anywhere).
    pub warning: Option<String>,
}

/// The result of `profile remove`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ProfileRemoved {
    pub name: String,
    /// The keyring entry was deleted (or there was none).
    pub secret_deleted: bool,
    /// Where its local data (cached keys, history, alerts, audit log) was moved, a dated folder
    /// under the data directory's `archive/`; `None` when it had none. A profile added later
    /// under the same name starts empty.
    pub archived_to: Option<String>,
    /// Set when the keyring could not be reached: the entry may still be there.
    pub warning: Option<String>,
}

/// What `profile update` changes; a field left `None` stays as it is. The name never changes
/// (it keys the keyring entry and the local database).
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
pub struct ProfileUpdate {
    /// `mybiz.kinde.com` or a full URL.
    pub domain: Option<String>,
    pub client_id: Option<String>,
    pub environment: Option<Environment>,
    /// A new client secret for the OS keyring.
    #[ts(type = "string | null")]
    pub client_secret: Option<Secret>,
}

/// Connection details that are not saved yet (the first-run form's "Test connection").
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct ProfileDraft {
    pub domain: String,
    pub client_id: String,
    #[ts(type = "string")]
    pub client_secret: Secret,
}

fn info(cfg: &ConfigFile, p: &Profile, selected: Option<&str>) -> ProfileInfo {
    let current = cfg.select(selected).ok().map(|c| c.name.as_str());
    ProfileInfo {
        profile: p.clone(),
        is_default: cfg.settings.default_profile.as_deref() == Some(p.name.as_str()),
        selected: current == Some(p.name.as_str()),
    }
}

/// Adds a profile. Every field is checked first; then the secret (if given) goes to the keyring,
/// then the profile to config.toml. With no secret given, `KEYWARD_CLIENT_SECRET` (if set) will
/// be used at run time and is never stored. The first profile becomes the default.
pub async fn add(
    ctx: &AppCtx,
    input: ProfileInput,
    secret: Option<Secret>,
) -> Result<ProfileAdded> {
    let profile = Profile::new(
        &input.name,
        &input.domain,
        &input.client_id,
        input.environment.unwrap_or_default(),
    )?;
    if let Some(s) = &secret
        && s.expose().trim().is_empty()
    {
        return Err(Error::invalid_input(
            "client secret",
            "is empty",
            "Pipe the Client secret of your M2M app (Kinde > Settings > Applications) to \
             --client-secret-stdin.",
        ));
    }
    let mut cfg = ctx.load_config().await?;
    if cfg.find(&profile.name).is_some() {
        return Err(Error::new(
            ErrorCode::ProfileExists,
            format!("a profile named {:?} already exists", profile.name),
            format!(
                "Pick another name, or remove it first with `keyward profile remove {}`.",
                profile.name
            ),
        ));
    }
    // Data left under this name (a profile removed before removal archived it) is another
    // business's, or may be: it goes to the archive, and the new profile starts empty.
    archive_data(ctx, &profile.name).await?;
    let source = match secret {
        Some(s) => {
            let trimmed = Secret::new(s.expose().trim().to_string());
            crate::secret::keyring::set_blocking(ctx.secrets(), &profile.name, trimmed).await?;
            SecretSource::Keyring
        }
        None if ctx.has_env_secret() => SecretSource::Env,
        None => SecretSource::Missing,
    };
    cfg.profiles.push(profile.clone());
    if cfg.settings.default_profile.is_none() {
        cfg.settings.default_profile = Some(profile.name.clone());
    }
    if let Err(e) = ctx.save_config(cfg.clone()).await {
        if source == SecretSource::Keyring {
            let _ = crate::secret::keyring::delete_blocking(ctx.secrets(), &profile.name).await;
        }
        return Err(e);
    }
    let warning = (source == SecretSource::Missing).then(|| {
        format!(
            "No client secret was given: profile {:?} cannot connect until you add it again \
             with --client-secret-stdin or set KEYWARD_CLIENT_SECRET.",
            profile.name
        )
    });
    Ok(ProfileAdded {
        info: info(&cfg, &profile, ctx.selected_name()),
        secret: source,
        warning,
    })
}

/// Adds a team profile: `server` (https, or http on loopback) and the member's personal
/// access token, which goes to the keyring under the profile's name (never config.toml). With
/// `check`, the token is tried first with `GET /api/v1/me` and nothing is recorded if that
/// fails; the member it names is answered. The profile holds no Kinde credentials.
pub async fn add_team(
    ctx: &AppCtx,
    name: &str,
    server: &str,
    token: Option<Secret>,
    environment: Option<Environment>,
    check: bool,
) -> Result<(ProfileAdded, Option<crate::remote::Me>)> {
    let profile = Profile::team(name, server, environment.unwrap_or_default())?;
    let stored = token.is_some();
    let token = match token.as_ref().or(ctx.env_token()) {
        Some(t) => Secret::new(t.expose().trim().to_string()),
        None => {
            return Err(Error::invalid_input(
                "token",
                "a team profile needs the member's personal access token",
                "Pipe the kwp_… token that `keyward-server member add` printed to \
                 --token-stdin (or set KEYWARD_TOKEN for this shell).",
            ));
        }
    };
    if token.is_empty() {
        return Err(Error::invalid_input(
            "token",
            "is empty",
            "Pipe the kwp_… token that `keyward-server member add` printed to --token-stdin.",
        ));
    }
    let mut cfg = ctx.load_config().await?;
    if cfg.find(&profile.name).is_some() {
        return Err(Error::new(
            ErrorCode::ProfileExists,
            format!("a profile named {:?} already exists", profile.name),
            format!(
                "Pick another name, or remove it first with `keyward profile remove {}`.",
                profile.name
            ),
        ));
    }
    let server_url = profile.server.clone().unwrap_or_default();
    let me = if check {
        let client = crate::remote::RemoteClient::new(
            &server_url,
            token.clone(),
            ctx.client_options().root_cert_pem.as_deref(),
        )?;
        Some(client.me().await?)
    } else {
        None
    };
    archive_data(ctx, &profile.name).await?;
    if stored {
        crate::secret::keyring::set_blocking(ctx.secrets(), &profile.name, token).await?;
    }
    cfg.profiles.push(profile.clone());
    if cfg.settings.default_profile.is_none() {
        cfg.settings.default_profile = Some(profile.name.clone());
    }
    if let Err(e) = ctx.save_config(cfg.clone()).await {
        if stored {
            let _ = crate::secret::keyring::delete_blocking(ctx.secrets(), &profile.name).await;
        }
        return Err(e);
    }
    let warning = (!check).then(|| {
        "The token was not checked (--no-check): the first command on this profile will say \
         whether the server accepts it."
            .to_string()
    });
    Ok((
        ProfileAdded {
            info: info(&cfg, &profile, ctx.selected_name()),
            secret: if stored {
                SecretSource::Keyring
            } else {
                SecretSource::Env
            },
            warning,
        },
        me,
    ))
}

/// Edits a profile in one step: its domain, client id, environment and, optionally, its client
/// secret. Every field is checked first. A new secret goes to the keyring before config.toml
/// changes; config.toml is then written atomically, so the profile is either the old one or the
/// new one, never missing. When the keyring refuses the secret nothing changes; when config.toml
/// cannot be written the previous secret is put back. A default profile stays the default.
/// A new domain is another business: the profile's local data (cached keys, history, alerts,
/// audit log) is moved to the archive (`archive/<name>-<time>/` under the data directory), and
/// the next sync starts from an empty store.
pub async fn update(ctx: &AppCtx, name: &str, upd: ProfileUpdate) -> Result<ProfileInfo> {
    let mut cfg = ctx.load_config().await?;
    let Some(old) = cfg.find(name).cloned() else {
        return Err(profile_not_found(name, &cfg));
    };
    if let Some(server) = &old.server {
        return Err(Error::invalid_input(
            "profile",
            format!(
                "{name:?} is a team profile (on {server}): it has no Kinde domain, client id or secret to edit"
            ),
            format!(
                "To change its server or token: `keyward profile remove {name}`, then \
                 `keyward profile add {name} --server URL --token-stdin`."
            ),
        ));
    }
    let profile = Profile::new(
        &old.name,
        upd.domain.as_deref().unwrap_or(&old.domain),
        upd.client_id.as_deref().unwrap_or(&old.client_id),
        upd.environment.unwrap_or(old.environment),
    )?;
    let secret = match upd.client_secret {
        Some(s) if s.expose().trim().is_empty() => {
            return Err(Error::invalid_input(
                "client secret",
                "is empty",
                "Paste the Client secret of your M2M app (Kinde > Settings > Applications), or \
                 leave it out to keep the stored one.",
            ));
        }
        Some(s) => Some(Secret::new(s.expose().trim().to_string())),
        None => None,
    };
    let previous = match secret {
        Some(s) => {
            let before = crate::secret::keyring::get_blocking(ctx.secrets(), name).await?;
            crate::secret::keyring::set_blocking(ctx.secrets(), name, s).await?;
            Some(before)
        }
        None => None,
    };
    for p in &mut cfg.profiles {
        if p.name == profile.name {
            *p = profile.clone();
        }
    }
    if let Err(e) = ctx.save_config(cfg.clone()).await {
        let restored = match previous {
            Some(Some(before)) => {
                crate::secret::keyring::set_blocking(ctx.secrets(), name, before).await
            }
            Some(None) => crate::secret::keyring::delete_blocking(ctx.secrets(), name).await,
            None => Ok(()),
        };
        if let Err(r) = restored {
            tracing::warn!(code = %r.code, "could not put back the previous client secret of {name:?}: {}", r.message);
        }
        return Err(e);
    }
    if profile.domain != old.domain {
        match archive_data(ctx, name).await {
            Ok(Some(to)) => tracing::info!(
                "profile {name:?} moved from {} to {}: its local data was archived to {}",
                old.domain,
                profile.domain,
                to.display()
            ),
            Ok(None) => {}
            // The store still records the old domain: opening it archives it then.
            Err(e) => {
                tracing::warn!(code = %e.code, "could not archive the local data of {name:?}: {}", e.message)
            }
        }
    }
    Ok(info(&cfg, &profile, ctx.selected_name()))
}

/// Moves the local data kept under profile `name` to the archive (see
/// [`SqliteStore::archive`]); `None` when there was none.
async fn archive_data(ctx: &AppCtx, name: &str) -> Result<Option<std::path::PathBuf>> {
    let data_dir = ctx.paths().data_dir.clone();
    let name = name.to_string();
    crate::ctx::blocking(move || SqliteStore::archive(&data_dir, &name)).await
}

/// Every profile in config.toml (a sandbox context lists its demo profile too).
pub async fn list(ctx: &AppCtx) -> Result<Vec<ProfileInfo>> {
    let cfg = ctx.load_config().await?;
    let mut out: Vec<ProfileInfo> = cfg
        .profiles
        .iter()
        .map(|p| info(&cfg, p, ctx.selected_name()))
        .collect();
    if ctx.is_sandbox() {
        let demo = ctx.profile().await?;
        if !out.iter().any(|p| p.profile.name == demo.name) {
            out.insert(
                0,
                ProfileInfo {
                    profile: demo,
                    is_default: false,
                    selected: true,
                },
            );
        }
    }
    Ok(out)
}

/// Removes a profile from config.toml and deletes its keyring entry. Its local data (cached
/// keys, history, alerts, audit log) is moved to a dated folder under the data directory's
/// `archive/` (nothing is lost, and a profile added later under the same name starts empty);
/// a team profile's kept answers are deleted. A keyring that cannot be reached, or data that
/// cannot be moved, does not stop the removal; the result says so.
pub async fn remove(ctx: &AppCtx, name: &str) -> Result<ProfileRemoved> {
    let mut cfg = ctx.load_config().await?;
    if cfg.find(name).is_none() {
        return Err(profile_not_found(name, &cfg));
    }
    cfg.profiles.retain(|p| p.name != name);
    if cfg.settings.default_profile.as_deref() == Some(name) {
        cfg.settings.default_profile = None;
    }
    ctx.save_config(cfg).await?;
    // A team profile's kept answers (--offline) go with it.
    let kept = ctx.paths().data_dir.join("team").join(name);
    let _ = crate::ctx::blocking(move || match std::fs::remove_dir_all(&kept) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("removing the kept team answers", &e)),
    })
    .await;
    let mut warnings = Vec::new();
    let archived_to = match archive_data(ctx, name).await {
        Ok(to) => to.map(|p| p.display().to_string()),
        Err(e) => {
            warnings.push(format!(
                "The profile is removed, but its local data could not be moved to the archive \
                 ({}). A profile added again as {name:?} moves it first.",
                e.message
            ));
            None
        }
    };
    let secret_deleted = match crate::secret::keyring::delete_blocking(ctx.secrets(), name).await {
        Ok(()) => true,
        Err(e) => {
            warnings.push(format!(
                "The profile is removed, but its keyring entry could not be deleted ({}). \
                 Delete the entry `keyward`/`{name}` in your OS keyring by hand if it exists.",
                e.message
            ));
            false
        }
    };
    Ok(ProfileRemoved {
        name: name.to_string(),
        secret_deleted,
        archived_to,
        warning: (!warnings.is_empty()).then(|| warnings.join(" ")),
    })
}

/// Tests a connection: the selected profile, or a draft from the first-run form that is not
/// saved yet. This is the connection doctor (DNS, TLS, token, scopes, clock skew).
pub async fn test(ctx: &AppCtx, draft: Option<ProfileDraft>) -> Result<DoctorReport> {
    match draft {
        Some(d) => {
            let base = crate::config::normalize_domain(&d.domain)?;
            crate::config::validate_client_id(&d.client_id)?;
            Ok(doctor::check_connection_with(
                base.as_str(),
                &d.client_id,
                &d.client_secret,
                ctx.client_options().clone(),
            )
            .await)
        }
        None => match crate::remote::RemoteClient::of(ctx).await? {
            // A team profile: the server's connection doctor (its Kinde credentials), asked
            // with the member's token, which checks the token on the way.
            Some(r) => r.doctor_connection().await,
            None => doctor::connection(ctx).await,
        },
    }
}

/// The app settings (defaults when config.toml has none).
pub async fn settings(ctx: &AppCtx) -> Result<Settings> {
    ctx.settings().await
}

/// Checks and saves the app settings; returns what was saved. `default_profile` must name an
/// existing profile (or be empty).
pub async fn set_settings(ctx: &AppCtx, mut settings: Settings) -> Result<Settings> {
    fn range(field: &str, v: u32, lo: u32, hi: u32) -> Result<()> {
        if v < lo || v > hi {
            return Err(Error::invalid_input(
                field,
                format!("{v} is outside {lo}..={hi}"),
                format!("Give a whole number from {lo} to {hi}."),
            ));
        }
        Ok(())
    }
    range(
        "sync interval (minutes)",
        settings.sync_interval_minutes,
        0,
        1440,
    )?;
    range("stale after (days)", settings.stale_days, 1, 3650)?;
    range("rotate after (days)", settings.rotation_days, 1, 3650)?;
    range(
        "handover quiet period (days)",
        settings.handover_quiet_days,
        0,
        365,
    )?;
    settings.check_sync()?;
    settings.default_profile = settings.default_profile.filter(|p| !p.trim().is_empty());
    let mut cfg = ctx.load_config().await?;
    if let Some(p) = &settings.default_profile
        && cfg.find(p).is_none()
    {
        return Err(profile_not_found(p, &cfg));
    }
    cfg.settings = settings.clone();
    ctx.save_config(cfg).await?;
    Ok(settings)
}
