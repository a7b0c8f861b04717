//! The shipped example configuration (`config.example.toml`, installed in
//! /usr/share/doc/keyward-server) is valid, documents every key the server reads, and the
//! server's settings come out of it as written.

use std::collections::HashMap;
use std::time::Duration;

use keyward_core::model::alert::{AlertKind, Severity};
use keyward_server::config::{self, DestinationKind, Need};

const EXAMPLE: &str = include_str!("../config.example.toml");

fn env() -> HashMap<String, String> {
    [(
        config::ENV_KINDE_CLIENT_SECRET.to_string(),
        "from-env".to_string(),
    )]
    .into_iter()
    .collect()
}

#[test]
fn the_example_configuration_loads() {
    let c = config::from_str(EXAMPLE, &env(), Need::Everything).unwrap();
    assert_eq!(c.listen.to_string(), config::DEFAULT_LISTEN);
    assert_eq!(c.sync_interval, Duration::from_secs(300));
    assert_eq!(c.lease.ttl, Duration::from_secs(15));
    assert_eq!(c.lease.renew, Duration::from_secs(5));
    assert_eq!(c.delivery.give_up_after, Duration::from_secs(24 * 3600));
    let k = c.kinde.unwrap();
    assert_eq!(k.profile.domain, "https://mybiz.kinde.com");
    assert_eq!(k.profile.name, "server");
    // No destination until one is written in (the example ships no usable secret).
    assert!(c.destinations.is_empty());
}

/// Every key the example leaves commented out is still a key the server accepts: uncommented,
/// the file loads (an unknown key would be refused by name).
#[test]
fn every_commented_key_in_the_example_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n").unwrap();
    let slack_file = dir.path().join("slack");
    std::fs::write(&slack_file, "https://hooks.slack.com/services/T/B/X\n").unwrap();
    let client = dir.path().join("client");
    std::fs::write(&client, "client-secret\n").unwrap();
    let mut uncommented = String::new();
    for line in EXAMPLE.lines() {
        let t = line.trim_start();
        // `# key = value` lines (and `# [[table]]`) become live; prose stays a comment.
        let live = t.strip_prefix("# ").filter(|r| {
            r.starts_with("[[")
                || r.split_once(" = ")
                    .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        });
        match live {
            Some(r) => uncommented.push_str(r),
            None => uncommented.push_str(line),
        }
        uncommented.push('\n');
    }
    // The example's placeholders for files and the previous secret, made real.
    let text = uncommented
        .replace(
            "/etc/keyward-server/kinde-client-secret",
            &client.to_string_lossy(),
        )
        .replace(
            "/etc/keyward-server/webhook-secret",
            &secret_file.to_string_lossy(),
        )
        .replace(
            "/etc/keyward-server/slack-url",
            &slack_file.to_string_lossy(),
        )
        .replace(
            "previous_secret = \"whsec_...\"",
            "previous_secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"",
        )
        .replace("url = \"https://hooks.slack.com/services/...\"", "");
    let c = config::from_str(&text, &HashMap::new(), Need::Everything)
        .unwrap_or_else(|e| panic!("{}: {}\n{text}", e.message, e.hint));
    assert_eq!(
        c.public_url.unwrap().as_str(),
        "https://keyward.example.com/"
    );
    assert_eq!(c.kinde.unwrap().client_secret.expose(), "client-secret");
    let names: Vec<&str> = c.destinations.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["ops", "security-channel"]);
    assert_eq!(
        c.destinations[0].filter.kinds,
        [AlertKind::CanaryTripped, AlertKind::Spike, AlertKind::NewIp]
    );
    assert!(matches!(
        c.destinations[0].kind,
        DestinationKind::Webhook {
            previous: Some(_),
            ..
        }
    ));
    assert!(
        c.destinations[0]
            .filter
            .accepts(AlertKind::Spike, Severity::Medium)
    );
    assert!(
        !c.destinations[0]
            .filter
            .accepts(AlertKind::Spike, Severity::Low)
    );
    assert_eq!(c.destinations[1].filter.min_severity, Severity::High);
}
