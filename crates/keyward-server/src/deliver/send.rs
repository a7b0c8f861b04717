//! One HTTP attempt of a delivery: a signed POST to a webhook, or a POST to Slack.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};

use super::outbox::{Attempt, Due};
use super::sign;
use crate::config::{Destination, DestinationKind};

/// The HTTP client deliveries go out with (`timeout` per attempt, no redirects followed: a
/// receiver that moves answers 3xx, which is retried and logged).
// Not a Kinde client (those come from keyward_core::kinde): this one only posts alerts to the
// configured receivers.
#[allow(
    clippy::disallowed_methods,
    reason = "not a Kinde client: it posts alerts to the configured receivers"
)]
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("keyward-server/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds")
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110), from now.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some(
        (at.with_timezone(&Utc) - Utc::now())
            .to_std()
            .unwrap_or_default(),
    )
}

/// Sends `due` to `dest` once.
pub async fn attempt(http: &reqwest::Client, dest: &Destination, due: &Due) -> Attempt {
    let started = Instant::now();
    let req = match &dest.kind {
        DestinationKind::Webhook {
            url,
            secret,
            previous,
        } => {
            let ts = Utc::now().timestamp();
            let sig = sign::header(
                secret,
                previous.as_ref(),
                &due.message_id,
                ts,
                due.body.as_bytes(),
            );
            http.post(url.clone())
                .header("webhook-id", &due.message_id)
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", sig)
        }
        DestinationKind::Slack { url } => http.post(url.expose()),
    };
    let res = req
        .header(CONTENT_TYPE, "application/json")
        .body(due.body.clone())
        .send()
        .await;
    match res {
        Ok(r) => {
            let status = r.status().as_u16();
            let ra = if status == 429 || status == 503 {
                retry_after(r.headers())
            } else {
                None
            };
            let error = if r.status().is_success() {
                None
            } else {
                let text = r.text().await.unwrap_or_default();
                let excerpt: String = text.chars().take(200).collect();
                Some(format!("HTTP {status}: {}", excerpt.trim()))
            };
            Attempt {
                status: Some(status),
                error,
                duration: started.elapsed(),
                retry_after: ra,
            }
        }
        Err(e) => {
            // Never the URL: a Slack URL is a credential.
            let why = if e.is_timeout() {
                "timed out".to_string()
            } else if e.is_connect() {
                "could not connect".to_string()
            } else {
                "the request failed".to_string()
            };
            let source = std::error::Error::source(&e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            Attempt {
                status: None,
                error: Some(format!("{why}{source}")),
                duration: started.elapsed(),
                retry_after: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = (Utc::now() + chrono::Duration::seconds(120))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }
}
