//! No panic on any input: arbitrary bodies and statuses from the server, arbitrary domains,
//! ids and pasted keys from the user. Every error that comes out carries a hint.

use std::sync::Arc;

use crate::support::fake_kinde::*;
use crate::support::*;
use keyward_core::doctor::clean::clean_key;
use keyward_core::kinde::wire::{
    ApisResponse, KeyResponse, KeysResponse, NewKeyResponse, OrgsResponse, TokenResponse,
    UsersResponse, VerifyResponse, parse, parse_date,
};
use keyward_core::kinde::{
    ClientOptions, CreateKeyRequest, ListKeysQuery, parse_base_url, validate_id,
};
use keyward_core::model::key::Owner;
use keyward_core::secret::Secret;
use parking_lot::Mutex;
use proptest::prelude::*;

fn convert_all(body: &[u8]) {
    if let Ok(r) = parse::<KeysResponse>(body, "t") {
        for k in r.api_keys.unwrap_or_default() {
            let _ = k.into_model("t");
        }
    }
    if let Ok(KeyResponse { api_key: Some(k) }) = parse::<KeyResponse>(body, "t") {
        let _ = k.into_model("t");
    }
    if let Ok(r) = parse::<VerifyResponse>(body, "t") {
        let _ = r.into_model("t");
    }
    if let Ok(r) = parse::<ApisResponse>(body, "t") {
        for a in r.apis.unwrap_or_default() {
            let _ = a.into_model("t");
        }
    }
    if let Ok(r) = parse::<OrgsResponse>(body, "t") {
        for o in r.organizations.unwrap_or_default() {
            let _ = o.into_model("t");
        }
    }
    if let Ok(r) = parse::<UsersResponse>(body, "t") {
        for u in r.users.unwrap_or_default() {
            let _ = u.into_model("t");
        }
    }
    let _ = parse::<NewKeyResponse>(body, "t");
    let _ = parse::<TokenResponse>(body, "t");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_wire_layer(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        convert_all(&body);
        if let Err(e) = parse::<KeysResponse>(&body, "t") {
            prop_assert!(!e.hint.is_empty());
        }
    }

    #[test]
    fn kinde_shaped_json_with_arbitrary_values_never_panics(
        id in ".{0,40}", t in ".{0,12}", st in "(active|inactive|revoked|.{0,8})",
        date in ".{0,40}", n in any::<i64>(), more in any::<bool>(),
    ) {
        let key = serde_json::json!({"id": id, "name": id, "type": t, "status": st,
            "created_on": date, "last_verified_on": date, "verification_count": n,
            "organization_id": id, "scopes": [id]});
        let body = serde_json::json!({"has_more": more, "api_keys": [key], "api_key": key,
            "is_valid": more, "status": st, "apis": [{"id": id, "scopes": [{"id": id, "key": t}]}],
            "organizations": [{"code": id}], "users": [{"id": id}]});
        convert_all(body.to_string().as_bytes());
        let _ = parse_date(&date);
    }

    #[test]
    fn arbitrary_user_input_never_panics(s in "\\PC{0,60}", raw in ".{0,80}") {
        let _ = parse_base_url(&s);
        let _ = validate_id("key id", &s);
        let c = clean_key(&raw);
        prop_assert!(!c.cleaned.starts_with(char::is_whitespace));
        if let Err(e) = parse_base_url(&s) {
            prop_assert!(!e.hint.is_empty());
        }
    }
}

#[test]
fn arbitrary_answers_over_http_give_errors_with_hints_not_panics() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let slot: Arc<Mutex<(u16, String)>> = Arc::new(Mutex::new((200, String::new())));
    let s2 = slot.clone();
    let f = rt.block_on(fake(move |req, _| {
        if req.path == "/oauth2/token" {
            return token_reply(3600);
        }
        let (status, body) = s2.lock().clone();
        Reply::json(status, &body).header("ratelimit-reset", "0")
    }));
    let opts = ClientOptions {
        max_rate_limit_waits: 0,
        ..fast()
    };
    let c = client_for(&f.base(), "id", "secret", opts);
    let statuses = prop_oneof![
        Just(200u16),
        Just(201),
        Just(204),
        Just(400),
        Just(401),
        Just(403),
        Just(404),
        Just(409),
        Just(429),
        Just(500),
        Just(503),
        200u16..600,
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(statuses, proptest::collection::vec(any::<u8>(), 0..200)),
            |(status, bytes)| {
                *slot.lock() = (status, String::from_utf8_lossy(&bytes).into_owned());
                rt.block_on(async {
                    let req = CreateKeyRequest {
                        name: "n".into(),
                        owner: Owner::User {
                            user_id: "kp_1".into(),
                        },
                        api_id: "a".into(),
                        scope_ids: vec![],
                    };
                    let errors = [
                        c.list_keys_page(&ListKeysQuery::default()).await.err(),
                        c.get_key("api_key_1").await.err(),
                        c.create_key(&req).await.err(),
                        c.rotate_key("api_key_1").await.err(),
                        c.revoke_key("api_key_1").await.err(),
                        c.verify_key(&Secret::new("k_live_1")).await.err(),
                        c.list_apis().await.err(),
                        c.list_orgs().await.err(),
                        c.list_users().await.err(),
                    ];
                    for e in errors.into_iter().flatten() {
                        assert!(!e.hint.trim().is_empty(), "{e:?}");
                        assert!(!e.message.trim().is_empty(), "{e:?}");
                    }
                });
                Ok(())
            },
        )
        .unwrap();
}
