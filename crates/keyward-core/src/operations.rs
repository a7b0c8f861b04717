//! THE list of operations a front end can call over a context, declared once.
//!
//! [`operations!`](macro@crate::operations) hands the list to a front end's own macro, which derives
//! from it what that front end needs: the desktop shell its Tauri commands, invoke handler,
//! TypeScript wrappers and capability (`src-tauri/src/declare.rs`); a server its routes and
//! client. [`call`] is derived here, from the same list: one operation by name with JSON
//! arguments and a JSON answer, which is what a server route or a remote client carries.
//!
//! Syntax of one entry: `#[role(viewer|operator|admin)] fn name(ctx, arg: Type, …) -> Ret { body }`,
//! after its doc comment, where `body` runs with `ctx: &AppCtx` and the arguments in scope and
//! evaluates to `Result<Ret>`. The role is the least a team member needs to call it on a
//! Keyward Server ([`Role`], [`role_of`]): a viewer reads, an operator also creates, rotates,
//! re-issues and revokes keys, acknowledges and mutes alerts and marks canaries, an admin also
//! changes policy. Every entry has one: the macros accept no entry without it. Every type is
//! written with `$crate::` so that the list expands in any crate. A front end may put entries of
//! its own before the list: `operations!(my_macro { own entries })` expands to
//! `my_macro! { own entries ops { the list } }`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::ctx::AppCtx;
use crate::error::{Error, ErrorCode, Result};

/// A team member's role on a Keyward Server, from the least to the most it may do: each role
/// may do what the roles before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Also creates, rotates, re-issues and revokes keys, acknowledges and mutes alerts, marks
    /// canaries.
    Operator,
    /// Also changes policy, destinations and members.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Result<Role> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(Error::invalid_input(
                "role",
                format!("unknown role {other:?}"),
                "Use one of viewer, operator, admin.",
            )),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `role!(viewer)` → `Role::Viewer`: an entry's role token (any other token does not compile).
macro_rules! role {
    (viewer) => {
        Role::Viewer
    };
    (operator) => {
        Role::Operator
    };
    (admin) => {
        Role::Admin
    };
}

/// Expands `$callback! { $extra ops { every operation } }` (see the module docs).
#[macro_export]
macro_rules! operations {
    ($callback:ident { $($extra:tt)* }) => {
        $callback! {
            $($extra)*
            ops {
                /// Keys changed since a change cursor (0: all), from the cache, with the current
                /// cursor: a sync's delta for the table.
                #[role(viewer)]
                fn keys_changed_since(ctx, since_rev: f64) -> $crate::model::key::KeyChanges {
                    let since = if since_rev.is_finite() && since_rev > 0.0 {
                        since_rev.min(9.0e15) as i64
                    } else {
                        0
                    };
                    $crate::keys::changed_since(ctx, since).await
                }
                /// One window of the keys table from the cache: the rows `offset..offset + limit`
                /// (limit at most 1000) of the keys matching `query` in its order, how many match,
                /// the change cursor and the per-status counts. The table never holds the whole list.
                #[role(viewer)]
                fn keys_window(ctx, query: $crate::model::key::KeyWindowQuery, offset: u32, limit: u32) -> $crate::model::key::KeyWindow {
                    $crate::keys::rules::window(ctx, query, offset, limit).await
                }
                /// The ids of the cached keys matching `query` that are not revoked, in id order:
                /// a selection of "every key matching", resolved for a bulk revoke.
                #[role(viewer)]
                fn keys_matching_revocable(ctx, query: $crate::model::key::KeyWindowQuery) -> Vec<String> {
                    $crate::keys::rules::revocable_matching(ctx, query).await
                }
                /// One key, fresh from Kinde.
                #[role(viewer)]
                fn key_show(ctx, id: String) -> $crate::model::key::KeyView {
                    $crate::keys::show(ctx, &id).await
                }
                /// The cached keys of `ids` (at most 1000; unknown ids left out), from the store
                /// alone: the names and masked secrets of the keys a screen shows, and one key's
                /// page before Kinde answers. No screen holds the whole list.
                #[role(viewer)]
                fn keys_by_ids(ctx, ids: Vec<String>) -> Vec<$crate::model::key::KeyView> {
                    $crate::keys::cached_by_ids(ctx, ids).await
                }
                /// Creates a key; its secret is in the answer, once.
                #[role(operator)]
                fn key_create(ctx, input: $crate::model::key::CreateKeyInput) -> $crate::model::key::NewKey {
                    $crate::keys::create(ctx, input).await
                }
                /// Rotates a key: the old secret stops working at once.
                #[role(operator)]
                fn key_rotate(ctx, id: String) -> $crate::model::key::NewKey {
                    $crate::keys::rotate(ctx, &id).await
                }
                /// Re-issues a key (same or new scopes; `name`: the new key's, default "… (re-issued
                /// DATE)"). The old one keeps working until revoked, or, with `old_key_expires`
                /// (`1h`, `24h`, `3d`, `7d`, `90m`…), until the first sync after that time from now.
                #[role(operator)]
                fn key_reissue(ctx, id: String, scopes: Option<Vec<String>>, name: Option<String>, old_key_expires: Option<String>) -> $crate::model::key::Reissued {
                    let old_key_expires = match old_key_expires.as_deref() {
                        Some(s) => $crate::keys::parse_old_key_expires(s)?,
                        None => None,
                    };
                    $crate::keys::reissue_with(ctx, &id, $crate::keys::ReissueOptions { scopes, name, old_key_expires }).await
                }
                /// What a re-issue of a key named `name` would call the new key today
                /// ("Billing (re-issued 2026-12-07)"): the re-issue dialog's prefilled name.
                #[role(viewer)]
                fn key_reissued_name(ctx, name: String) -> String {
                    let _ = ctx;
                    Ok::<_, $crate::error::Error>($crate::keys::reissued_name(&name, chrono::Utc::now()))
                }
                /// Revokes one or many keys; every key gets an outcome.
                #[role(operator)]
                fn keys_revoke(ctx, ids: Vec<String>) -> $crate::model::key::RevokeSummary {
                    $crate::keys::revoke(ctx, &ids).await
                }
                /// Creates a key marked as a canary; the secret is shown once.
                #[role(operator)]
                fn canary_create(ctx, input: $crate::model::key::CreateKeyInput) -> $crate::model::key::NewKey {
                    $crate::keys::create_canary(ctx, input).await
                }
                /// Verifies a pasted key with Kinde (it counts as one verification of that key).
                #[role(viewer)]
                fn key_verify(ctx, input: $crate::model::doctor::VerifyKeyInput) -> $crate::model::key::VerifyResult {
                    $crate::keys::verify(ctx, &input.key).await
                }
                /// The recent sync runs of the profile, newest first (`limit`: 1 to 1000).
                #[role(viewer)]
                fn sync_runs(ctx, limit: u32) -> Vec<$crate::model::sync::SyncRunRecord> {
                    $crate::sync::runs(ctx, limit).await
                }
                /// Keys, history or the audit log as the text of a CSV or JSON file (what
                /// `export` writes; a team profile's member writes it on their machine).
                #[role(viewer)]
                fn export_text(ctx, what: $crate::export::ExportWhat, format: $crate::export::ExportFormat) -> $crate::export::ExportText {
                    $crate::export::text(ctx, what, format).await
                }
                /// Open re-issues (handovers) and whether their old keys are safe to revoke.
                #[role(viewer)]
                fn handovers_list(ctx) -> Vec<$crate::model::key::Handover> {
                    $crate::keys::handover::list(ctx).await
                }
                /// The APIs with their scopes.
                #[role(viewer)]
                fn apis_list(ctx) -> Vec<$crate::model::key::Api> {
                    $crate::directory::apis(ctx).await
                }
                /// Organizations, optionally searched.
                #[role(viewer)]
                fn orgs_list(ctx, search: Option<String>) -> Vec<$crate::model::key::Org> {
                    $crate::directory::orgs(ctx, search.as_deref()).await
                }
                /// Users, optionally searched.
                #[role(viewer)]
                fn users_list(ctx, search: Option<String>) -> Vec<$crate::model::key::User> {
                    $crate::directory::users(ctx, search.as_deref()).await
                }
                /// The Key doctor on a pasted key (it counts as one verification).
                #[role(viewer)]
                fn doctor_key(ctx, input: $crate::model::doctor::DoctorKeyInput) -> $crate::model::doctor::DoctorReport {
                    $crate::doctor::key(ctx, &input).await
                }
                /// The connection doctor for the open profile.
                #[role(viewer)]
                fn doctor_connection(ctx) -> $crate::model::doctor::DoctorReport {
                    $crate::doctor::connection(ctx).await
                }
                /// A key's verifications per hour or day over the last `since_days` days.
                #[role(viewer)]
                fn key_history(ctx, id: String, bucket: $crate::model::history::Bucket, since_days: u32) -> $crate::model::history::KeyHistory {
                    $crate::history::key_history_days(ctx, &id, bucket, since_days).await
                }
                /// Totals per org and API, top keys over `recent_days`, stale keys, rotation due.
                #[role(viewer)]
                fn insights(ctx, recent_days: u32) -> $crate::insights::Insights {
                    $crate::insights::for_days(ctx, recent_days).await
                }
                /// The audit log, newest first.
                #[role(viewer)]
                fn audit_list(ctx, filter: $crate::model::audit::AuditFilter) -> Vec<$crate::model::audit::AuditEntry> {
                    $crate::audit::list(ctx, filter).await
                }
                /// Alerts (the most severe first, then the newest) and the open counts that the
                /// navigation shows.
                #[role(viewer)]
                fn alerts_list(ctx, filter: $crate::model::alert::AlertFilter) -> $crate::model::alert::AlertList {
                    $crate::alerts::list(ctx, filter).await
                }
                /// Acknowledges alerts; returns them as acknowledged.
                #[role(operator)]
                fn alerts_ack(ctx, ids: Vec<u32>) -> Vec<$crate::model::alert::Alert> {
                    $crate::alerts::ack_many(ctx, &ids).await
                }
                /// Mutes a key or a kind; returns how many open alerts it muted.
                #[role(operator)]
                fn alerts_mute(ctx, target: $crate::model::alert::MuteTarget) -> u32 {
                    $crate::alerts::mute(ctx, target).await
                }
                /// Lifts a mute.
                #[role(operator)]
                fn alerts_unmute(ctx, target: $crate::model::alert::MuteTarget) -> bool {
                    $crate::alerts::unmute(ctx, target).await
                }
                /// The mutes in force.
                #[role(viewer)]
                fn alert_mutes(ctx) -> Vec<$crate::model::alert::Mute> {
                    $crate::alerts::mutes(ctx).await
                }
                /// The profile's policy and the keys' local expiry dates and canary marks.
                #[role(viewer)]
                fn policy_show(ctx) -> $crate::model::alert::PolicyView {
                    $crate::alerts::policy_show(ctx).await
                }
                /// Stores the profile's policy.
                #[role(admin)]
                fn policy_set(ctx, policy: $crate::model::alert::Policy) -> $crate::model::alert::PolicyView {
                    $crate::alerts::policy_set(ctx, policy).await
                }
                /// Sets or clears a key's local "expires on" date.
                #[role(admin)]
                fn key_expires_set(ctx, id: String, on: Option<chrono::DateTime<chrono::Utc>>) -> $crate::model::alert::KeyMeta {
                    $crate::alerts::expires_set(ctx, &id, on).await
                }
                /// Marks or unmarks a key as a canary.
                #[role(operator)]
                fn canary_mark(ctx, id: String, canary: bool) -> $crate::model::alert::KeyMeta {
                    $crate::alerts::canary_mark(ctx, &id, canary).await
                }
                /// Rotates or re-issues a leaked key and records the leak; the new secret is shown
                /// once.
                #[role(operator)]
                fn leak_remediate(ctx, key_id: String, action: $crate::model::leak::LeakAction, found: Vec<$crate::leaks::scan::SecretHit>) -> $crate::model::leak::LeakRemediation {
                    $crate::leaks::remediate(ctx, &key_id, action, &found).await
                }
            }
        }
    };
}

/// Derives [`NAMES`], [`role_of`] and [`call`] from the list.
macro_rules! json_dispatch {
    (
        ops {
            $(
                $(#[doc = $doc:literal])*
                #[role($role:ident)]
                fn $name:ident ( $ctx:ident $(, $arg:ident : $ty:ty)* ) -> $ret:ty $body:block
            )*
        }
    ) => {
        /// Every operation's name, in declaration order.
        pub const NAMES: &[&str] = &[$(stringify!($name)),*];

        /// The least role a team member needs to call the operation `name` (`None`: there is
        /// no such operation).
        pub fn role_of(name: &str) -> Option<Role> {
            match name {
                $(stringify!($name) => Some(role!($role)),)*
                _ => None,
            }
        }

        /// Runs the operation `name` over `ctx` with its arguments as a JSON object (field
        /// names as declared; `null` for none) and answers its result as JSON.
        pub async fn call(ctx: &AppCtx, name: &str, args: Value) -> Result<Value> {
            let args = if args.is_null() { Value::Object(Default::default()) } else { args };
            match name {
                $(
                    stringify!($name) => {
                        #[derive(serde::Deserialize)]
                        #[serde(deny_unknown_fields)]
                        struct Args { $($arg: $ty,)* }
                        let Args { $($arg,)* } = serde_json::from_value(args)
                            .map_err(|e| bad_arguments(stringify!($name), &e))?;
                        let $ctx: &AppCtx = ctx;
                        let out: $ret = async $body.await?;
                        serde_json::to_value(out)
                            .map_err(|e| Error::internal(format!("cannot encode the answer: {e}")))
                    }
                )*
                other => Err(Error::new(
                    ErrorCode::InvalidInput,
                    format!("there is no operation {other:?}"),
                    "Use one of the operations that this Keyward version lists.",
                )),
            }
        }
    };
}

crate::operations!(json_dispatch {});

fn bad_arguments(name: &str, e: &serde_json::Error) -> Error {
    Error::invalid_input(
        "arguments",
        format!("of {name}: {e}"),
        "Give the operation's arguments as a JSON object with the declared field names.",
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::secret::keyring::MemoryStore;

    fn ctx(home: &std::path::Path) -> AppCtx {
        AppCtx::new(Some(home.to_path_buf()), Arc::new(MemoryStore::new())).unwrap()
    }

    #[test]
    fn every_operation_is_named_once() {
        let mut names = NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NAMES.len());
        assert!(NAMES.contains(&"key_rotate") && NAMES.contains(&"handovers_list"));
    }

    #[test]
    fn every_operation_has_a_role_and_writes_need_more_than_a_viewer() {
        for name in NAMES {
            assert!(role_of(name).is_some(), "{name} has no role");
        }
        assert_eq!(role_of("keys_changed_since"), Some(Role::Viewer));
        assert_eq!(role_of("keys_by_ids"), Some(Role::Viewer));
        assert_eq!(role_of("key_rotate"), Some(Role::Operator));
        assert_eq!(role_of("alerts_ack"), Some(Role::Operator));
        assert_eq!(role_of("policy_set"), Some(Role::Admin));
        assert_eq!(role_of("profile_add"), None);
        for w in [
            "key_create",
            "key_rotate",
            "key_reissue",
            "keys_revoke",
            "canary_create",
            "alerts_mute",
            "canary_mark",
            "leak_remediate",
        ] {
            assert!(role_of(w) > Some(Role::Viewer), "{w}");
        }
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        assert_eq!(Role::parse("operator").unwrap(), Role::Operator);
        assert_eq!(
            Role::parse("root").unwrap_err().code,
            ErrorCode::InvalidInput
        );
    }

    #[tokio::test]
    async fn an_unknown_operation_or_bad_arguments_are_refused_before_anything_runs() {
        let home = tempfile::tempdir().unwrap();
        let ctx = ctx(home.path());
        let e = call(&ctx, "keys_delete_everything", Value::Null)
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        for bad in [
            json!({ "id": 5 }),
            json!({}),
            json!({ "id": "k", "extra": 1 }),
        ] {
            let e = call(&ctx, "key_show", bad.clone()).await.unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
            assert!(e.message.contains("key_show"), "{}", e.message);
        }
        // Well-formed arguments reach the operation: with no profile, it says so.
        let e = call(&ctx, "key_show", json!({ "id": "api_key_1" }))
            .await
            .unwrap_err();
        assert_ne!(e.code, ErrorCode::InvalidInput, "{}", e.message);
    }
}
