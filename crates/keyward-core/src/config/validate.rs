//! Checks of what a user types for a profile: its name, client id and Kinde domain.

use crate::error::{Error, Result};

/// A profile name: 1-64 of `A-Z a-z 0-9 - _ .`, not starting with a dot.
pub fn validate_profile_name(name: &str) -> Result<()> {
    let hint = "Use 1-64 letters, digits, '-', '_' or '.', e.g. `prod` or `acme-staging`.";
    if name.is_empty() {
        return Err(Error::invalid_input(
            "profile name",
            "must not be empty",
            hint,
        ));
    }
    if name.chars().count() > 64 {
        return Err(Error::invalid_input(
            "profile name",
            "is longer than 64 characters",
            hint,
        ));
    }
    if name.starts_with('.') {
        return Err(Error::invalid_input(
            "profile name",
            "must not start with '.'",
            hint,
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(Error::invalid_input(
            "profile name",
            format!("contains {c:?}"),
            hint,
        ));
    }
    Ok(())
}

/// An M2M client id: non-empty, no whitespace, printable ASCII, at most 200 characters.
pub fn validate_client_id(id: &str) -> Result<()> {
    let hint =
        "Copy the Client ID from Kinde > Settings > Applications > (your M2M app) > Details.";
    if id.is_empty() {
        return Err(Error::invalid_input("client id", "must not be empty", hint));
    }
    if id.chars().any(char::is_whitespace) {
        return Err(Error::invalid_input(
            "client id",
            "contains whitespace",
            hint,
        ));
    }
    if id.len() > 128 {
        return Err(Error::invalid_input(
            "client id",
            format!("is {} characters long; Kinde's are 32", id.len()),
            hint,
        ));
    }
    // Kinde issues client ids of letters and digits (32 hex digits); `-`, `_` and `.` are allowed
    // for self-hosted Kinde-compatible servers. A quote, a slash or a colon is a paste gone wrong
    // and would corrupt the token request.
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(Error::invalid_input(
            "client id",
            format!("contains {c:?}, which no Kinde client id has"),
            hint,
        ));
    }
    Ok(())
}

/// A DNS host name as the RFCs have it (1035, 1123, 5890), after IDNA: at most 253 characters,
/// labels of 1-63 letters, digits and hyphens, none starting or ending with a hyphen.
fn validate_host_name(host: &str, hint: &str) -> Result<()> {
    let bad = |why: String| Err(Error::invalid_input("domain", why, hint));
    for label in host.split('.') {
        if label.is_empty() {
            return bad(format!("{host:?} has an empty label (two dots in a row)"));
        }
        if label.len() > 63 {
            return bad(format!(
                "has a label of {} characters; a label has at most 63",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return bad(format!(
                "{host:?} contains {c:?}; a domain name has only letters, digits, '-' and '.'"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad(format!("{host:?} has a label that starts or ends with '-'"));
        }
    }
    if host.len() > 253 {
        return bad(format!(
            "is {} characters long; a domain name has at most 253",
            host.len()
        ));
    }
    Ok(())
}

/// `javascript:alert(1)`, `mailto:x` and the like: a scheme without `//`, which the URL parser
/// would otherwise read as a host and a bad port. `host:8443` is a port, not a scheme, and a
/// dotted name before the colon (`mybiz.kinde.com:x`) is a host with a bad port.
fn scheme_without_slashes(input: &str) -> Option<&str> {
    let (scheme, rest) = input.split_once(':')?;
    let scheme_like = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-'));
    let port_like = rest.chars().next().is_some_and(|c| c.is_ascii_digit());
    (scheme_like && !port_like && !rest.starts_with("//")).then_some(scheme)
}

/// `mybiz.kinde.com`, `https://mybiz.kinde.com/` or `http://127.0.0.1:8787` → a base URL.
/// https is required except for loopback hosts; paths, queries, fragments, credentials and
/// whitespace are refused.
pub fn normalize_domain(input: &str) -> Result<url::Url> {
    let hint =
        "Give your Kinde domain like `mybiz.kinde.com` or `https://mybiz.kinde.com` (no path).";
    if input.is_empty() {
        return Err(Error::invalid_input("domain", "must not be empty", hint));
    }
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid_input(
            "domain",
            "contains spaces or control characters",
            hint,
        ));
    }
    if let Some(scheme) = scheme_without_slashes(input) {
        return Err(Error::invalid_input(
            "domain",
            format!("{input:?} is a {scheme:?} URL, not a Kinde domain"),
            hint,
        ));
    }
    let with_scheme = if input.contains("://") {
        input.to_string()
    } else {
        format!("https://{input}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| {
        Error::invalid_input(
            "domain",
            format!("{input:?} is not a valid URL ({e})"),
            hint,
        )
    })?;
    let host = match url.host() {
        Some(h) => h,
        None => return Err(Error::invalid_input("domain", "has no host name", hint)),
    };
    let loopback = match &host {
        url::Host::Domain(d) => d.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(Error::invalid_input(
                "domain",
                "http is only allowed for loopback addresses (localhost, 127.0.0.1, ::1)",
                "Use https://, e.g. `https://mybiz.kinde.com`.",
            ));
        }
        other => {
            return Err(Error::invalid_input(
                "domain",
                format!("unsupported scheme {other:?}"),
                hint,
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid_input(
            "domain",
            "must not contain a user name or password",
            hint,
        ));
    }
    if url.path() != "/" && !url.path().is_empty() {
        return Err(Error::invalid_input(
            "domain",
            format!("must not have a path (got {:?})", url.path()),
            hint,
        ));
    }
    if url.query().is_some() || input.contains('?') {
        return Err(Error::invalid_input(
            "domain",
            "must not have a query string",
            hint,
        ));
    }
    if url.fragment().is_some() || input.contains('#') {
        return Err(Error::invalid_input(
            "domain",
            "must not have a fragment",
            hint,
        ));
    }
    // The URL parser has applied IDNA (a Unicode name is punycode now) and lowercased; a
    // trailing dot (the DNS root) is the same name without it.
    let host_str = url.host_str().unwrap_or_default();
    let host_str = match &host {
        url::Host::Domain(_) => host_str.strip_suffix('.').unwrap_or(host_str),
        _ => host_str,
    };
    if let url::Host::Domain(_) = &host {
        validate_host_name(host_str, hint)?;
        if !loopback && !host_str.contains('.') {
            return Err(Error::invalid_input(
                "domain",
                format!("{host_str:?} is not a full domain name"),
                hint,
            ));
        }
    }
    // Port 0 is no port a server listens on (a client would connect nowhere).
    if url.port() == Some(0) {
        return Err(Error::invalid_input(
            "domain",
            "port 0 is not a port a server can listen on",
            hint,
        ));
    }
    // Rebuild so the result is exactly scheme://host[:port]/.
    let mut base = url::Url::parse(&format!("{}://{host_str}", url.scheme()))
        .map_err(|e| Error::invalid_input("domain", e, hint))?;
    if base.set_port(url.port()).is_err() {
        return Err(Error::invalid_input("domain", "has an invalid port", hint));
    }
    Ok(base)
}

/// A Keyward Server's URL (`https://keyward.example.com` or `keyward.example.com`; `http://`
/// only on a loopback host) → its base URL. The same rules as [`normalize_domain`]: no path,
/// query, credentials or whitespace.
pub fn normalize_server_url(input: &str) -> Result<url::Url> {
    normalize_domain(input).map_err(|e| {
        let message = match e.message.strip_prefix("domain") {
            Some(rest) => format!("server{rest}"),
            None => e.message,
        };
        let hint = if message.contains("http is only allowed") {
            "Use https:// for a Keyward Server that is not on this machine, e.g. \
             `https://keyward.example.com` (the server serves TLS itself or behind a proxy)."
        } else {
            "Give the Keyward Server's address like `https://keyward.example.com` or \
             `http://127.0.0.1:8443` for one on this machine (no path)."
        };
        Error::new(e.code, message, hint)
    })
}

#[cfg(test)]
mod server_url_tests {
    use super::*;

    #[test]
    fn a_server_url_needs_https_unless_loopback() {
        assert_eq!(
            normalize_server_url("keyward.example.com")
                .unwrap()
                .as_str(),
            "https://keyward.example.com/"
        );
        assert!(normalize_server_url("http://127.0.0.1:8443").is_ok());
        let e = normalize_server_url("http://keyward.example.com").unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::InvalidInput);
        assert!(e.message.starts_with("server:"), "{}", e.message);
        assert!(e.hint.contains("https://"), "{}", e.hint);
        let e = normalize_server_url("https://k.example.com/api").unwrap_err();
        assert!(e.message.starts_with("server:"), "{}", e.message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn domains_normalize() {
        let ok = [
            ("mybiz.kinde.com", "https://mybiz.kinde.com/"),
            ("https://mybiz.kinde.com", "https://mybiz.kinde.com/"),
            ("https://MyBiz.Kinde.com/", "https://mybiz.kinde.com/"),
            (
                "https://auth.example.com:8443",
                "https://auth.example.com:8443/",
            ),
            ("http://127.0.0.1:8787", "http://127.0.0.1:8787/"),
            ("http://localhost:3000/", "http://localhost:3000/"),
            ("http://[::1]:9000", "http://[::1]:9000/"),
            ("mybiz.kinde.com.", "https://mybiz.kinde.com/"),
            (
                "https://mybiz.kinde.com.:8443/",
                "https://mybiz.kinde.com:8443/",
            ),
            ("localhost.:3000", "https://localhost:3000/"),
            ("bücher.example.com", "https://xn--bcher-kva.example.com/"),
            ("a-b.c1.kinde.com", "https://a-b.c1.kinde.com/"),
        ];
        for (input, want) in ok {
            assert_eq!(normalize_domain(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn bad_domains_are_refused_with_a_hint() {
        for bad in [
            "",
            "my biz.kinde.com",
            " mybiz.kinde.com",
            "mybiz.kinde.com\n",
            "https://mybiz.kinde.com/api",
            "https://mybiz.kinde.com?x=1",
            "https://mybiz.kinde.com/#frag",
            "http://mybiz.kinde.com",
            "http://10.0.0.1",
            "ftp://mybiz.kinde.com",
            "https://user:pw@mybiz.kinde.com",
            "mybiz",
            "https://",
            "https://mybiz.kinde.com:99999",
        ] {
            let e = normalize_domain(bad).expect_err(bad);
            assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
            assert!(e.message.starts_with("domain"), "{bad}: {}", e.message);
            assert!(!e.hint.is_empty());
        }
    }

    /// Names no DNS would accept, each refused with the real cause.
    #[test]
    fn domains_no_dns_would_accept_are_refused() {
        let long_label = format!("{}.kinde.com", "a".repeat(300));
        let long_name = format!("{}.kinde.com", vec!["a".repeat(60); 5].join("."));
        assert!(long_name.len() > 253, "{}", long_name.len());
        for (bad, why) in [
            ("mybiz..kinde.com", "empty label"),
            (long_label.as_str(), "at most 63"),
            (long_name.as_str(), "at most 253"),
            ("my_biz.kinde.com", "contains '_'"),
            ("-mybiz.kinde.com", "starts or ends with '-'"),
            ("mybiz-.kinde.com", "starts or ends with '-'"),
            ("mybiz.kinde.com..", "empty label"),
        ] {
            let e = normalize_domain(bad).expect_err(bad);
            assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
            assert!(e.message.contains(why), "{bad}: {}", e.message);
        }
    }

    /// `javascript:alert(1)` is named as the scheme it is, not a bad port.
    #[test]
    fn a_scheme_without_slashes_is_named_as_such() {
        for (bad, scheme) in [
            ("javascript:alert(1)", "javascript"),
            ("mailto:admin@mybiz.com", "mailto"),
            ("data:text/html,x", "data"),
        ] {
            let e = normalize_domain(bad).expect_err(bad);
            assert!(
                e.message.contains(&format!("{scheme:?} URL")),
                "{bad}: {}",
                e.message
            );
            assert!(!e.message.contains("port"), "{bad}: {}", e.message);
        }
        // Port 0 is refused, whatever the host.
        for bad in [
            "http://127.0.0.1:0",
            "https://mybiz.kinde.com:0",
            "localhost:0",
        ] {
            let e = normalize_domain(bad).unwrap_err();
            assert!(e.message.contains("port 0"), "{bad}: {}", e.message);
        }
        // A port is still a port.
        assert_eq!(
            normalize_domain("localhost:3000").unwrap().as_str(),
            "https://localhost:3000/"
        );
        assert!(
            normalize_domain("mybiz.kinde.com:x")
                .unwrap_err()
                .message
                .contains("not a valid URL")
        );
    }

    #[test]
    fn client_ids_are_what_kinde_issues() {
        for ok in ["0c4ad3a4b36b4d5f8e9a1b2c3d4e5f60", "sandbox-m2m", "id_1.x"] {
            assert!(validate_client_id(ok).is_ok(), "{ok}");
        }
        for bad in ["abc\"def", "abc'", "a/b", "a:b", "a%20b", &"a".repeat(129)] {
            let e = validate_client_id(bad).expect_err(bad);
            assert_eq!(e.code, ErrorCode::InvalidInput);
            assert!(e.hint.contains("Client ID"), "{}", e.hint);
        }
    }

    #[test]
    fn names_and_ids_are_checked() {
        assert!(validate_profile_name("acme-prod_1.x").is_ok());
        for bad in ["", "a b", ".hidden", "x/y", &"a".repeat(65)] {
            assert!(validate_profile_name(bad).is_err(), "{bad}");
        }
        assert!(validate_client_id("abc123").is_ok());
        for bad in ["", "abc 123", " abc", "abc\t", "é"] {
            assert!(validate_client_id(bad).is_err(), "{bad}");
        }
    }
}
