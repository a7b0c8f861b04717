//! Properties of the profile input checks: no panic on any input, and what passes is a clean,
//! stable base URL.

use keyward_core::config::{normalize_domain, validate_client_id, validate_profile_name};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn domain_checks_never_panic_and_accepted_domains_are_clean(
        input in prop_oneof![
            any::<String>(),
            "(https?://)?[a-zA-Z0-9.\\-\\[\\]:/?#@ ]{0,40}",
            "(http://)?(127\\.0\\.0\\.1|localhost|\\[::1\\]|10\\.0\\.0\\.1|x\\.kinde\\.com)(:[0-9]{1,6})?/?",
        ]
    ) {
        if let Ok(url) = normalize_domain(&input) {
            prop_assert!(matches!(url.scheme(), "https" | "http"));
            prop_assert_eq!(url.path(), "/");
            prop_assert!(url.query().is_none() && url.fragment().is_none());
            prop_assert!(url.username().is_empty() && url.password().is_none());
            prop_assert!(!input.chars().any(char::is_whitespace));
            if url.scheme() == "http" {
                let host = url.host_str().unwrap_or_default();
                prop_assert!(
                    host == "localhost" || host.starts_with("127.") || host == "[::1]",
                    "http allowed for {}", host
                );
            }
            // Normalizing the result again changes nothing.
            let again = normalize_domain(url.as_str().trim_end_matches('/')).unwrap();
            prop_assert_eq!(again, url);
        }
    }

    #[test]
    fn name_and_id_checks_never_panic(s in any::<String>()) {
        let _ = validate_profile_name(&s);
        if validate_client_id(&s).is_ok() {
            prop_assert!(!s.is_empty() && !s.chars().any(char::is_whitespace));
        }
    }
}
