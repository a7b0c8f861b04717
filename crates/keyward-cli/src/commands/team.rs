//! What the commands share on a team profile (a Keyward Server): the team's keys list, and the
//! last answers kept on this machine for `--offline`, with how old they are on stderr.

use keyward_core::api::{self, Cached};
use keyward_core::model::key::{KeyFilter, KeyView};
use keyward_core::{Result, keys};

use crate::app::App;
use crate::output::errln;

/// The team's keys: from the server, or with `offline` the last list kept here.
pub async fn keys(app: &App, offline: bool) -> Result<Vec<KeyView>> {
    if offline {
        return kept(app, api::KEYS_LIST).await;
    }
    Ok(api::team_keys(&app.ctx).await?.unwrap_or_default())
}

/// The last answer of `op` kept here, its age said on stderr (also with `--json`: stdout
/// stays the plain answer).
pub async fn kept<T: serde::de::DeserializeOwned + Send + 'static>(
    app: &App,
    op: &str,
) -> Result<T> {
    let c: Cached<T> = api::cached(&app.ctx, op).await?;
    errln!(
        "note: offline: the team's answer {}",
        api::cached_age(c.saved_at, chrono::Utc::now())
    );
    Ok(c.answer)
}

/// `keys list`'s filter on a key of the team's list (the server answers the whole list).
pub fn key_matches(f: &KeyFilter, k: &KeyView) -> bool {
    let key = &k.key;
    f.org_code
        .as_ref()
        .is_none_or(|o| key.org_code.as_ref() == Some(o))
        && f.user_id
            .as_ref()
            .is_none_or(|u| key.user_id.as_ref() == Some(u))
        && f.status.is_none_or(|s| key.status == s)
        && f.key_type.is_none_or(|t| key.key_type == t)
        && f.api_id.as_ref().is_none_or(|a| key.api_ids.contains(a))
        && keys::rules::Search::parse(f.search.as_deref()).matches(k)
}
