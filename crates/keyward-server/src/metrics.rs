//! The server's counters and gauges, and their Prometheus text exposition (format 0.0.4),
//! written by hand: `# HELP`, `# TYPE`, then `name{label="value"} number` lines.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// One metric family's samples: labels (sorted pairs) to value.
type Samples = BTreeMap<Vec<(String, String)>, f64>;

struct Family {
    help: &'static str,
    kind: &'static str,
    samples: Samples,
}

/// Every metric the server exposes. Cheap to update (one short lock).
#[derive(Default)]
pub struct Metrics {
    families: Mutex<BTreeMap<&'static str, Family>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn labels_of(labels: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

/// Escapes a label value (`\`, `"`, newline).
fn escape_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    fn update(
        &self,
        name: &'static str,
        help: &'static str,
        kind: &'static str,
        labels: &[(&str, &str)],
        f: impl FnOnce(&mut f64),
    ) {
        let mut fams = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let fam = fams.entry(name).or_insert_with(|| Family {
            help,
            kind,
            samples: Samples::new(),
        });
        f(fam.samples.entry(labels_of(labels)).or_insert(0.0));
    }

    /// Adds `by` to a counter.
    pub fn add(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)], by: f64) {
        self.update(name, help, "counter", labels, |v| *v += by);
    }

    /// Sets a gauge.
    pub fn set(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)], to: f64) {
        self.update(name, help, "gauge", labels, |v| *v = to);
    }

    /// Replaces every sample of a gauge family (e.g. keys by status, the lease holder).
    pub fn replace(
        &self,
        name: &'static str,
        help: &'static str,
        samples: &[(Vec<(&str, &str)>, f64)],
    ) {
        self.replace_as(name, help, "gauge", samples);
    }

    /// Replaces every sample of a counter family with totals counted elsewhere (the Kinde
    /// client's requests and answers, which only grow).
    pub fn replace_counter(
        &self,
        name: &'static str,
        help: &'static str,
        samples: &[(Vec<(&str, &str)>, f64)],
    ) {
        self.replace_as(name, help, "counter", samples);
    }

    fn replace_as(
        &self,
        name: &'static str,
        help: &'static str,
        kind: &'static str,
        samples: &[(Vec<(&str, &str)>, f64)],
    ) {
        let mut fams = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let fam = fams.entry(name).or_insert_with(|| Family {
            help,
            kind,
            samples: Samples::new(),
        });
        fam.samples.clear();
        for (l, v) in samples {
            fam.samples.insert(labels_of(l), *v);
        }
    }

    /// The current value of one sample (tests, `/healthz`).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let fams = self.families.lock().unwrap_or_else(|p| p.into_inner());
        fams.get(name)?.samples.get(&labels_of(labels)).copied()
    }

    /// The Prometheus text format of every family, sorted by name.
    pub fn render(&self) -> String {
        let fams = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        for (name, fam) in fams.iter() {
            let _ = writeln!(
                out,
                "# HELP {name} {}",
                fam.help.replace('\\', "\\\\").replace('\n', "\\n")
            );
            let _ = writeln!(out, "# TYPE {name} {}", fam.kind);
            for (labels, v) in &fam.samples {
                if labels.is_empty() {
                    let _ = writeln!(out, "{name} {}", number(*v));
                } else {
                    let l: Vec<String> = labels
                        .iter()
                        .map(|(k, v)| format!("{k}=\"{}\"", escape_value(v)))
                        .collect();
                    let _ = writeln!(out, "{name}{{{}}} {}", l.join(","), number(*v));
                }
            }
        }
        out
    }
}

// The names, in one place.
pub const SYNC_RUNS: &str = "keyward_sync_runs_total";
pub const SYNC_RUNS_HELP: &str = "Syncs run by this replica, by outcome (ok, partial, error code).";
pub const SYNC_DURATION: &str = "keyward_sync_duration_seconds";
pub const SYNC_DURATION_HELP: &str = "How long this replica's last sync took.";
pub const SYNC_LAST_FINISHED: &str = "keyward_sync_last_finished_timestamp_seconds";
pub const SYNC_LAST_FINISHED_HELP: &str = "When this replica's last sync finished (Unix time).";
pub const KEYS: &str = "keyward_keys";
pub const KEYS_HELP: &str = "Keys in the store after the last sync, by status.";
pub const KINDE_REQUESTS: &str = "keyward_kinde_requests_total";
pub const KINDE_REQUESTS_HELP: &str = "Requests sent to Kinde by this replica, by kind (token, list, detail, write, verify, other, retries).";
pub const KINDE_RESPONSES: &str = "keyward_kinde_responses_total";
pub const KINDE_RESPONSES_HELP: &str = "Answers from Kinde to this replica, by HTTP status code (token requests included; every try counts); code=\"transport\" counts the tries that got no answer (refused, reset, timed out, DNS, TLS).";
pub const KINDE_THROTTLED: &str = "keyward_kinde_throttled_total";
pub const KINDE_THROTTLED_HELP: &str = "429 answers from Kinde seen by this replica.";
pub const ALERTS_RAISED: &str = "keyward_alerts_raised_total";
pub const ALERTS_RAISED_HELP: &str = "Alerts queued for delivery by this replica, by kind.";
pub const DELIVERIES: &str = "keyward_deliveries_total";
pub const DELIVERIES_HELP: &str = "Delivery attempts made by this replica, by destination and outcome (delivered, retry, failed).";
pub const LEADER: &str = "keyward_leader";
pub const LEADER_HELP: &str = "1 while this replica holds the leader lease.";
pub const LEASE_HOLDER: &str = "keyward_lease_holder";
pub const LEASE_HOLDER_HELP: &str =
    "The lease holder as the database says (1 while its lease is valid), with its epoch.";

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks each line against the text format's grammar (as Prometheus parses it).
    fn check_syntax(text: &str) {
        let mut typed = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                assert!(valid_name(name), "{line}");
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut p = rest.split(' ');
                let name = p.next().unwrap();
                let kind = p.next().unwrap();
                assert!(valid_name(name), "{line}");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "{line}"
                );
                assert!(typed.insert(name.to_string()), "TYPE twice: {line}");
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(
                value.parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&value),
                "{line}"
            );
            let name = series.split('{').next().unwrap();
            assert!(valid_name(name), "{line}");
            assert!(typed.contains(name), "sample before its TYPE: {line}");
            if let Some(l) = series.strip_prefix(name)
                && !l.is_empty()
            {
                assert!(l.starts_with('{') && l.ends_with('}'), "{line}");
                let inner = &l[1..l.len() - 1];
                // label="value" pairs, values escaped.
                let mut rest = inner;
                while !rest.is_empty() {
                    let (k, after) = rest.split_once("=\"").expect(line);
                    assert!(valid_name(k), "{line}");
                    let mut end = None;
                    let mut esc = false;
                    for (i, c) in after.char_indices() {
                        match (esc, c) {
                            (true, _) => esc = false,
                            (false, '\\') => esc = true,
                            (false, '"') => {
                                end = Some(i);
                                break;
                            }
                            _ => {}
                        }
                    }
                    let end = end.expect(line);
                    rest = after[end + 1..]
                        .strip_prefix(',')
                        .unwrap_or(&after[end + 1..]);
                }
            }
        }
    }

    fn valid_name(n: &str) -> bool {
        let mut c = n.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
            && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == ':')
    }

    #[test]
    fn renders_valid_exposition_text() {
        let m = Metrics::new();
        m.add(SYNC_RUNS, SYNC_RUNS_HELP, &[("outcome", "ok")], 1.0);
        m.add(SYNC_RUNS, SYNC_RUNS_HELP, &[("outcome", "ok")], 1.0);
        m.set(SYNC_DURATION, SYNC_DURATION_HELP, &[], 0.25);
        m.replace(
            LEASE_HOLDER,
            LEASE_HOLDER_HELP,
            &[(vec![("holder", "host \"a\"\\b\nc"), ("epoch", "3")], 1.0)],
        );
        m.add(
            DELIVERIES,
            DELIVERIES_HELP,
            &[("destination", "ops"), ("outcome", "delivered")],
            1.0,
        );
        m.replace_counter(
            KINDE_RESPONSES,
            KINDE_RESPONSES_HELP,
            &[
                (vec![("code", "200")], 12.0),
                (vec![("code", "429")], 1.0),
                (vec![("code", "transport")], 0.0),
            ],
        );
        let text = m.render();
        check_syntax(&text);
        assert!(
            text.contains("keyward_sync_runs_total{outcome=\"ok\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("keyward_sync_duration_seconds 0.25\n"),
            "{text}"
        );
        assert!(
            text.contains(r#"keyward_lease_holder{epoch="3",holder="host \"a\"\\b\nc"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("# TYPE keyward_deliveries_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE keyward_kinde_responses_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("keyward_kinde_responses_total{code=\"429\"} 1\n"),
            "{text}"
        );
        assert_eq!(m.get(SYNC_RUNS, &[("outcome", "ok")]), Some(2.0));
    }

    #[test]
    fn the_checker_catches_bad_lines() {
        let bad = "# TYPE x counter\nx{a=\"b} 1\n";
        assert!(std::panic::catch_unwind(|| check_syntax(bad)).is_err());
        let bad = "y 1\n";
        assert!(std::panic::catch_unwind(|| check_syntax(bad)).is_err());
    }
}
