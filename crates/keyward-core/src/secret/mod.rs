//! Wrappers that keep secrets out of `Debug`, logs, panics and serialization.
//!
//! - [`Secret`] holds a credential (an M2M client secret, a pasted API key). Its `Debug` and
//!   `Display` print `[redacted]`, and serializing it is an error, so it cannot end up in SQLite,
//!   a config file or a JSON log by accident.
//! - [`OneTimeSecret`] is a freshly created or rotated API key secret that must reach the user
//!   exactly once (the CLI's stdout, the app's secret panel). It serializes on purpose, but its
//!   `Debug` is still redacted.

pub mod keyring;

use serde::{Deserialize, Serialize, Serializer};
use ts_rs::TS;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The only way to read the value. Grep for `expose` to audit every use.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refusing to serialize a secret"))
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// A new API key secret, shown once. Serializes as a plain string (on purpose);
/// `Debug` stays redacted.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(transparent)]
#[ts(export, type = "string")]
pub struct OneTimeSecret(String);

impl OneTimeSecret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Prefix (first 6 chars) and suffix (last 4), as Kinde shows them.
    pub fn prefix_suffix(&self) -> (String, String) {
        let chars: Vec<char> = self.0.chars().collect();
        let prefix: String = chars.iter().take(6).collect();
        let suffix: String = chars[chars.len().saturating_sub(4)..].iter().collect();
        (prefix, suffix)
    }
}

impl std::fmt::Debug for OneTimeSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneTimeSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints_or_serializes() {
        let s = Secret::new("k_live_supersecret");
        assert!(!format!("{s:?}").contains("supersecret"));
        assert!(!format!("{s}").contains("supersecret"));
        assert!(serde_json::to_string(&s).is_err());
        assert_eq!(s.expose(), "k_live_supersecret");
    }

    #[test]
    fn one_time_secret_serializes_but_debug_is_redacted() {
        let s = OneTimeSecret::new("k_live_abcdef123456");
        assert!(!format!("{s:?}").contains("abcdef"));
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            "\"k_live_abcdef123456\""
        );
        assert_eq!(
            s.prefix_suffix(),
            ("k_live".to_string(), "3456".to_string())
        );
    }
}
