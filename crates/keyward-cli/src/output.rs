//! Everything `keyward` writes to the terminal: escaped lines, aligned tables, short cell
//! formats, and the choice between human text and `--json`.
//!
//! Every string from Kinde is untrusted: a key, org or API name can hold an escape sequence
//! (clear the screen, set the window title, fake a prompt), a bell, a newline that forges a
//! table row, or a bidi override that reorders what is shown. So every line of human output
//! goes through [`escape`]: table cells in [`Table::render`], everything else through
//! [`outln!`] and [`errln!`]. `print!`, `println!`, `eprint!` and `eprintln!` are denied in
//! this crate (`clippy::print_stdout`, `clippy::print_stderr`), and this module writes through
//! locked handles instead, so no output path can forget the escaping. JSON output
//! ([`print_json`]) stays exact: serde escapes control characters itself.
//!
//! This module imports nothing else from the crate.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;

use chrono::{DateTime, Utc};
use keyward_core::kinde::is_bidi_control;
use keyward_core::{Error, Result};
use serde::Serialize;
use unicode_width::UnicodeWidthStr;

/// True for what must not reach a terminal raw: C0 and C1 controls (ESC, BEL, CR, LF, TAB,
/// DEL, CSI...), the bidi controls, and the line and paragraph separators.
fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `s` with every character of [`needs_escape`] shown as an escape: `\n`, `\r`, `\t`, else
/// `\u{1b}`, `\u{202e}`. Everything else (accents, CJK, emoji) is left alone.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Writes one line to stdout, escaped. A closed pipe (`| head`) is not an error worth
/// reporting.
pub fn out_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", escape(line));
}

/// Writes one line to stderr, escaped.
pub fn err_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", escape(line));
}

/// Writes a prompt to stderr (no newline), escaped, and flushes it.
pub fn err_prompt(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{}", escape(text));
    let _ = err.flush();
}

/// `println!`, escaped: one line to stdout (a newline in the text is shown as `\n`).
macro_rules! outln {
    () => {
        $crate::output::out_line("")
    };
    ($($arg:tt)*) => {
        $crate::output::out_line(&format!($($arg)*))
    };
}

/// `eprintln!`, escaped: one line to stderr.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::err_line(&format!($($arg)*))
    };
}

pub(crate) use {errln, outln};

/// `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::internal(format!("encoding JSON output: {e}")))?;
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = writeln!(out, "{text}");
    Ok(())
}

/// `value` as pretty JSON text, with its final newline.
pub fn json_text<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::internal(format!("encoding JSON output: {e}")))?;
    text.push('\n');
    Ok(text)
}

/// Writes `text` to stdout and makes sure it left the process: `write_all`, then `flush`,
/// and when stdout is a regular file, `fsync` (a full disk may only say so there). Every
/// failure is returned: a closed pipe (EPIPE), `/dev/full` or a full disk (ENOSPC). For a
/// one-time secret, which must never be lost silently; `text` is written as it is (the
/// caller escapes what needs it).
pub fn out_checked(text: &str) -> std::io::Result<()> {
    use std::os::fd::AsFd as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    let file = std::fs::File::from(out.as_fd().try_clone_to_owned()?);
    if file.metadata().is_ok_and(|m| m.file_type().is_file()) {
        file.sync_data()?;
    }
    Ok(())
}

/// Prints `value` as pretty JSON when `json`, else runs `human`.
pub fn emit<T: Serialize + ?Sized>(json: bool, value: &T, human: impl FnOnce(&T)) -> Result<()> {
    if json {
        print_json(value)
    } else {
        human(value);
        Ok(())
    }
}

/// An aligned plain-text table: columns padded to the widest cell as a terminal shows it
/// (a CJK character or an emoji takes two columns), two spaces apart.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, every cell escaped (see [`escape`]): one line per row, whatever the
    /// cells hold.
    pub fn render(&self) -> String {
        let n = self.headers.len();
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|h| escape(h).into_owned())
            .collect();
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|c| escape(c).into_owned()).collect())
            .collect();
        let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
        for r in &rows {
            for (i, c) in r.iter().enumerate().take(n) {
                widths[i] = widths[i].max(c.width());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let mut s = String::new();
            for (i, w) in widths.iter().enumerate() {
                let c = cells.get(i).map(String::as_str).unwrap_or("");
                s.push_str(c);
                if i + 1 < n {
                    s.push_str(&" ".repeat(w - c.width() + 2));
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(&headers);
        for r in &rows {
            line(r);
        }
        out
    }

    pub fn print(&self) {
        // Already escaped cell by cell; the newlines are the table's own.
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(self.render().as_bytes());
    }
}

/// The text, or `-` when there is none.
pub fn opt(s: Option<&str>) -> String {
    s.unwrap_or("-").to_string()
}

/// `2026-01-31`, or `-`.
pub fn date(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "-".into())
}

/// "never", "just now", "5m ago", "3h ago", "12d ago".
pub fn ago(t: Option<DateTime<Utc>>) -> String {
    let Some(t) = t else {
        return "never".into();
    };
    let secs = (Utc::now() - t).num_seconds();
    match secs {
        s if s < 60 => "just now".into(),
        s if s < 3600 => format!("{}m ago", s / 60),
        s if s < 86_400 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["a".into(), "first".into()]);
        t.row(vec!["longer-id".into(), "x".into()]);
        assert_eq!(
            t.render(),
            "ID         NAME\na          first\nlonger-id  x\n"
        );
    }

    /// The display column where each line's `col`-th cell starts (cells are two or more
    /// spaces apart; no cell here holds two spaces in a row).
    fn starts(text: &str, col: usize) -> Vec<usize> {
        text.lines()
            .map(|l| {
                let byte = l
                    .match_indices("  ")
                    .map(|(i, _)| i)
                    .filter(|&i| !l[..i].ends_with(' '))
                    .nth(col - 1)
                    .unwrap_or_else(|| panic!("no column {col} in {l:?}"));
                let rest = &l[byte..];
                let cell = byte + (rest.len() - rest.trim_start().len());
                l[..cell].width()
            })
            .collect()
    }

    #[test]
    fn wide_characters_keep_columns_aligned() {
        let mut t = Table::new(&["NAME", "OWNER", "STATUS"]);
        t.row(vec!["billing".into(), "acme".into(), "active".into()]);
        t.row(vec!["本番キー".into(), "東京支社".into(), "active".into()]);
        t.row(vec![
            "🔑🔑 deploy".into(),
            "🚀 team".into(),
            "revoked".into(),
        ]);
        t.row(vec!["café".into(), "x".into(), "-".into()]);
        let text = t.render();
        assert_eq!(starts(&text, 1), vec![13; 5], "{text}");
        assert_eq!(starts(&text, 2), vec![23; 5], "{text}");
        // "本番キー" is 4 characters but 8 columns wide: padded by 13 - 8 = 5 spaces.
        assert!(text.contains("本番キー     東京支社"), "{text}");
        assert!(text.contains("🔑🔑 deploy  🚀 team"), "{text}");
    }

    #[test]
    fn escape_shows_controls_and_keeps_text() {
        assert!(matches!(escape("Billing — 本番 🔑 café"), Cow::Borrowed(_)));
        assert_eq!(escape("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("\u{1b}]0;pwned\u{7}"), "\\u{1b}]0;pwned\\u{7}");
        assert_eq!(escape("x\ny\rz\tw"), "x\\ny\\rz\\tw");
        assert_eq!(escape("abc\u{202e}gpj.exe"), "abc\\u{202e}gpj.exe");
        assert_eq!(escape("\u{9b}31m\u{7f}"), "\\u{9b}31m\\u{7f}");
        for c in [
            '\u{2066}', '\u{2069}', '\u{200e}', '\u{200f}', '\u{61c}', '\u{2028}',
        ] {
            assert!(!escape(&c.to_string()).contains(c), "{c:?}");
        }
    }

    #[test]
    fn a_cell_cannot_forge_a_row_or_move_the_cursor() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["k1".into(), "evil\nk2  admin\u{1b}[2J\u{7}".into()]);
        t.row(vec!["k3".into(), "ok".into()]);
        let text = t.render();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(text.contains("evil\\nk2  admin\\u{1b}[2J\\u{7}"), "{text}");
    }
}
