//! Aligned plain-text tables for human output.

use chrono::{DateTime, Utc};

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

    pub fn render(&self) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
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
        line(&self.headers);
        for r in &self.rows {
            line(r);
        }
        out
    }

    pub fn print(&self) {
        print!("{}", self.render());
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
}
