//! Human output: aligned plain-text tables, and the only place that writes text to the
//! terminal.
//!
//! Every string from Kinde is untrusted: a key, org or API name can hold an escape sequence
//! (clear the screen, set the window title, fake a prompt), a bell, a newline that forges a
//! table row, or a bidi override that reorders what is shown. So every line of human output
//! goes through [`escape`]: table cells in [`Table::render`], everything else through
//! [`outln!`] and [`errln!`]. `print!`, `println!`, `eprint!` and `eprintln!` are denied in
//! this crate (`clippy::print_stdout`, `clippy::print_stderr`) outside this module, so no
//! output path can forget it. JSON output (`app::print_json`) stays exact: serde escapes
//! control characters itself.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;

use chrono::{DateTime, Utc};
use keyward_core::kinde::is_bidi_control;

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
        $crate::table::out_line("")
    };
    ($($arg:tt)*) => {
        $crate::table::out_line(&format!($($arg)*))
    };
}

/// `eprintln!`, escaped: one line to stderr.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::table::err_line(&format!($($arg)*))
    };
}

pub(crate) use {errln, outln};

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
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for r in &rows {
            for (i, c) in r.iter().enumerate().take(n) {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let mut s = String::new();
            for (i, w) in widths.iter().enumerate() {
                let c = cells.get(i).map(String::as_str).unwrap_or("");
                if i + 1 == n {
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    s.push_str(&" ".repeat(w - c.chars().count() + 2));
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

pub fn opt(s: Option<&str>) -> String {
    s.unwrap_or("-").to_string()
}

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
