//! Profiles, app settings and where Keyward keeps its files.
//!
//! - Config is one TOML file, `config.toml`, in the platform config dir, or in
//!   `$KEYWARD_HOME/config` when `KEYWARD_HOME` is set. The data dir (SQLite) is the platform data
//!   dir, or `$KEYWARD_HOME/data`.
//! - A profile holds a name, the Kinde base URL, the M2M client id and an environment label.
//!   The client secret is never here: it lives in the OS keyring (see [`crate::secret::keyring`]).
//! - Writes are atomic: a temp file in the same directory, fsync, rename.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, ErrorCode, Result};

mod paths;
mod settings;
mod validate;

pub use paths::{Paths, write_atomic};
pub use settings::Settings;
pub use validate::{
    normalize_domain, normalize_server_url, validate_client_id, validate_profile_name,
};

/// Which kind of Kinde business a profile points at. Drives the badge colour in the UI, so that
/// production is never mistaken for test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Environment {
    #[default]
    Production,
    Staging,
    Development,
    Demo,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Staging => "staging",
            Environment::Development => "development",
            Environment::Demo => "demo",
        }
    }
}

impl std::str::FromStr for Environment {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "production" | "prod" => Ok(Environment::Production),
            "staging" | "stage" => Ok(Environment::Staging),
            "development" | "dev" => Ok(Environment::Development),
            "demo" => Ok(Environment::Demo),
            other => Err(Error::invalid_input(
                "environment",
                format!("unknown environment {other:?}"),
                "Use one of: production, staging, development, demo.",
            )),
        }
    }
}

/// A connection to one Kinde business (`domain` is the normalized base URL,
/// `https://mybiz.kinde.com`, no trailing slash), or, with `server` set, to a team's Keyward
/// Server (`https://keyward.example.com`): a team profile, which holds no Kinde credentials
/// (`domain` and `client_id` empty); its member's personal access token lives in the OS keyring
/// under the profile's name, like a client secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Profile {
    pub name: String,
    #[serde(default)]
    pub domain: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub environment: Environment,
    /// A team profile's Keyward Server (normalized URL, no trailing slash); absent for Kinde.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub server: Option<String>,
}

impl Profile {
    /// Checks every field and normalizes the domain. Nothing is sent anywhere.
    pub fn new(
        name: &str,
        domain: &str,
        client_id: &str,
        environment: Environment,
    ) -> Result<Self> {
        validate_profile_name(name)?;
        let base = normalize_domain(domain)?;
        validate_client_id(client_id)?;
        Ok(Profile {
            name: name.to_string(),
            domain: base.as_str().trim_end_matches('/').to_string(),
            client_id: client_id.to_string(),
            environment,
            server: None,
        })
    }

    /// A team profile on the Keyward Server at `server` (https, or http on a loopback host).
    pub fn team(name: &str, server: &str, environment: Environment) -> Result<Self> {
        validate_profile_name(name)?;
        let url = normalize_server_url(server)?;
        Ok(Profile {
            name: name.to_string(),
            domain: String::new(),
            client_id: String::new(),
            environment,
            server: Some(url.as_str().trim_end_matches('/').to_string()),
        })
    }

    /// True for a team profile (on a Keyward Server).
    pub fn is_team(&self) -> bool {
        self.server.is_some()
    }

    /// The base URL as a `url::Url` (with the trailing slash that `Url` always has).
    pub fn base_url(&self) -> Result<url::Url> {
        normalize_domain(&self.domain)
    }
}

/// The whole `config.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigFile {
    pub settings: Settings,
    #[serde(rename = "profile")]
    pub profiles: Vec<Profile>,
}

impl ConfigFile {
    /// Reads the config; a missing file is an empty config.
    pub fn load(paths: &Paths) -> Result<Self> {
        let file = paths.config_file();
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(Error::io(&format!("reading {}", file.display()), &e)),
        };
        toml::from_str(&text).map_err(|e| {
            Error::new(
                ErrorCode::Io,
                format!("{} is not valid Keyward config: {}", file.display(), e.message()),
                format!("Fix the file by hand, or move it away and add your profiles again with `keyward profile add`. ({})", file.display()),
            )
        })
    }

    /// Writes the config atomically.
    pub fn save(&self, paths: &Paths) -> Result<()> {
        let text = toml::to_string_pretty(self)
            .map_err(|e| Error::internal(format!("serializing config: {e}")))?;
        let body = format!(
            "# Keyward configuration. Client secrets are NOT stored here (they live in the OS keyring).\n{text}"
        );
        write_atomic(&paths.config_file(), body.as_bytes())
    }

    pub fn find(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// The profile to use: `wanted` if given, then the default, then the only one.
    pub fn select(&self, wanted: Option<&str>) -> Result<&Profile> {
        if let Some(name) = wanted {
            return self.find(name).ok_or_else(|| profile_not_found(name, self));
        }
        if let Some(d) = self.settings.default_profile.as_deref()
            && let Some(p) = self.find(d)
        {
            return Ok(p);
        }
        match self.profiles.as_slice() {
            [only] => Ok(only),
            [] => Err(Error::new(
                ErrorCode::ProfileNotFound,
                "no profile is configured",
                "Add one: `keyward profile add NAME --domain mybiz.kinde.com --client-id ID --client-secret-stdin`.",
            )),
            _ => Err(Error::new(
                ErrorCode::ProfileNotFound,
                format!(
                    "{} profiles exist and none is selected ({})",
                    self.profiles.len(),
                    self.names().join(", ")
                ),
                "Pick one with `--profile NAME` or KEYWARD_PROFILE, or set `default_profile` under [settings] in config.toml.",
            )),
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.profiles.iter().map(|p| p.name.clone()).collect()
    }
}

pub(crate) fn profile_not_found(name: &str, cfg: &ConfigFile) -> Error {
    let known = if cfg.profiles.is_empty() {
        "no profile is configured yet".to_string()
    } else {
        format!("known profiles: {}", cfg.names().join(", "))
    };
    Error::new(
        ErrorCode::ProfileNotFound,
        format!("no profile named {name:?} ({known})"),
        "Check the name with `keyward profile list`, or add it with `keyward profile add`.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_atomically_and_selects() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        assert_eq!(ConfigFile::load(&paths).unwrap(), ConfigFile::default());
        let mut cfg = ConfigFile::default();
        assert_eq!(
            cfg.select(None).unwrap_err().code,
            ErrorCode::ProfileNotFound
        );
        cfg.profiles
            .push(Profile::new("a", "a.kinde.com", "id1", Environment::Staging).unwrap());
        assert_eq!(cfg.select(None).unwrap().name, "a");
        cfg.profiles
            .push(Profile::new("b", "b.kinde.com", "id2", Environment::Production).unwrap());
        assert_eq!(
            cfg.select(None).unwrap_err().code,
            ErrorCode::ProfileNotFound
        );
        cfg.settings.default_profile = Some("b".into());
        assert_eq!(cfg.select(None).unwrap().name, "b");
        assert_eq!(cfg.select(Some("a")).unwrap().name, "a");
        assert_eq!(
            cfg.select(Some("zz")).unwrap_err().code,
            ErrorCode::ProfileNotFound
        );
        cfg.save(&paths).unwrap();
        let back = ConfigFile::load(&paths).unwrap();
        assert_eq!(back, cfg);
        assert_eq!(back.profiles[0].domain, "https://a.kinde.com");
        // no temp files left behind
        let names: Vec<_> = std::fs::read_dir(&paths.config_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["config.toml".to_string()]);
    }

    #[test]
    fn a_team_profile_round_trips_and_older_configs_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        std::fs::create_dir_all(&paths.config_dir).unwrap();
        // A config written before team profiles: no `server`.
        std::fs::write(
            paths.config_file(),
            "[[profile]]\nname = \"a\"\ndomain = \"https://a.kinde.com\"\nclient_id = \"id1\"\n",
        )
        .unwrap();
        let mut cfg = ConfigFile::load(&paths).unwrap();
        assert!(!cfg.profiles[0].is_team());
        let team = Profile::team("t", "keyward.example.com/", Environment::Production).unwrap();
        assert_eq!(team.server.as_deref(), Some("https://keyward.example.com"));
        assert!(team.domain.is_empty() && team.client_id.is_empty());
        cfg.profiles.push(team.clone());
        cfg.save(&paths).unwrap();
        let text = std::fs::read_to_string(paths.config_file()).unwrap();
        assert_eq!(text.matches("server = ").count(), 1, "{text}");
        assert_eq!(ConfigFile::load(&paths).unwrap().find("t"), Some(&team));
        let e =
            Profile::team("t", "http://keyward.example.com", Environment::Production).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.starts_with("server:"), "{}", e.message);
        assert!(
            Profile::team(
                "bad name!",
                "https://k.example.com",
                Environment::Production
            )
            .is_err()
        );
    }

    #[test]
    fn broken_config_is_an_error_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        std::fs::create_dir_all(&paths.config_dir).unwrap();
        std::fs::write(paths.config_file(), "[[profile]\nname=").unwrap();
        let e = ConfigFile::load(&paths).unwrap_err();
        assert_eq!(e.code, ErrorCode::Io);
        assert!(e.hint.contains("config.toml"));
    }
}
