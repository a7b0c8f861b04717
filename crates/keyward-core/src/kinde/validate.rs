//! Input checks that happen before any request.

use std::net::IpAddr;

use crate::error::{Error, Result};

const DOMAIN_HINT: &str = "Give your Kinde domain as `mybiz.kinde.com` or \
    `https://mybiz.kinde.com` (https is required except for localhost/127.0.0.1), \
    with no path, query or spaces.";

/// Parses a Kinde domain as a user types it: `mybiz.kinde.com` or a full URL. https is
/// required except on loopback; no path, query, fragment, credentials or spaces.
pub fn parse_base_url(input: &str) -> Result<url::Url> {
    let s = input.trim();
    if s.is_empty() {
        return Err(Error::invalid_input("domain", "is empty", DOMAIN_HINT));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid_input(
            "domain",
            "contains spaces",
            DOMAIN_HINT,
        ));
    }
    let with_scheme = if s.contains("://") {
        s.to_string()
    } else {
        format!("https://{s}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| {
        Error::invalid_input("domain", format!("{s:?} is not a URL ({e})"), DOMAIN_HINT)
    })?;
    check_base_url(&url)?;
    Ok(url)
}

/// Checks an already parsed base URL (what [`super::Client::new`] gets).
pub fn check_base_url(url: &url::Url) -> Result<()> {
    let shown = url.as_str();
    if !matches!(url.scheme(), "https" | "http") {
        return Err(Error::invalid_input(
            "domain",
            format!("{shown}: only https (or http on loopback) is supported"),
            DOMAIN_HINT,
        ));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(Error::invalid_input(
            "domain",
            format!("{shown} has no host"),
            DOMAIN_HINT,
        ));
    };
    if url.scheme() == "http" && !is_loopback(host) {
        return Err(Error::invalid_input(
            "domain",
            format!("{shown} uses plain http; Kinde requires https"),
            "Use https://. Plain http is only allowed for a local sandbox on 127.0.0.1 or localhost.",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid_input(
            "domain",
            "must not contain a user name or password",
            DOMAIN_HINT,
        ));
    }
    if url.path() != "/" && !url.path().is_empty() {
        return Err(Error::invalid_input(
            "domain",
            format!("{shown} has a path ({}); give the domain only", url.path()),
            DOMAIN_HINT,
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid_input(
            "domain",
            format!("{shown} has a query or fragment; give the domain only"),
            DOMAIN_HINT,
        ));
    }
    Ok(())
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    h.parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// An id that goes into a URL path or query: non-empty, at most 200 characters of
/// `[A-Za-z0-9_.:-]`. `field` is the name the user sees (`key id`, `api id`, ...).
pub fn validate_id(field: &str, id: &str) -> Result<()> {
    let hint = format!(
        "Copy the {field} again from {}; it has no spaces, slashes or quotes.",
        id_source(field)
    );
    if id.is_empty() {
        return Err(Error::invalid_input(field, "is empty", hint));
    }
    if id.chars().any(char::is_whitespace) {
        return Err(Error::invalid_input(field, "contains whitespace", hint));
    }
    if id.chars().count() > 200 {
        return Err(Error::invalid_input(field, "is too long to be an id", hint));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
    {
        return Err(Error::invalid_input(
            field,
            format!("contains {c:?}, which no Kinde id has"),
            hint,
        ));
    }
    Ok(())
}

/// Where a user finds an id of this kind, with an example of its shape.
fn id_source(field: &str) -> &'static str {
    let kind = field.rsplit(' ').nth(1).unwrap_or(field);
    match kind {
        "key" => "`keyward keys list` or Kinde (for example `api_key_0195ac80a14e...`)",
        "api" => "`keyward apis` or Kinde > APIs > (your API) > Details (a 32-character hex id)",
        "org" => "`keyward orgs` or Kinde > Organizations (for example `org_1ccfb819462`)",
        "user" => "`keyward users` or Kinde > Users (for example `kp_0c4ad3a4b36b...`)",
        "scope" => "Kinde > APIs > (your API) > Scopes, or `keyward apis --json`",
        "client" => "Kinde > Settings > Applications > (your M2M app) > Details",
        _ => "`keyward` or Kinde",
    }
}

/// A key name: not blank, at most 255 characters, no control characters.
pub fn validate_name(name: &str) -> Result<()> {
    let hint = "Give the key a short descriptive name, e.g. \"Production integration\".";
    if name.trim().is_empty() {
        return Err(Error::invalid_input("name", "must not be empty", hint));
    }
    if name.chars().count() > 255 {
        return Err(Error::invalid_input(
            "name",
            "is longer than 255 characters",
            hint,
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "name",
            "contains control characters (a newline?)",
            hint,
        ));
    }
    if let Some(c) = name.chars().find(|&c| is_bidi_control(c)) {
        return Err(Error::invalid_input(
            "name",
            format!(
                "contains the invisible direction control U+{:04X}, which can make a name \
                 read differently from what it is",
                c as u32
            ),
            "Type the name again without copying it from elsewhere; Keyward refuses \
             right-to-left overrides and isolates in key names.",
        ));
    }
    Ok(())
}

/// The Unicode bidirectional controls (embeddings, overrides, isolates and marks): invisible,
/// they reorder the text around them, so a name can read differently from what it is
/// ("Trojan Source"). Refused in names Keyward creates, escaped where Keyward prints names.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// A scope as typed: a scope key (`read:invoices`) or id, no whitespace, at most 200 characters.
pub fn validate_scope(s: &str) -> Result<()> {
    let hint = "Give a scope key (e.g. `read:invoices`) or a scope id from `keyward apis list`.";
    if s.is_empty() {
        return Err(Error::invalid_input("scope", "is empty", hint));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) || s.chars().count() > 200 {
        return Err(Error::invalid_input(
            "scope",
            format!(
                "{:?} contains whitespace or is too long",
                s.chars().take(40).collect::<String>()
            ),
            hint,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn domains() {
        assert_eq!(
            parse_base_url("mybiz.kinde.com").unwrap().as_str(),
            "https://mybiz.kinde.com/"
        );
        assert!(parse_base_url("https://mybiz.kinde.com/").is_ok());
        assert!(parse_base_url("http://127.0.0.1:8787").is_ok());
        assert!(parse_base_url("http://localhost:8787").is_ok());
        assert!(parse_base_url("http://[::1]:8787").is_ok());
        for bad in [
            "",
            "my biz.kinde.com",
            "http://mybiz.kinde.com",
            "https://mybiz.kinde.com/api",
            "https://mybiz.kinde.com?x=1",
            "https://u:p@mybiz.kinde.com",
            "ftp://mybiz.kinde.com",
            "https://",
        ] {
            let e = parse_base_url(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
            assert!(!e.hint.is_empty());
        }
    }

    #[test]
    fn ids_and_names() {
        assert!(validate_id("key id", "api_key_0195ac80a14e8d71f42b98e75d3c61ad").is_ok());
        assert!(validate_id("key id", "api_key_1 ").is_err());
        assert!(validate_id("key id", "a/b").is_err());
        assert!(validate_id("key id", "").is_err());
        // Each id's hint shows an example of its own kind.
        let api = validate_id("api id", "a b").unwrap_err();
        assert!(api.hint.contains("keyward apis"), "{}", api.hint);
        assert!(!api.hint.contains("api_key_"), "{}", api.hint);
        let key = validate_id("starting_after key id", "a b").unwrap_err();
        assert!(key.hint.contains("api_key_"), "{}", key.hint);
        let org = validate_id("org code", "a/b").unwrap_err();
        assert!(org.hint.contains("org_"), "{}", org.hint);
        assert!(validate_name("x").is_ok());
        assert!(validate_name("  ").is_err());
        assert!(validate_name("a\nb").is_err());
        assert!(validate_name("Produção 本番 🔑").is_ok());
        for bidi in [
            "\u{202E}", "\u{202A}", "\u{2066}", "\u{2069}", "\u{200E}", "\u{200F}", "\u{061C}",
        ] {
            let e = validate_name(&format!("invoice{bidi}txt.exe")).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{bidi:?}");
            assert!(e.message.contains("U+"), "{}", e.message);
        }
        assert!(!is_bidi_control('a') && !is_bidi_control('\u{200D}'));
    }
}
