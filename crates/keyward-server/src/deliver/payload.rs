//! What a delivery says: the generic webhook's JSON event and the Slack message, both built
//! from the alert and the cached view of its key. Neither ever carries a key secret: the key is
//! named by its id, name and the prefix and suffix Kinde shows anyway.

use keyward_core::model::alert::{Alert, Severity};
use keyward_core::model::key::KeyView;
use serde::Serialize;
use serde_json::{Value, json};

/// The webhook's event type.
pub const EVENT_TYPE: &str = "keyward.alert.raised";

/// The generic webhook's body (Standard Webhooks' recommended `{type, timestamp, data}`).
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When the alert was raised (RFC 3339).
    pub timestamp: String,
    pub data: EventData,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventData {
    /// The Keyward profile (one Kinde business) the server watches.
    pub profile: String,
    pub alert: AlertOut,
    /// The key as Keyward's cache knows it (`null` for an alert about several keys).
    pub key: Option<KeyOut>,
    /// Where to open the alert (`public_url` + `/alerts/<id>`), when configured.
    pub link: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertOut {
    pub id: i64,
    pub kind: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub at: String,
    /// The key the alert is about, as the alert names it (also when the cache has no view).
    pub key_id: Option<String>,
    pub key_name: Option<String>,
    pub evidence: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyOut {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub suffix: Option<String>,
    /// `k_live…abcd`, as the app shows a key.
    pub masked: String,
    pub status: String,
    pub owner: Option<OwnerOut>,
    pub api: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OwnerOut {
    /// `organization` or `user`.
    pub kind: &'static str,
    pub id: String,
    pub name: Option<String>,
}

fn masked(prefix: &str, suffix: Option<&str>) -> String {
    format!("{prefix}\u{2026}{}", suffix.unwrap_or(""))
}

impl KeyOut {
    pub fn of(v: &KeyView) -> KeyOut {
        let k = &v.key;
        let owner = match (&k.org_code, &k.user_id) {
            (Some(o), _) => Some(OwnerOut {
                kind: "organization",
                id: o.clone(),
                name: v.owner_name.clone(),
            }),
            (None, Some(u)) => Some(OwnerOut {
                kind: "user",
                id: u.clone(),
                name: v.owner_name.clone(),
            }),
            _ => None,
        };
        KeyOut {
            id: k.id.clone(),
            name: k.name.clone(),
            prefix: k.key_prefix.clone(),
            suffix: k.key_suffix.clone(),
            masked: masked(&k.key_prefix, k.key_suffix.as_deref()),
            status: k.status.as_str().to_string(),
            owner,
            api: v.api_name.clone(),
        }
    }
}

/// The link back to the alert, when `public_url` is configured.
pub fn link(public_url: Option<&url::Url>, alert_id: i64) -> Option<String> {
    public_url.map(|u| format!("{}/alerts/{alert_id}", u.as_str().trim_end_matches('/')))
}

/// The event for `alert` (its key's cached view, if any).
pub fn event(profile: &str, alert: &Alert, key: Option<&KeyView>, link: Option<String>) -> Event {
    Event {
        kind: EVENT_TYPE,
        timestamp: alert
            .at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        data: EventData {
            profile: profile.to_string(),
            alert: AlertOut {
                id: alert.id,
                kind: alert.kind.as_str(),
                severity: alert.severity.as_str(),
                message: alert.message.clone(),
                at: alert
                    .at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                key_id: alert.key_id.clone(),
                key_name: alert.key_name.clone(),
                evidence: alert.evidence.clone(),
            },
            key: key.map(KeyOut::of),
            link,
        },
    }
}

/// Slack's mrkdwn escapes (`&`, `<`, `>`).
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('\u{2026}');
    t
}

fn severity_mark(s: Severity) -> &'static str {
    match s {
        Severity::Critical => ":red_circle:",
        Severity::High => ":large_orange_circle:",
        Severity::Medium => ":large_yellow_circle:",
        Severity::Low => ":large_blue_circle:",
        Severity::Info => ":white_circle:",
    }
}

/// The Slack incoming-webhook message: `text` (the notification line) and Block Kit `blocks`:
/// a header with the severity, the message, fields (severity, key, owner, kind), the evidence,
/// and a context line with the link back.
pub fn slack(ev: &Event) -> Value {
    let a = &ev.data.alert;
    let sev = Severity::parse(a.severity);
    let key_line = match &ev.data.key {
        Some(k) => format!("{} (`{}`)", esc(&k.name), esc(&k.masked)),
        None => match &a.key_name {
            Some(n) => esc(n),
            None => "several keys".to_string(),
        },
    };
    let owner_line = match ev.data.key.as_ref().and_then(|k| k.owner.as_ref()) {
        Some(o) => match &o.name {
            Some(n) => format!("{} ({} `{}`)", esc(n), o.kind, esc(&o.id)),
            None => format!("{} `{}`", o.kind, esc(&o.id)),
        },
        None => "\u{2014}".to_string(),
    };
    let evidence = serde_json::to_string_pretty(&a.evidence).unwrap_or_default();
    let title = format!(
        "{} {}: {}",
        a.severity.to_ascii_uppercase(),
        a.kind,
        ev.data
            .key
            .as_ref()
            .map(|k| k.name.as_str())
            .or(a.key_name.as_deref())
            .unwrap_or("several keys")
    );
    let mut context = vec![format!(
        "Keyward \u{00b7} {} \u{00b7} alert {} \u{00b7} {}",
        esc(&ev.data.profile),
        a.id,
        a.at
    )];
    if let Some(l) = &ev.data.link {
        context.insert(0, format!("<{}|Open in Keyward>", esc(l)));
    }
    json!({
        "text": cut(&format!("{} {}", severity_mark(sev), format_args!("{title}: {}", a.message)), 3000),
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": cut(&title, 150), "emoji": true}
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": cut(&format!("{} {}", severity_mark(sev), esc(&a.message)), 3000)}
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": format!("*Severity*\n{}", a.severity)},
                    {"type": "mrkdwn", "text": format!("*Key*\n{}", cut(&key_line, 1900))},
                    {"type": "mrkdwn", "text": format!("*Owner*\n{}", cut(&owner_line, 1900))},
                    {"type": "mrkdwn", "text": format!("*Kind*\n{}", a.kind)}
                ]
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": format!("*Evidence*\n```{}```", cut(&esc(&evidence), 2900))}
            },
            {
                "type": "context",
                "elements": context.iter().map(|c| json!({"type": "mrkdwn", "text": c})).collect::<Vec<_>>()
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use keyward_core::model::alert::AlertKind;

    fn alert() -> Alert {
        Alert {
            id: 7,
            kind: AlertKind::CanaryTripped,
            severity: Severity::Critical,
            key_id: Some("api_key_0123".into()),
            key_name: Some("Canary <prod>".into()),
            at: chrono::Utc.with_ymd_and_hms(2026, 12, 7, 5, 0, 0).unwrap(),
            message: "the canary key was verified from 203.0.113.9".into(),
            evidence: json!({"ip": "203.0.113.9", "verifications": 1}),
            acknowledged_at: None,
            muted: false,
        }
    }

    #[test]
    fn the_event_and_slack_message_have_their_shape() {
        let a = alert();
        let ev = event(
            "server",
            &a,
            None,
            link(Some(&"https://kw.example.com/".parse().unwrap()), 7),
        );
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["type"], EVENT_TYPE);
        assert_eq!(v["data"]["alert"]["kind"], "canary_tripped");
        assert_eq!(v["data"]["alert"]["severity"], "critical");
        assert_eq!(v["data"]["link"], "https://kw.example.com/alerts/7");
        assert_eq!(v["timestamp"], "2026-12-07T05:00:00.000Z");

        let s = slack(&ev);
        let blocks = s["blocks"].as_array().unwrap();
        let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            ["header", "section", "section", "section", "context"]
        );
        assert!(
            s["text"]
                .as_str()
                .unwrap()
                .contains("CRITICAL canary_tripped")
        );
        let ctx = blocks[4]["elements"][0]["text"].as_str().unwrap();
        assert_eq!(ctx, "<https://kw.example.com/alerts/7|Open in Keyward>");
        assert!(
            blocks[3]["text"]["text"]
                .as_str()
                .unwrap()
                .contains("203.0.113.9")
        );
    }
}
