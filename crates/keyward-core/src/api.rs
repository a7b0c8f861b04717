//! One entry point per operation, derived from THE list
//! ([`operations!`](macro@crate::operations)): `api::key_rotate(ctx, id)` runs the operation on
//! the profile's team server when the selected profile is a team profile (through
//! [`crate::remote::RemoteClient`]), else its own body here. Front ends (the CLI, the app's
//! commands) call these, so that the local and the team paths are one code path.
//!
//! After each successful answer from a team server to a read of the keys list, alerts,
//! handovers, insights or the audit log, the answer is kept under the profile's data dir
//! (`team/<profile>/<operation>.json`; never a secret: only viewer operations that carry none)
//! for `--offline` ([`cached`]).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ctx::{AppCtx, blocking};
use crate::error::{Error, ErrorCode, Result};

/// The operations whose last team answer is kept for `--offline` (reads without a secret;
/// their arguments are a filter at most).
pub const CACHED: &[&str] = &[
    KEYS_LIST,
    "alerts_list",
    "handovers_list",
    "insights",
    "audit_list",
];

/// A kept answer and when it came.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cached<T> {
    pub saved_at: DateTime<Utc>,
    pub answer: T,
}

fn cache_path(ctx: &AppCtx, profile: &str, op: &str) -> PathBuf {
    ctx.paths()
        .data_dir
        .join("team")
        .join(profile)
        .join(format!("{op}.json"))
}

/// Keeps `answer` as the last answer of `op` (best effort: a failure only loses the cache).
async fn keep<T: Serialize>(ctx: &AppCtx, op: &str, answer: &T) {
    if !CACHED.contains(&op) {
        return;
    }
    let Ok(profile) = ctx.profile().await else {
        return;
    };
    let path = cache_path(ctx, &profile.name, op);
    let Ok(body) = serde_json::to_vec(&Cached {
        saved_at: Utc::now(),
        answer,
    }) else {
        return;
    };
    let _ = blocking(move || {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("creating the cache dir", &e))?;
        }
        crate::config::write_atomic(&path, &body)
    })
    .await;
}

/// The last answer of `op` a team server gave on this machine, and when (`--offline`).
pub async fn cached<T: serde::de::DeserializeOwned + Send + 'static>(
    ctx: &AppCtx,
    op: &str,
) -> Result<Cached<T>> {
    let profile = ctx.profile().await?;
    let path = cache_path(ctx, &profile.name, op);
    let name = profile.name.clone();
    let op = op.to_string();
    blocking(move || {
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::new(
                    ErrorCode::Offline,
                    format!("nothing of {op} is kept here for team profile {name:?}"),
                    "Run the command once while the Keyward Server is reachable; its answer is \
                     then kept for --offline.",
                ));
            }
            Err(e) => return Err(Error::io(&format!("reading {}", path.display()), &e)),
        };
        serde_json::from_slice(&text).map_err(|e| {
            Error::new(
                ErrorCode::Io,
                format!("the kept answer {} cannot be read ({e})", path.display()),
                "Delete the file; the next answer from the server replaces it.",
            )
        })
    })
    .await
}

/// How old a kept answer is, in words (`cached 3 min ago`).
pub fn cached_age(saved_at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - saved_at).num_seconds().max(0);
    let ago = match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86400),
    };
    format!(
        "cached {ago} ago ({} UTC)",
        saved_at.format("%Y-%m-%d %H:%M")
    )
}

/// The name the team's whole keys list is kept under.
pub const KEYS_LIST: &str = "keys_list";

/// The team's whole keys list (gone keys left out) from its server, kept for `--offline`;
/// `None` on a Kinde profile (the caller reads its local store).
pub async fn team_keys(ctx: &AppCtx) -> Result<Option<Vec<crate::model::key::KeyView>>> {
    let Some(r) = crate::remote::RemoteClient::of(ctx).await? else {
        return Ok(None);
    };
    let mut keys = r.keys_changed_since(0.0).await?.keys;
    keys.retain(|k| !k.gone);
    keep(ctx, KEYS_LIST, &keys).await;
    Ok(Some(keys))
}

/// A team server's `sync_start`: its progress to `on_progress`; on a Kinde profile, `None`
/// (the caller runs the local sync).
pub async fn team_sync(
    ctx: &AppCtx,
    on_progress: impl FnMut(crate::model::sync::SyncProgress),
) -> Result<Option<crate::model::sync::SyncSummary>> {
    match crate::remote::RemoteClient::of(ctx).await? {
        Some(r) => r.sync_start(on_progress).await.map(Some),
        None => Ok(None),
    }
}

/// Runs `name` with JSON arguments, on the team server or locally (the JSON form of the
/// functions below).
pub async fn call(ctx: &AppCtx, name: &str, args: Value) -> Result<Value> {
    match crate::remote::RemoteClient::of(ctx).await? {
        Some(r) => {
            let v = r.call(name, args).await?;
            keep(ctx, name, &v).await;
            Ok(v)
        }
        None => crate::operations::call(ctx, name, args).await,
    }
}

macro_rules! api_ops {
    (
        ops {
            $(
                $(#[doc = $doc:literal])*
                #[role($role:ident)]
                fn $name:ident ( $ctx:ident $(, $arg:ident : $ty:ty)* ) -> $ret:ty $body:block
            )*
        }
    ) => {
        $(
            $(#[doc = $doc])*
            ///
            /// On a team profile: on its Keyward Server.
            #[allow(clippy::too_many_arguments)]
            pub async fn $name(ctx: &AppCtx $(, $arg: $ty)*) -> Result<$ret> {
                if let Some(r) = crate::remote::RemoteClient::of(ctx).await? {
                    let out = r.$name($($arg),*).await?;
                    keep(ctx, stringify!($name), &out).await;
                    return Ok(out);
                }
                let $ctx: &AppCtx = ctx;
                let out: Result<$ret> = async $body.await;
                out
            }
        )*
    };
}

crate::operations!(api_ops {});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_age_of_a_kept_answer_reads_in_words() {
        let now = Utc::now();
        let t = now - chrono::Duration::seconds(190);
        assert!(
            cached_age(t, now).starts_with("cached 3 min ago"),
            "{}",
            cached_age(t, now)
        );
        assert!(cached_age(now, now).starts_with("cached 0 s ago"));
    }
}
