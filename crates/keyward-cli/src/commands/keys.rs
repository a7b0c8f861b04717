//! `keyward keys list|show|create|rotate|revoke|verify|reissue`, and `keyward handovers`: the
//! open re-issues, and whether each old key is safe to revoke yet.

use std::io::IsTerminal;

use clap::{Subcommand, ValueEnum};
use keyward_core::model::key::{
    KeyFilter, KeyStatus, KeyType, KeyView, NewKey, RevokeProgress, RevokeSummary,
};
use keyward_core::secret::Secret;
use keyward_core::{Error, ErrorCode, Result, api, keys};

use crate::app::{App, cancel_on_ctrl_c, confirm, read_stdin_secret};
use crate::args::{NewKeyArgs, ReissueArgs, YesArg};
use crate::output::{self, Table, ago, date, errln, opt, outln};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, show, create, rotate, revoke, verify and re-issue API keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// `keyward keys reissue`, kept for scripts.
    #[command(hide = true)]
    Reissue(ReissueArgs),
    /// Handovers: open re-issues (an old key and its successor), and whether each old key is
    /// safe to revoke yet.
    #[command(alias = "migrations")]
    Handovers {
        /// Quiet days before an old key is safe to revoke (default: settings, 7).
        #[arg(long)]
        quiet_days: Option<u32>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    Active,
    Inactive,
    Revoked,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TypeArg {
    User,
    #[value(alias = "org")]
    Organization,
    Environment,
}

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// List keys, with filters.
    List {
        /// Only keys of this organization.
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
        /// Only keys of this user.
        #[arg(long, value_name = "ID")]
        user: Option<String>,
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        #[arg(long = "type", value_enum)]
        key_type: Option<TypeArg>,
        /// Only keys of this API.
        #[arg(long, value_name = "API_ID")]
        api: Option<String>,
        /// Keys matching every word, each in the name, prefix, suffix, id, owner or API name.
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// Only the local cache (after `keyward sync`), no request to Kinde.
        #[arg(long)]
        offline: bool,
    },
    /// Every field of one key, with its verification count and owner.
    Show { id: String },
    /// Create a key for an organization or a user. The secret is printed once.
    Create(NewKeyArgs),
    /// Issue a new secret for a key. The old secret stops working at once, or, with
    /// `--old-key-expires`, keeps working until then (a re-issue: a new key with the same owner,
    /// API and scopes; the first sync after the deadline revokes the old key).
    Rotate {
        id: String,
        /// When the old key stops working: now (default: the secret is replaced in place),
        /// 1h, 24h, 3d, 7d, or a duration such as 90m or 2d.
        #[arg(long, value_name = "WHEN", default_value = "now")]
        old_key_expires: String,
        #[command(flatten)]
        yes: YesArg,
    },
    /// Revoke one or more keys. Revoked keys never verify again.
    Revoke {
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        yes: YesArg,
    },
    /// Verify a key read from standard input (counts as one verification in Kinde).
    Verify,
    /// Re-issue a key: a new key with the same API and owner and the same or new scopes; the
    /// old key keeps working until you revoke it (`keyward handovers` says when it is safe).
    Reissue(ReissueArgs),
}

pub async fn run(cmd: Command, app: &App) -> Result<i32> {
    match cmd {
        Command::Keys(c) => keys_cmd(c, app).await,
        Command::Reissue(a) => reissue(app, a).await,
        Command::Handovers { quiet_days } => handovers(app, quiet_days).await,
    }
}

async fn keys_cmd(cmd: KeysCmd, app: &App) -> Result<i32> {
    match cmd {
        KeysCmd::List {
            org,
            user,
            status,
            key_type,
            api,
            search,
            offline,
        } => {
            let filter = KeyFilter {
                org_code: org,
                user_id: user,
                status: status.map(|s| match s {
                    StatusArg::Active => KeyStatus::Active,
                    StatusArg::Inactive => KeyStatus::Inactive,
                    StatusArg::Revoked => KeyStatus::Revoked,
                }),
                key_type: key_type.map(|t| match t {
                    TypeArg::User => KeyType::User,
                    TypeArg::Organization => KeyType::Organization,
                    TypeArg::Environment => KeyType::Environment,
                }),
                api_id: api,
                search: search.filter(|s| !s.is_empty()),
            };
            keys::check_filter(&filter)?;
            if app.ctx.is_team().await? {
                let list = super::team::keys(app, offline).await?;
                let list: Vec<_> = list
                    .into_iter()
                    .filter(|k| super::team::key_matches(&filter, k))
                    .collect();
                app.emit(&list, print_keys)?;
                return Ok(0);
            }
            let cached = keys::list_cached(&app.ctx, &filter, offline).await?;
            if let Some(w) = &cached.warning {
                let age = match cached.synced_at {
                    Some(t) => format!(
                        "last synced {} ({})",
                        ago(Some(t)),
                        t.format("%Y-%m-%d %H:%M UTC")
                    ),
                    None => "never synced".to_string(),
                };
                // Also in --json mode: stdout stays the plain list, the warning goes to stderr.
                errln!(
                    "warning[{}]: {}; showing the local cache, {age}",
                    w.code,
                    w.message
                );
                errln!("hint: {}", w.hint);
            }
            app.emit(&cached.keys, print_keys)?;
            Ok(0)
        }
        KeysCmd::Show { id } => {
            let key = api::key_show(&app.ctx, id).await?;
            app.emit(&key, print_key)?;
            Ok(0)
        }
        KeysCmd::Create(new) => {
            let created = api::key_create(&app.ctx, new.into_input()).await?;
            print_new_key(app, &created, "Created")?;
            Ok(0)
        }
        KeysCmd::Rotate {
            id,
            old_key_expires,
            yes: YesArg { yes },
        } => {
            keyward_core::kinde::validate_id("key id", &id)?;
            if let Some(d) = keys::parse_old_key_expires(&old_key_expires)? {
                confirm(
                    &format!(
                        "Roll {id}? A new key replaces it; the old key keeps working until the \
                         first sync after {} UTC, then Keyward revokes it.",
                        (chrono::Utc::now() + d).format("%Y-%m-%d %H:%M")
                    ),
                    yes,
                )?;
                let _ = d;
                let r = api::key_reissue(&app.ctx, id, None, None, Some(old_key_expires.clone()))
                    .await?;
                return print_reissued(app, &r);
            }
            confirm(
                &format!(
                    "Rotate {id}? Its current secret stops working at once (no grace period)."
                ),
                yes,
            )?;
            let rotated = api::key_rotate(&app.ctx, id).await?;
            print_new_key(app, &rotated, "Rotated")?;
            Ok(0)
        }
        KeysCmd::Revoke {
            ids,
            yes: YesArg { yes },
        } => {
            for id in &ids {
                keyward_core::kinde::validate_id("key id", id)?;
            }
            let what = if ids.len() == 1 {
                ids[0].clone()
            } else {
                format!("{} keys", ids.len())
            };
            confirm(
                &format!("Revoke {what}? A revoked key can never be used again."),
                yes,
            )?;
            let summary = revoke(app, &ids).await?;
            app.emit(&summary, print_revoke)?;
            Ok(summary
                .outcomes
                .iter()
                .find_map(|o| o.error.as_ref())
                .map_or(0, |e| e.code.exit_code()))
        }
        KeysCmd::Reissue(a) => reissue(app, a).await,
        KeysCmd::Verify => {
            let key = Secret::new(read_stdin_secret("API key")?);
            let input = keyward_core::model::doctor::VerifyKeyInput { key };
            let r = keyward_core::api::key_verify(&app.ctx, input).await?;
            app.emit(&r, |r| {
                let mut t = Table::new(&["FIELD", "VALUE"]);
                t.row(vec![
                    "valid".into(),
                    if r.is_valid { "yes" } else { "NO" }.into(),
                ]);
                t.row(vec!["key id".into(), opt(r.key_id.as_deref())]);
                t.row(vec!["status".into(), opt(r.status.map(KeyStatus::as_str))]);
                t.row(vec!["scopes".into(), r.scopes.join(", ")]);
                t.row(vec!["org".into(), opt(r.org_code.as_deref())]);
                t.row(vec!["user".into(), opt(r.user_id.as_deref())]);
                t.row(vec![
                    "verifications".into(),
                    opt(r.verification_count.map(|c| c.to_string()).as_deref()),
                ]);
                t.print();
                errln!("note: {}", r.note);
            })?;
            Ok(if r.is_valid { 0 } else { 1 })
        }
    }
}

async fn revoke(app: &App, ids: &[String]) -> Result<RevokeSummary> {
    let show = !app.json && ids.len() > 1 && std::io::stderr().is_terminal();
    let bar = show.then(|| indicatif::ProgressBar::new(ids.len() as u64));
    let progress = |p: RevokeProgress| {
        if let Some(b) = &bar {
            b.set_position(u64::from(p.done));
        }
    };
    if app.ctx.is_team().await? {
        return api::keys_revoke(&app.ctx, ids.to_vec()).await;
    }
    // Ctrl-C stops before the next key; every key still gets an outcome.
    let (cancel, on_ctrl_c) = cancel_on_ctrl_c();
    let r = keys::revoke_with(&app.ctx, ids, progress, cancel).await;
    on_ctrl_c.abort();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    r
}

/// A new key's secret, shown once: on stdout alone (so it can be piped), with what it is and
/// the warning on stderr; the whole `NewKey` as JSON with `--json`. The write is checked to the
/// end (see [`deliver`]): a secret that did not reach stdout is `secret_not_delivered`.
pub fn print_new_key(app: &App, k: &NewKey, verb: &str) -> Result<()> {
    if app.json {
        deliver(&output::json_text(k)?, &[&k.id])?;
        note_audit_pending(k, verb);
        return Ok(());
    }
    let name = k
        .name
        .as_deref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    errln!(
        "{verb} key {}{name}. Secret {}…{}:",
        k.id,
        k.key_prefix,
        k.key_suffix
    );
    deliver(&format!("{}\n", output::escape(k.key.expose())), &[&k.id])?;
    errln!("warning: {}", k.warning);
    note_audit_pending(k, verb);
    Ok(())
}

/// Writes text holding one-time secrets to stdout, checked to the end (write, flush, and
/// fsync for a file): if it fails, the keys in `key_ids` have secrets nobody holds, and the
/// error says so (`secret_not_delivered`, exit 12) with the command that mends it.
pub fn deliver(text: &str, key_ids: &[&str]) -> Result<()> {
    output::out_checked(text).map_err(|e| {
        let (which, them) = match key_ids {
            [one] => (format!("key {one}"), "it".to_string()),
            many => (format!("keys {}", many.join(", ")), "each".to_string()),
        };
        let rotate = key_ids
            .iter()
            .map(|id| format!("`keyward keys rotate {id} --yes`"))
            .collect::<Vec<_>>()
            .join(", then ");
        Error::new(
            ErrorCode::SecretNotDelivered,
            format!(
                "the new secret of {which} was NOT delivered: standard output could not be \
                 written ({e}). The {which} at Kinde now has a secret nobody holds"
            ),
            format!(
                "Rotate {them} again with standard output going somewhere that can be written \
                 (not a full disk or a closed pipe): {rotate}. Its clients cannot use the lost \
                 secret."
            ),
        )
    })
}

/// Says on stderr (also with `--json`) when the action's audit row could not be closed.
fn note_audit_pending(k: &NewKey, verb: &str) {
    if k.audit_pending {
        errln!(
            "note: the audit row of this {} of {} could not be closed: it stays pending, and \
             the next `keyward sync` records it as Keyward's own action.",
            verb.to_lowercase(),
            k.id
        );
    }
}

fn owner(k: &KeyView) -> String {
    match (&k.owner_name, &k.key.org_code, &k.key.user_id) {
        (Some(n), _, _) => n.clone(),
        (None, Some(o), _) => o.clone(),
        (None, None, Some(u)) => u.clone(),
        _ => "-".into(),
    }
}

fn print_keys(keys: &Vec<KeyView>) {
    if keys.is_empty() {
        errln!("No keys match.");
        return;
    }
    let mut t = Table::new(&[
        "ID",
        "NAME",
        "TYPE",
        "STATUS",
        "KEY",
        "OWNER",
        "API",
        "SCOPES",
        "LAST VERIFIED",
        "CREATED",
    ]);
    for k in keys {
        t.row(vec![
            k.key.id.clone(),
            k.key.name.clone(),
            k.key.key_type.as_str().into(),
            k.key.status.as_str().into(),
            format!(
                "{}…{}",
                k.key.key_prefix,
                k.key.key_suffix.as_deref().unwrap_or("")
            ),
            owner(k),
            opt(k.api_name.as_deref()),
            k.key.scopes.join(","),
            ago(k.key.last_verified_on),
            date(k.key.created_on),
        ]);
    }
    t.print();
    errln!("{} key(s)", keys.len());
}

fn print_key(k: &KeyView) {
    let mut t = Table::new(&["FIELD", "VALUE"]);
    let mut row = |f: &str, v: String| t.row(vec![f.into(), v]);
    row("id", k.key.id.clone());
    row("name", k.key.name.clone());
    row("type", k.key.key_type.as_str().into());
    row("status", k.key.status.as_str().into());
    row(
        "key",
        format!(
            "{}…{}",
            k.key.key_prefix,
            k.key.key_suffix.as_deref().unwrap_or("")
        ),
    );
    row("owner", owner(k));
    row("org_code", opt(k.key.org_code.as_deref()));
    row("user_id", opt(k.key.user_id.as_deref()));
    row(
        "api",
        format!("{} {}", opt(k.api_name.as_deref()), k.key.api_ids.join(",")),
    );
    row("scopes", k.key.scopes.join(", "));
    row(
        "verifications",
        opt(k.key.verification_count.map(|c| c.to_string()).as_deref()),
    );
    row(
        "last verified",
        format!(
            "{} {}",
            ago(k.key.last_verified_on),
            opt(k.key.last_verified_ip.as_deref())
        ),
    );
    row("created", date(k.key.created_on));
    row("created by", opt(k.key.created_by.as_deref()));
    let mut flags = Vec::new();
    if k.stale {
        flags.push("stale");
    }
    if k.rotation_due {
        flags.push("rotation due");
    }
    if k.gone {
        flags.push("gone from Kinde");
    }
    row(
        "flags",
        if flags.is_empty() {
            "-".into()
        } else {
            flags.join(", ")
        },
    );
    t.print();
}

fn print_revoke(s: &RevokeSummary) {
    let mut t = Table::new(&["ID", "RESULT", "ERROR"]);
    for o in &s.outcomes {
        let err = o
            .error
            .as_ref()
            .map(|e: &Error| format!("[{}] {}", e.code, e.message))
            .unwrap_or_default();
        t.row(vec![
            o.id.clone(),
            if o.revoked { "revoked" } else { "FAILED" }.into(),
            err,
        ]);
    }
    t.print();
    errln!(
        "{} requested, {} revoked, {} failed",
        s.requested,
        s.revoked,
        s.failed
    );
    if let Some(e) = s.outcomes.iter().find_map(|o| o.error.as_ref()) {
        errln!("hint: {}", e.hint);
    }
}

/// `keyward keys reissue` (and its hidden alias `keyward reissue`).
async fn reissue(app: &App, a: ReissueArgs) -> Result<i32> {
    let old_key_expires = match a.old_key_expires.as_deref() {
        Some(w) => Some(keys::parse_old_key_expires(w)?.ok_or_else(|| {
            Error::invalid_input(
                "old key expires",
                "\"now\" does not apply to a re-issue: the old key is another key",
                format!(
                    "Give 1h, 24h, 3d, 7d or a duration such as 90m, or replace the secret in \
                     place with `keyward keys rotate {}`.",
                    a.id
                ),
            )
        })?),
        None => None,
    };
    let _ = old_key_expires;
    let r = api::key_reissue(
        &app.ctx,
        a.id,
        (!a.scopes.is_empty()).then_some(a.scopes),
        a.name,
        a.old_key_expires,
    )
    .await?;
    print_reissued(app, &r)
}

/// A re-issue's new key (the secret on standard output, once, checked: see [`deliver`]) and
/// what happens to the old one.
fn print_reissued(app: &App, r: &keyward_core::model::key::Reissued) -> Result<i32> {
    let k = &r.new_key;
    if app.json {
        deliver(&output::json_text(&r)?, &[&k.id])?;
        note_audit_pending(k, "create");
        return Ok(0);
    }
    errln!(
        "Re-issued {} as {}. Secret {}…{}:",
        r.old_id,
        k.id,
        k.key_prefix,
        k.key_suffix
    );
    deliver(&format!("{}\n", output::escape(k.key.expose())), &[&k.id])?;
    errln!("warning: {}", k.warning);
    note_audit_pending(k, "create");
    match r.link.old_expires_at {
        Some(at) => errln!(
            "The old key keeps working until the first sync after {} UTC (while Keyward runs), \
             then Keyward revokes it. Move its clients to the new key before then.",
            at.format("%Y-%m-%d %H:%M")
        ),
        None => errln!(
            "The old key keeps working. Move its clients to the new key, then check \
             `keyward handovers` before revoking {}.",
            r.old_id
        ),
    }
    Ok(0)
}

/// `keyward handovers` (and its hidden alias `keyward migrations`).
async fn handovers(app: &App, quiet_days: Option<u32>) -> Result<i32> {
    let list = match quiet_days {
        Some(q) if !app.ctx.is_team().await? => keys::handover::list_with(&app.ctx, q).await?,
        _ => api::handovers_list(&app.ctx).await?,
    };
    app.emit(&list, |list| {
        if list.is_empty() {
            outln!("No open handovers (no re-issued key whose old key is still to revoke).");
            return;
        }
        if list.iter().any(|h| h.from_cache) {
            errln!("note: Kinde could not be reached; figures come from the local store.");
        }
        let mut t = Table::new(&[
            "OLD",
            "NEW",
            "OPENED",
            "OLD USES SINCE",
            "OLD LAST USED",
            "OLD KEY EXPIRES",
            "SAFE",
        ]);
        for h in list {
            t.row(vec![
                h.old_id.clone(),
                h.new_id.clone(),
                date(Some(h.opened_at)),
                h.old_verifications_since.to_string(),
                ago(h.old_last_verified_on),
                h.old_expires_at.map_or_else(
                    || "-".to_string(),
                    |at| at.format("%Y-%m-%d %H:%M").to_string(),
                ),
                if h.safe_to_revoke { "yes" } else { "no" }.into(),
            ]);
        }
        t.print();
        for h in list {
            outln!("{}: {}", h.old_id, h.advice);
        }
    })?;
    Ok(0)
}
