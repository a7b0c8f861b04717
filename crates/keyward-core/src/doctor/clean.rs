//! Cleaning a pasted key and checking its format (the first rungs of the key ladder).

use super::ladder::{EXPECTED_KEY_LEN, Ladder};
#[cfg(test)]
use crate::model::doctor::{DoctorKind, StepStatus};

const RECOPY: &str = "Copy the key again from where it was first shown (Kinde shows a key's \
    secret only once, on create and on rotate); if it is lost, rotate the key \
    (`keyward keys rotate ID`) and update the app that uses it.";

/// What cleaning a pasted key found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Cleaning {
    pub cleaned: String,
    pub outer_whitespace: bool,
    pub newlines: bool,
    pub inner_whitespace: bool,
    pub bearer: bool,
    pub header_name: bool,
    pub quotes: bool,
    pub trailing_punct: bool,
}

const QUOTES: [char; 7] = [
    '"', '\'', '`', '\u{201c}', '\u{201d}', '\u{2018}', '\u{2019}',
];

fn strip_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Removes what people paste around a key: whitespace, `Authorization:`, `Bearer `, quotes.
pub fn clean_key(raw: &str) -> Cleaning {
    let mut c = Cleaning {
        newlines: raw.contains(['\n', '\r']),
        ..Cleaning::default()
    };
    let mut s = raw.to_string();
    for _ in 0..6 {
        let before = s.clone();
        let t = s.trim();
        if t.len() != s.len() {
            c.outer_whitespace = true;
        }
        let mut t = t.to_string();
        if let Some(rest) = strip_ci(&t, "authorization:") {
            c.header_name = true;
            t = rest.trim_start().to_string();
        }
        if let Some(rest) = strip_ci(&t, "bearer")
            && rest.starts_with(|ch: char| ch.is_whitespace())
        {
            c.bearer = true;
            t = rest.trim_start().to_string();
        }
        if let Some(rest) = t.strip_suffix([',', ';']) {
            c.trailing_punct = true;
            t = rest.to_string();
        }
        let first = t.chars().next();
        let last = t.chars().last();
        if first.is_some_and(|ch| QUOTES.contains(&ch)) {
            c.quotes = true;
            t = t.chars().skip(1).collect();
        }
        if last.is_some_and(|ch| QUOTES.contains(&ch)) && !t.is_empty() {
            c.quotes = true;
            t.pop();
        }
        s = t;
        if s == before {
            break;
        }
    }
    if s.chars().any(char::is_whitespace) {
        c.inner_whitespace = true;
        s.retain(|ch| !ch.is_whitespace());
    }
    c.cleaned = s;
    c
}

fn shown(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return format!("{} characters", chars.len());
    }
    let prefix: String = chars.iter().take(6).collect();
    let suffix: String = chars[chars.len() - 4..].iter().collect();
    format!(
        "prefix {prefix}, suffix {suffix}, {} characters",
        chars.len()
    )
}

/// Format checks on a cleaned key; `false` when verifying it is pointless.
pub(super) fn check_format(l: &mut Ladder, key: &str) -> bool {
    let fix = "Copy the key again from where it was first shown.";
    if key.is_empty() {
        l.fail(
            "format",
            "nothing is left once whitespace and quotes are removed",
            "No key was given",
            "Paste the API key's secret (it starts with k_live_).",
        );
        return false;
    }
    if key.starts_with("api_key_") {
        l.fail("format", "this is a key's id (api_key_...), not its secret", "This is the key's id, not the key", "Use the secret shown once when the key was created or rotated (k_live_...); if it is lost, rotate the key.");
        return false;
    }
    if key.starts_with("eyJ") && key.matches('.').count() == 2 {
        l.fail(
            "format",
            "this is a JWT access token, not an API key",
            "This is an access token, not an API key",
            "API keys start with k_live_; paste the key itself.",
        );
        return false;
    }
    if key.contains("...") || key.contains('\u{2026}') || key.contains('*') {
        l.fail("format", "the key contains `...`, `…` or `*`: it is a shortened or masked display, not the whole key", "The key is truncated", RECOPY);
        return false;
    }
    if let Some((i, ch)) = key
        .chars()
        .enumerate()
        .find(|(_, ch)| !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-')))
    {
        let what = if ch.is_ascii() {
            format!("{ch:?}")
        } else {
            format!("U+{:04X}", ch as u32)
        };
        l.fail(
            "format",
            format!("character {} is {what}, which no API key contains", i + 1),
            "The key contains a wrong character",
            RECOPY,
        );
        return false;
    }
    let desc = shown(key);
    let n = key.chars().count();
    if !key.starts_with("k_") {
        l.warn(
            "format",
            format!("unexpected prefix: Kinde keys start with k_live_ ({desc})"),
            "the key does not look like a Kinde API key",
            fix,
        );
    } else if n < EXPECTED_KEY_LEN {
        l.warn("format", format!("shorter than the {EXPECTED_KEY_LEN} characters of a Kinde key: possibly truncated ({desc})"), "the key may be truncated", RECOPY);
    } else if n > EXPECTED_KEY_LEN {
        l.warn("format", format!("longer than the {EXPECTED_KEY_LEN} characters of a Kinde key: extra characters? ({desc})"), "the key has unexpected extra characters", fix);
    } else {
        l.ok("format", format!("looks like a Kinde API key ({desc})"));
    }
    true
}

pub(super) fn cleaning_steps(l: &mut Ladder, c: &Cleaning) {
    let fix = "Remove it where the key is stored or pasted: the API expects the bare key.";
    if c.outer_whitespace || c.inner_whitespace {
        let mut parts = Vec::new();
        if c.newlines {
            parts.push("a newline");
        }
        if c.outer_whitespace {
            parts.push("whitespace around the key");
        }
        if c.inner_whitespace {
            parts.push("whitespace inside the key (a line break from wrapping?)");
        }
        l.warn(
            "whitespace",
            format!("found and removed {}", parts.join(", ")),
            "the pasted key had surrounding whitespace or newlines",
            "Trim the key where it is stored (a trailing newline from `echo` or a file is common).",
        );
    } else {
        l.ok("whitespace", "no surrounding whitespace or newlines");
    }
    if c.bearer || c.header_name {
        l.warn(
            "bearer_prefix",
            "found and removed an `Authorization:`/`Bearer ` prefix",
            "a `Bearer ` prefix was pasted with the key",
            "Send `Authorization: Bearer <key>` in requests, but store and verify the key alone.",
        );
    } else {
        l.ok("bearer_prefix", "no `Bearer ` prefix");
    }
    if c.quotes || c.trailing_punct {
        l.warn(
            "quotes",
            "found and removed quotes (or a trailing comma) around the key",
            "the key was wrapped in quotes",
            fix,
        );
    } else {
        l.ok("quotes", "no quotes");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_removes_what_people_paste() {
        let c = clean_key("  Authorization: Bearer \"k_live_abc\"\n");
        assert_eq!(c.cleaned, "k_live_abc");
        assert!(c.outer_whitespace && c.newlines && c.bearer && c.header_name && c.quotes);
        let c = clean_key("k_live_abc");
        assert_eq!(
            c,
            Cleaning {
                cleaned: "k_live_abc".into(),
                ..Cleaning::default()
            }
        );
        let c = clean_key("'k_live_ab\n  cd',");
        assert_eq!(c.cleaned, "k_live_abcd");
        assert!(c.inner_whitespace && c.quotes && c.trailing_punct);
        assert_eq!(clean_key("bearer").cleaned, "bearer");
        assert_eq!(clean_key("\u{201c}k_live_x\u{201d}").cleaned, "k_live_x");
        assert_eq!(clean_key("\"").cleaned, "");
    }

    #[test]
    fn format_verdicts() {
        let fmt = |k: &str| {
            let mut l = Ladder::new(DoctorKind::Key);
            let go = check_format(&mut l, k);
            (go, l.steps[0].status)
        };
        assert_eq!(
            fmt("api_key_0195ac80a14e8d71f42b98e75d3c61ad"),
            (false, StepStatus::Fail)
        );
        assert_eq!(fmt("eyJa.eyJb.sig"), (false, StepStatus::Fail));
        assert_eq!(fmt("k_live_abc…wxyz"), (false, StepStatus::Fail));
        assert_eq!(fmt("k_live_abc$def"), (false, StepStatus::Fail));
        assert_eq!(fmt("k_live_short"), (true, StepStatus::Warn));
        assert_eq!(
            fmt(&format!("k_live_{}", "a".repeat(32))),
            (true, StepStatus::Ok)
        );
        assert_eq!(
            fmt(&format!("x_live_{}", "a".repeat(32))),
            (true, StepStatus::Warn)
        );
    }
}
