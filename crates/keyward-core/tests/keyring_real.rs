//! The real OS keyring (Secret Service on Linux). Ignored by default because it needs a running,
//! unlocked Secret Service; `scripts/keyring-test.sh` starts one (gnome-keyring in a private
//! D-Bus session, HOME in a scratch dir) and runs this with `--ignored`.

use keyward_core::ErrorCode;
use keyward_core::secret::Secret;
use keyward_core::secret::keyring::{KeyringStore, SecretStore};

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}

/// `secret-tool lookup service S username P`: reads the entry through libsecret, a client that
/// shares nothing with the keyring crate, so a pass proves the secret is in the Secret Service.
fn secret_tool_lookup(service: &str, profile: &str) -> Option<String> {
    let out = std::process::Command::new("secret-tool")
        .args(["lookup", "service", service, "username", profile])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

#[test]
#[ignore = "needs a real, unlocked Secret Service: run scripts/keyring-test.sh"]
fn keyring_set_read_back_from_a_fresh_entry_and_delete() {
    let service = unique("keyward-test");
    let profile = unique("profile");
    let value = format!("m2m-secret-{}", unique("v"));

    let writer = KeyringStore::with_service(&service);
    assert!(
        writer.get(&profile).unwrap().is_none(),
        "entry exists before set"
    );
    writer.set(&profile, &Secret::new(value.clone())).unwrap();

    // A brand-new store (and so a brand-new keyring::Entry) must find it.
    let reader = KeyringStore::with_service(&service);
    let got = reader
        .get(&profile)
        .unwrap()
        .expect("secret not found after set");
    assert_eq!(got.expose(), value);

    // And so must libsecret's own CLI, when it is installed.
    if which_secret_tool() {
        assert_eq!(
            secret_tool_lookup(&service, &profile).as_deref(),
            Some(value.as_str()),
            "secret-tool does not see the entry: it is not in the Secret Service"
        );
        let search = std::process::Command::new("secret-tool")
            .args(["search", "service", &service, "username", &profile])
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&search.stdout).to_string()
            + &String::from_utf8_lossy(&search.stderr);
        assert!(
            listing.contains(&format!("attribute.username = {profile}")),
            "{listing}"
        );
        eprintln!("secret-tool search found the entry:\n{listing}");
    }

    // Replacing keeps one entry with the new value.
    writer.set(&profile, &Secret::new("replaced")).unwrap();
    assert_eq!(reader.get(&profile).unwrap().unwrap().expose(), "replaced");

    reader.delete(&profile).unwrap();
    assert!(
        KeyringStore::with_service(&service)
            .get(&profile)
            .unwrap()
            .is_none()
    );
    // Deleting again is fine.
    writer.delete(&profile).unwrap();
    if which_secret_tool() {
        assert_eq!(secret_tool_lookup(&service, &profile), None);
    }
}

#[test]
#[ignore = "needs a session without any Secret Service: run scripts/keyring-test.sh"]
fn no_secret_service_is_keyring_unavailable_with_a_hint() {
    // scripts/keyring-test.sh runs this one outside the D-Bus session.
    let store = KeyringStore::with_service(&unique("keyward-test"));
    let e = store.set("p", &Secret::new("x")).unwrap_err();
    assert_eq!(e.code, ErrorCode::KeyringUnavailable);
    assert!(e.hint.contains("KEYWARD_CLIENT_SECRET"));
}

fn which_secret_tool() -> bool {
    std::process::Command::new("secret-tool")
        .arg("--version")
        .output()
        .is_ok()
}
