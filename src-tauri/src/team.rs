//! Team mode in the app: the Connect form's "Keyward Server" choice (types), the member and the
//! role table the UI disables actions by, and the watcher that follows the team server's event
//! stream on a team profile.
//!
//! On a team profile the app runs no sync of its own (the server does). The watcher opens
//! `GET /api/v1/events` and, for each `keys`, `alerts` or `sync` event, updates the sync status
//! line and emits the same `sync-state` event a local sync emits, so that the window runs its
//! usual delta path (`keys_changed_since`, which `keyward_core::api` sends to the server).
//! A broken stream shows as "Server unreachable, retrying…" in the status line and is resumed
//! from the last event id.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use keyward_core::operations::{NAMES, Role, role_of};
use keyward_core::remote::{Me, RemoteClient, ServerEvent};
use keyward_core::secret::Secret;
use keyward_core::{Error, ErrorCode};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager};
use ts_rs::TS;

use crate::shell::Shell;

/// "Test connection" of the Connect form's Keyward Server choice (nothing is saved).
#[derive(Debug, Deserialize, TS)]
#[ts(export)]
pub struct TeamDraft {
    /// `https://keyward.example.com`, or `http://127.0.0.1:PORT` on this machine.
    pub server: String,
    /// The member's personal access token (`kwp_…`); it goes to the OS keyring, nowhere else.
    #[ts(type = "string")]
    pub token: Secret,
}

/// A new team profile from the Connect form.
#[derive(Debug, Deserialize, TS)]
#[ts(export)]
pub struct NewTeamProfile {
    pub name: String,
    pub server: String,
    #[ts(type = "string")]
    pub token: Secret,
}

/// What editing a team profile changes; a field left `null` stays as it is.
#[derive(Debug, Deserialize, TS)]
#[ts(export)]
pub struct TeamEdit {
    pub server: Option<String>,
    /// A new personal token for the OS keyring.
    #[ts(type = "string | null")]
    pub token: Option<Secret>,
}

/// The open session on a team: who the member is, and what each operation needs.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TeamStatus {
    /// The team profile's Keyward Server (`null`: a Kinde profile, the demo or no profile).
    pub server: Option<String>,
    /// The member the profile's token belongs to (`null` until the server answered).
    pub member: Option<Me>,
    /// Why the member is not known (the server unreachable, the token revoked).
    pub error: Option<Error>,
    /// The least role each operation needs on a Keyward Server (from the one list of
    /// operations, `keyward_core::operations::role_of`), plus `sync_start` (operator).
    pub roles: BTreeMap<String, Role>,
}

/// The role table: every operation's least role, and the server's own `sync_start`.
pub fn roles() -> BTreeMap<String, Role> {
    let mut m: BTreeMap<String, Role> = NAMES
        .iter()
        .filter_map(|n| role_of(n).map(|r| ((*n).to_string(), r)))
        .collect();
    m.insert("sync_start".into(), Role::Operator);
    m
}

/// How long the watcher waits before it opens the stream again after it broke.
const RETRY_AFTER: Duration = Duration::from_secs(3);
/// After the server refused the token (revoked): wait longer before asking again.
const RETRY_REFUSED: Duration = Duration::from_secs(30);

/// Starts the watcher (once, at start-up): it follows whichever session is open.
pub fn spawn_watcher(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        loop {
            let shell = app.state::<Shell>();
            let mut changed = shell.session_changes();
            changed.borrow_and_update();
            let remote = match shell.ctx().await {
                Ok(ctx) => RemoteClient::of(&ctx).await,
                Err(_) => Ok(None),
            };
            match remote {
                Ok(Some(r)) => watch(&app, &r, &mut changed).await,
                Ok(None) => {
                    let _ = changed.changed().await;
                }
                Err(e) => {
                    // A team profile without its token: say so, try again on a change.
                    shell.team_unreachable(&app, &e);
                    let _ = tokio::time::timeout(RETRY_REFUSED, changed.changed()).await;
                }
            }
        }
    });
}

/// Follows `remote`'s events until the session changes.
async fn watch(
    app: &AppHandle,
    remote: &RemoteClient,
    changed: &mut tokio::sync::watch::Receiver<u64>,
) {
    let shell = app.state::<Shell>();
    let mut last_id: Option<String> = None;
    loop {
        let mut stream = remote.events(last_id.clone()).retries(0);
        loop {
            let next = tokio::select! {
                _ = changed.changed() => return,
                n = stream.next() => n,
            };
            match next {
                Ok(ev) => {
                    last_id = stream.last_event_id().map(str::to_string);
                    on_event(app, &shell, &ev).await;
                }
                Err(e) => {
                    last_id = stream.last_event_id().map(str::to_string).or(last_id);
                    log::info!("team events: {} ({})", e.message, e.code);
                    shell.team_unreachable(app, &e);
                    let wait =
                        if matches!(e.code, ErrorCode::Unauthenticated | ErrorCode::Forbidden) {
                            RETRY_REFUSED
                        } else {
                            RETRY_AFTER
                        };
                    if tokio::time::timeout(wait, changed.changed()).await.is_ok() {
                        return;
                    }
                    break;
                }
            }
        }
    }
}

/// One event of the team's stream: the status line follows it, and `sync-state` tells the
/// window to fetch the keys' delta and the alerts.
async fn on_event(app: &AppHandle, shell: &Shell, ev: &ServerEvent) {
    let now = Utc::now();
    match ev.event.as_str() {
        "keys" => {
            let changed = ev
                .json::<keyward_core::model::key::KeyChanges>()
                .map(|c| !c.keys.is_empty())
                .unwrap_or(true);
            shell.team_seen(app, changed.then_some(now), None);
        }
        "alerts" => {
            shell.team_seen(app, Some(now), None);
            shell.announce_team_alerts(app).await;
        }
        "sync" => {
            #[derive(Deserialize)]
            struct SyncEvent {
                state: String,
                finished_at: Option<chrono::DateTime<Utc>>,
            }
            if let Ok(s) = ev.json::<SyncEvent>() {
                match s.state.as_str() {
                    "running" => shell.team_seen(app, None, Some(true)),
                    _ => shell.team_seen(
                        app,
                        Some(s.finished_at.unwrap_or(now).max(now)),
                        Some(false),
                    ),
                }
            }
        }
        _ => {}
    }
}

/// The member of the open team profile, if any (asked once per session, then kept).
pub async fn status(shell: &Shell) -> TeamStatus {
    let mut st = TeamStatus {
        server: None,
        member: None,
        error: None,
        roles: roles(),
    };
    let Ok(ctx) = shell.ctx().await else {
        return st;
    };
    let Ok(profile) = ctx.profile().await else {
        return st;
    };
    if shell.is_demo().await {
        return st;
    }
    st.server = profile.server.clone();
    if st.server.is_none() {
        return st;
    }
    if let Some(m) = shell.team_member_kept() {
        st.member = Some(m);
        return st;
    }
    match keyward_core::api::team_member(&ctx).await {
        Ok(m) => {
            if let Some(m) = &m {
                shell.keep_team_member(m.clone());
            }
            st.member = m;
        }
        Err(e) => st.error = Some(e),
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_table_comes_from_the_operations_list() {
        let r = roles();
        assert_eq!(r.get("keys_revoke"), Some(&Role::Operator));
        assert_eq!(r.get("policy_set"), Some(&Role::Admin));
        assert_eq!(r.get("keys_changed_since"), Some(&Role::Viewer));
        assert_eq!(r.get("sync_start"), Some(&Role::Operator));
        assert_eq!(r.len(), NAMES.len() + 1);
    }

    #[test]
    fn an_unreachable_server_reads_as_retrying_and_a_refused_token_as_itself() {
        let e = crate::shell::unreachable_error(&Error::new(
            ErrorCode::ConnectionRefused,
            "nothing listens on 127.0.0.1:9",
            "h",
        ));
        assert_eq!(e.code, ErrorCode::Network);
        assert!(
            e.message.starts_with("Server unreachable, retrying…"),
            "{}",
            e.message
        );
        let e = crate::shell::unreachable_error(&Error::new(
            ErrorCode::Unauthenticated,
            "revoked",
            "h",
        ));
        assert_eq!(e.code, ErrorCode::Unauthenticated);
    }
}
