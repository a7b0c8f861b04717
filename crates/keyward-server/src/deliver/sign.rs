//! Standard Webhooks signatures: `webhook-signature: v1,<base64(HMAC-SHA256(key, "{id}.{ts}.{body}"))>`,
//! several space-separated while a secret is rotated.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::WebhookSecret;

/// One `v1,<base64>` signature of `body` sent as message `id` at `timestamp` (Unix seconds).
pub fn sign_one(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// The `webhook-signature` header: the current secret's signature, then the previous one's
/// while it is rotated (receivers accept the message when any one verifies).
pub fn header(
    secret: &WebhookSecret,
    previous: Option<&WebhookSecret>,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut sigs = vec![sign_one(secret.key(), id, timestamp, body)];
    if let Some(p) = previous {
        sigs.push(sign_one(p.key(), id, timestamp, body));
    }
    sigs.join(" ")
}

/// Checks a `webhook-signature` header as a receiver does (any `v1,` entry that matches, in
/// constant time per entry). Used by the tests' receivers and by `check`'s self-test.
pub fn verify(key: &[u8], header: &str, id: &str, timestamp: i64, body: &[u8]) -> bool {
    let want = sign_one(key, id, timestamp, body);
    header.split(' ').any(|s| {
        s.len() == want.len()
            && s.bytes()
                .zip(want.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_core::secret::Secret;

    fn secret(s: &str) -> WebhookSecret {
        WebhookSecret::parse("test", &Secret::new(s)).unwrap()
    }

    #[test]
    fn reproduces_the_standard_webhooks_test_vector() {
        // The vector published with the Standard Webhooks reference libraries.
        let s = secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            header(&s, None, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_rotated_secret_sends_two_signatures_each_verifiable() {
        let new = secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let old = secret("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        let h = header(&new, Some(&old), "msg_x", 1700000000, b"{}");
        let parts: Vec<&str> = h.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        assert!(verify(new.key(), &h, "msg_x", 1700000000, b"{}"));
        assert!(verify(old.key(), &h, "msg_x", 1700000000, b"{}"));
        // Another body, id or time does not verify.
        assert!(!verify(new.key(), &h, "msg_x", 1700000000, b"{ }"));
        assert!(!verify(new.key(), &h, "msg_y", 1700000000, b"{}"));
        assert!(!verify(new.key(), &h, "msg_x", 1700000001, b"{}"));
    }
}
