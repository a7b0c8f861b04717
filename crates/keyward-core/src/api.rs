//! One entry point per operation, derived from THE list
//! ([`operations!`](macro@crate::operations)): `api::key_rotate(ctx, id)` runs the operation on
//! the profile's team server when the selected profile is a team profile (through
//! [`crate::remote::RemoteClient`]), else its own body here. Front ends (the CLI, the app's
//! commands) call these, so that the local and the team paths are one code path.
//!
//! After each successful answer from a team server to a read of the keys list, alerts,
//! handovers, insights or the audit log, the answer is kept under the profile's data dir
//! (`team/<profile>/<operation>.json`; never a secret: only viewer operations that carry none)
//! for `--offline` ([`cached`]). The app's start-up windows of the keys table are kept per
//! call as well and answer by themselves while the server cannot be reached ([`KEPT_PER_CALL`]).

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
    if CACHED.contains(&op) {
        keep_as(ctx, op, answer).await;
    }
}

/// The operations whose answers are also kept per call ([`kept_slot`]) and answered from there
/// when the team server cannot be reached: the app's start-up windows, so that a member who
/// opens Keyward while the server is down sees the team's keys as they last were (the status
/// line says the server is unreachable) instead of an empty table and an error.
const KEPT_PER_CALL: &[&str] = &["keys_window"];

/// The file a call's answer is kept under, for the calls [`KEPT_PER_CALL`] keeps: a window of
/// the keys table from its first row, without a search (the table at start-up, each filter and
/// sort the member used, and the counts: a few KB each, one per query and screen height); a
/// search's windows are not kept.
fn kept_slot(op: &str, args: &[Value]) -> Option<String> {
    match (op, args) {
        ("keys_window", [query, offset, limit]) => {
            let searched = query
                .get("search")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.trim().is_empty());
            if searched || offset.as_u64() != Some(0) {
                return None;
            }
            // FNV-1a over the query and the limit: stable across builds (a file name).
            let text = format!("{query}/{limit}");
            let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            Some(format!("{op}-{hash:016x}"))
        }
        _ => None,
    }
}

/// A team server's error for a call that has a kept answer: the answer, when the server could
/// not be reached; else the error.
async fn kept_or<T: serde::de::DeserializeOwned + Send + 'static>(
    ctx: &AppCtx,
    slot: Option<String>,
    e: Error,
) -> Result<T> {
    use ErrorCode::{ConnectionRefused, Dns, Network, Offline, Timeout, Tls};
    match slot {
        Some(slot)
            if matches!(
                e.code,
                Dns | Tls | ConnectionRefused | Timeout | Network | Offline
            ) =>
        {
            match cached::<T>(ctx, &slot).await {
                Ok(c) => {
                    tracing::info!(code = %e.code, "the team server is unreachable: {slot} answered from its kept answer of {}", c.saved_at);
                    Ok(c.answer)
                }
                Err(_) => Err(e),
            }
        }
        _ => Err(e),
    }
}

/// Keeps `answer` under `name` in the profile's kept answers (best effort).
async fn keep_as<T: Serialize>(ctx: &AppCtx, name: &str, answer: &T) {
    let Ok(profile) = ctx.profile().await else {
        return;
    };
    let path = cache_path(ctx, &profile.name, name);
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

/// At most this many kept answers per call of [`KEPT_PER_CALL`] and profile: the oldest go
/// when a new one is kept (each is a screen of rows: a few KB).
const KEPT_SLOTS_MAX: usize = 32;

/// Keeps `answer` under `slot` ([`kept_slot`]), and removes the oldest of the same call's kept
/// answers beyond [`KEPT_SLOTS_MAX`] (never the one just written). Best effort, like [`keep_as`].
async fn keep_slot<T: Serialize>(ctx: &AppCtx, op: &str, slot: &str, answer: &T) {
    keep_as(ctx, slot, answer).await;
    let Ok(profile) = ctx.profile().await else {
        return;
    };
    let path = cache_path(ctx, &profile.name, slot);
    let prefix = format!("{op}-");
    let _ = blocking(move || {
        prune_slots(&path, &prefix, KEPT_SLOTS_MAX);
        Ok(())
    })
    .await;
}

/// Removes the oldest files named `prefix*.json` beside `keep` until at most `max` are left,
/// `keep` among them.
fn prune_slots(keep: &std::path::Path, prefix: &str, max: usize) {
    let Some(dir) = keep.parent() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut others: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".json") && e.path() != keep
        })
        .map(|e| {
            let at = e
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (at, e.path())
        })
        .collect();
    let room = max.saturating_sub(1);
    if others.len() <= room {
        return;
    }
    others.sort();
    for (_, old) in &others[..others.len() - room] {
        let _ = std::fs::remove_file(old);
    }
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

/// The leak scan: the files are read here, on this machine, always; on a team profile the
/// hits are matched against the team's keys fetched from its server (only prefixes and
/// suffixes are compared; no secret leaves the machine), else against the local store.
pub async fn scan(
    ctx: &AppCtx,
    paths: Vec<PathBuf>,
    opts: crate::leaks::scan::ScanOptions,
) -> Result<crate::model::leak::ScanReport> {
    if crate::remote::RemoteClient::of(ctx).await?.is_none() {
        return crate::leaks::scan(ctx, paths, opts).await;
    }
    let walked = blocking(move || crate::leaks::scan::walk(&paths, opts)).await?;
    let keys = if walked.hits.is_empty() {
        Vec::new()
    } else {
        team_keys(ctx).await?.unwrap_or_default()
    };
    Ok(crate::leaks::report(walked, keys.iter()))
}

/// `export` to `path`: on a team profile the server renders the keys, history or audit log
/// as CSV or JSON (`export_text`, the same file a local export writes) and this machine writes
/// it; else the local export.
pub async fn export(
    ctx: &AppCtx,
    what: crate::export::ExportWhat,
    format: crate::export::ExportFormat,
    path: &std::path::Path,
) -> Result<crate::export::ExportSummary> {
    let Some(r) = crate::remote::RemoteClient::of(ctx).await? else {
        return crate::export::to_file(ctx, what, format, path).await;
    };
    if path.as_os_str().is_empty() {
        return Err(Error::invalid_input(
            "out",
            "is empty",
            "Give a file to write, e.g. --out keys.csv.",
        ));
    }
    let out = r.export_text(what, format).await?;
    let target = path.to_path_buf();
    let bytes = out.text.into_bytes();
    blocking(move || {
        crate::fsutil::write_atomic(&target, &bytes, crate::fsutil::Mode::KeepOrPrivate)
    })
    .await?;
    Ok(crate::export::ExportSummary {
        what,
        format,
        path: path.display().to_string(),
        rows: out.rows,
    })
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

/// "Test connection" of a Keyward Server: who `token` belongs to on `server` (`GET
/// /api/v1/me`); nothing is saved. Errors name their field: `server: …` (a bad URL, http to a
/// host that is not loopback), a network code (unreachable), `unauthenticated` (a bad or
/// revoked token).
pub async fn team_check(
    ctx: &AppCtx,
    server: &str,
    token: &crate::secret::Secret,
) -> Result<crate::remote::Me> {
    let token = crate::secret::Secret::new(token.expose().trim().to_string());
    let client = crate::remote::RemoteClient::new(
        server,
        token,
        ctx.client_options().root_cert_pem.as_deref(),
    )?;
    client.me().await
}

/// The member the selected team profile's token belongs to; `None` on a Kinde profile.
pub async fn team_member(ctx: &AppCtx) -> Result<Option<crate::remote::Me>> {
    match crate::remote::RemoteClient::of(ctx).await? {
        Some(r) => r.me().await.map(Some),
        None => Ok(None),
    }
}

/// Edits the team profile `name`: a new server address and/or a new personal token (to the
/// OS keyring). The pair is checked with `GET /api/v1/me` first, and nothing changes if that
/// fails; when config.toml cannot be written the previous token is put back. A default profile
/// stays the default. Answers the member the token belongs to.
pub async fn team_update(
    ctx: &AppCtx,
    name: &str,
    server: Option<&str>,
    token: Option<crate::secret::Secret>,
) -> Result<crate::remote::Me> {
    use crate::secret::{Secret, keyring};
    let mut cfg = ctx.load_config().await?;
    let Some(old) = cfg.find(name).cloned() else {
        return Err(crate::config::profile_not_found(name, &cfg));
    };
    let Some(old_server) = old.server.clone() else {
        return Err(Error::invalid_input(
            "profile",
            format!("{name:?} is a Kinde profile, not a team profile"),
            "Edit its Kinde domain, client id or secret instead.",
        ));
    };
    let profile = crate::config::Profile::team(
        name,
        server.map_or(old_server.as_str(), str::trim),
        old.environment,
    )?;
    let new_token = match token {
        Some(t) if t.expose().trim().is_empty() => {
            return Err(Error::invalid_input(
                "token",
                "is empty",
                "Paste the kwp_… token that `keyward-server member add` printed, or leave it \
                 out to keep the stored one.",
            ));
        }
        Some(t) => Some(Secret::new(t.expose().trim().to_string())),
        None => None,
    };
    let before = keyring::get_blocking(ctx.secrets(), name).await?;
    let token = match (&new_token, &before) {
        (Some(t), _) | (None, Some(t)) => t.clone(),
        (None, None) => {
            return Err(Error::invalid_input(
                "token",
                "none is stored for this profile",
                "Paste the member's kwp_… token.",
            ));
        }
    };
    let server_url = profile.server.clone().unwrap_or_default();
    let me = team_check(ctx, &server_url, &token).await?;
    if let Some(t) = new_token {
        keyring::set_blocking(ctx.secrets(), name, t).await?;
    }
    for p in &mut cfg.profiles {
        if p.name == name {
            *p = profile.clone();
        }
    }
    if let Err(e) = ctx.save_config(cfg).await {
        let restored = match before {
            Some(b) => keyring::set_blocking(ctx.secrets(), name, b).await,
            None => keyring::delete_blocking(ctx.secrets(), name).await,
        };
        if let Err(r) = restored {
            tracing::warn!(code = %r.code, "could not put back the previous token of {name:?}: {}", r.message);
        }
        return Err(e);
    }
    if server_url != old_server {
        // Another server's answers are not this one's.
        let kept = ctx.paths().data_dir.join("team").join(name);
        let _ = blocking(move || {
            std::fs::remove_dir_all(&kept).or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(Error::io("removing the kept team answers", &e)),
            })
        })
        .await;
    }
    Ok(me)
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
                    let op = stringify!($name);
                    let slot = if KEPT_PER_CALL.contains(&op) {
                        kept_slot(op, &[$(serde_json::to_value(&$arg).unwrap_or_default()),*])
                    } else {
                        None
                    };
                    return match r.$name($($arg),*).await {
                        Ok(out) => {
                            keep(ctx, op, &out).await;
                            if let Some(slot) = &slot {
                                keep_slot(ctx, op, slot, &out).await;
                            }
                            Ok(out)
                        }
                        Err(e) => kept_or(ctx, slot, e).await,
                    };
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

    #[tokio::test]
    async fn without_a_profile_the_operations_run_locally_as_before() {
        let home = tempfile::tempdir().unwrap();
        let ctx = AppCtx::new(
            Some(home.path().to_path_buf()),
            std::sync::Arc::new(crate::secret::keyring::MemoryStore::new()),
        )
        .unwrap();
        let n = key_reissued_name(&ctx, "Billing".into()).await.unwrap();
        assert!(n.starts_with("Billing (re-issued "), "{n}");
        let e = key_show(&ctx, "api_key_1".into()).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::ProfileNotFound);
        assert!(ctx.team_slot().get().is_none());
    }

    /// A home with one team profile "team" on port 9 of loopback (nothing listens there),
    /// its token `token` in an in-memory keyring.
    async fn team_ctx(
        token: &str,
    ) -> (
        tempfile::TempDir,
        std::sync::Arc<crate::secret::keyring::MemoryStore>,
        AppCtx,
    ) {
        let home = tempfile::tempdir().unwrap();
        let secrets = std::sync::Arc::new(crate::secret::keyring::MemoryStore::new());
        let ctx = AppCtx::new(Some(home.path().to_path_buf()), secrets.clone()).unwrap();
        crate::profiles::add_team(
            &ctx,
            "team",
            "http://127.0.0.1:9",
            Some(crate::secret::Secret::new(token)),
            None,
            false,
        )
        .await
        .unwrap();
        (home, secrets, ctx)
    }

    #[tokio::test]
    async fn kept_windows_are_capped_per_profile_oldest_first() {
        let (_home, _secrets, ctx) = team_ctx("kwp_x").await;
        let dir = cache_path(&ctx, "team", "x")
            .parent()
            .unwrap()
            .to_path_buf();
        // Another call's kept answer is not one of the windows: never pruned.
        keep_as(&ctx, "alerts_list", &serde_json::json!([])).await;
        let slots: Vec<String> = (0..KEPT_SLOTS_MAX + 8)
            .map(|i| {
                let q = serde_json::json!({ "search": "", "status": format!("s{i}") });
                kept_slot("keys_window", &[q, 0.into(), 48.into()]).unwrap()
            })
            .collect();
        for (i, slot) in slots.iter().enumerate() {
            keep_slot(&ctx, "keys_window", slot, &serde_json::json!({ "n": i })).await;
            // The first ones written are the oldest, whatever the clock's grain.
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000 + i as u64);
            let f = std::fs::File::options()
                .append(true)
                .open(cache_path(&ctx, "team", slot))
                .unwrap();
            f.set_modified(at).unwrap();
        }
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("keys_window-"))
            .collect();
        left.sort();
        let mut newest: Vec<String> = slots[slots.len() - KEPT_SLOTS_MAX..]
            .iter()
            .map(|s| format!("{s}.json"))
            .collect();
        newest.sort();
        assert_eq!(left, newest, "the newest {KEPT_SLOTS_MAX} windows are kept");
        assert!(
            dir.join("alerts_list.json").exists(),
            "other kept answers stay"
        );
        // The last one still answers as a kept answer.
        let c: Cached<Value> = cached(&ctx, slots.last().unwrap()).await.unwrap();
        assert_eq!(c.answer["n"], (KEPT_SLOTS_MAX + 7) as u64);
    }

    #[tokio::test]
    async fn a_team_profile_edit_is_checked_with_the_server_before_anything_changes() {
        use crate::secret::{Secret, keyring};
        let (_home, secrets, ctx) = team_ctx("kwp_old").await;
        let before = std::fs::read_to_string(ctx.paths().config_file()).ok();
        // http to a host that is not loopback: refused at the server field, nothing sent.
        let e = team_update(&ctx, "team", Some("http://keyward.example.com"), None)
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.starts_with("server:"), "{}", e.message);
        let e = team_update(&ctx, "team", None, Some(Secret::new("  ")))
            .await
            .unwrap_err();
        assert!(e.message.starts_with("token:"), "{}", e.message);
        // A new token the server cannot confirm (unreachable): nothing changes.
        let e = team_update(&ctx, "team", None, Some(Secret::new("kwp_new")))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e.code,
                ErrorCode::ConnectionRefused | ErrorCode::Network | ErrorCode::Timeout
            ),
            "{e:?}"
        );
        assert!(!e.message.contains("kwp_new"), "{}", e.message);
        let kept = keyring::get_blocking(secrets.clone(), "team")
            .await
            .unwrap();
        assert_eq!(kept.unwrap().expose(), "kwp_old");
        assert_eq!(
            std::fs::read_to_string(ctx.paths().config_file()).ok(),
            before
        );
        // A Kinde profile is not edited here.
        crate::profiles::add(
            &ctx,
            crate::profiles::ProfileInput {
                name: "kinde".into(),
                domain: "mybiz.kinde.com".into(),
                client_id: "0123456789abcdef0123456789abcdef".into(),
                environment: None,
            },
            Some(Secret::new("s")),
        )
        .await
        .unwrap();
        let e = team_update(&ctx, "kinde", None, Some(Secret::new("kwp_x")))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains("not a team profile"), "{}", e.message);
    }

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
