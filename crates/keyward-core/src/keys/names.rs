//! Resolving owner and API names for key views (best effort: a missing `read:users` scope
//! leaves names empty instead of failing the listing).

use std::collections::HashMap;

use crate::kinde::Client;
use crate::model::key::{ApiKey, KeyView};

#[derive(Debug, Default)]
pub(super) struct Names {
    orgs: HashMap<String, String>,
    users: HashMap<String, String>,
    apis: HashMap<String, String>,
}

impl Names {
    /// Orgs, users and APIs, fetched concurrently; any that fails stays empty.
    pub(super) async fn fetch(client: &Client) -> Names {
        let (orgs, users, apis) =
            futures::join!(client.list_orgs(), client.list_users(), client.list_apis());
        Names {
            orgs: orgs
                .map(|v| v.into_iter().map(|o| (o.code, o.name)).collect())
                .unwrap_or_default(),
            users: users
                .map(|v| {
                    v.into_iter()
                        .map(|u| (u.id.clone(), u.display_name()))
                        .collect()
                })
                .unwrap_or_default(),
            apis: apis
                .map(|v| v.into_iter().map(|a| (a.id, a.name)).collect())
                .unwrap_or_default(),
        }
    }

    /// The key with its owner and API names; the flags are left to [`super::rules::apply`].
    pub(super) fn view(&self, key: ApiKey) -> KeyView {
        let owner_name = match (&key.org_code, &key.user_id) {
            (Some(o), _) => self.orgs.get(o).cloned(),
            (None, Some(u)) => self.users.get(u).cloned(),
            _ => None,
        };
        let api_name = key.api_ids.first().and_then(|a| self.apis.get(a).cloned());
        KeyView {
            key,
            owner_name,
            api_name,
            stale: false,
            rotation_due: false,
            rotated_on: None,
            gone: false,
            details_owed: false,
            spark_7d: Vec::new(),
        }
    }
}
