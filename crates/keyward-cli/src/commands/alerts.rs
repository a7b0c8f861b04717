//! The watch over keys: `keyward alerts` (and ack, mute, unmute, mutes), `policy` (the
//! profile's key policy and per-key expiry dates) and `canary` (keys whose every use is an
//! alert).

use clap::{Args, Subcommand};
use keyward_core::model::alert::{
    Alert, AlertFilter, AlertKind, AlertList, MuteTarget, Policy, PolicyView,
};
use keyward_core::{Error, Result, alerts, api};

use super::keys::print_new_key;
use crate::app::App;
use crate::args::{Ages, NewKeyArgs, parse_time};
use crate::output::{Table, ago, date, opt, outln};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Alerts from the local store (new IP, dormant key wakes, spike, drift, stale, rotation
    /// due, expiry coming, canary tripped). Exits 1 while unacknowledged alerts of severity
    /// high or critical exist.
    #[command(args_conflicts_with_subcommands = true)]
    Alerts {
        #[command(flatten)]
        list: AlertsArgs,
        #[command(subcommand)]
        action: Option<AlertsCmd>,
    },
    /// Per-profile key policies (max key age, warning period, ...) and per-key expiry dates.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Canary keys: normal Kinde keys marked locally; any verification is a critical alert.
    #[command(subcommand)]
    Canary(CanaryCmd),
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Only alerts since a date (2026-01-31), a time (RFC 3339) or an age (7d, 48h).
    #[arg(long)]
    since: Option<String>,
    /// Only this kind (new_ip, dormant_wakes, spike, drift, stale, rotation_due,
    /// expiry_coming, canary_tripped).
    #[arg(long)]
    kind: Option<String>,
    /// Only alerts about this key.
    #[arg(long = "key", value_name = "ID")]
    key_id: Option<String>,
    /// Include acknowledged and muted alerts.
    #[arg(long)]
    all: bool,
    /// How many alerts at most (1 or more).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
    /// On a team profile: the last alerts the Keyward Server gave on this machine, with how
    /// old they are, without asking it.
    #[arg(long)]
    offline: bool,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCmd {
    /// Acknowledge an alert.
    Ack { id: i64 },
    /// Mute a key or a kind (its open alerts too; new ones are recorded muted).
    Mute(MuteArgs),
    /// Lift a mute.
    Unmute(MuteArgs),
    /// The mutes in force.
    Mutes,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct MuteArgs {
    #[arg(long = "key", value_name = "ID")]
    key_id: Option<String>,
    #[arg(long)]
    kind: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// The profile's policy and the keys with a local expiry date or a canary mark.
    Show,
    /// Change the profile's policy (unnamed values stay as they are).
    Set {
        /// Max key age in days since creation or rotation (0 = off).
        #[arg(long)]
        max_age_days: Option<u32>,
        /// Warn this many days before the max age or an expiry date.
        #[arg(long)]
        warning_days: Option<u32>,
        #[arg(long)]
        stale_days: Option<u32>,
        #[arg(long)]
        dormant_days: Option<u32>,
        #[arg(long)]
        spike_factor: Option<f64>,
        #[arg(long)]
        spike_floor: Option<u32>,
    },
    /// Set or clear a key's local "expires on" date (Kinde has no key expiry).
    Expires {
        key_id: String,
        /// The date (2026-06-30 or RFC 3339).
        #[arg(long, required_unless_present = "clear")]
        on: Option<String>,
        #[arg(long, conflicts_with = "on")]
        clear: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CanaryCmd {
    /// Create a normal Kinde key and mark it as a canary. The secret is printed once: plant it
    /// where it is worth watching.
    #[command(mut_arg("scopes", |a| a.required(true)))]
    Create(NewKeyArgs),
    /// Mark an existing key as a canary (or unmark it with --off).
    Mark {
        key_id: String,
        #[arg(long)]
        off: bool,
    },
    /// Keys marked as canaries.
    List,
}

pub async fn run(cmd: Command, app: &App) -> Result<i32> {
    match cmd {
        Command::Alerts { list, action } => match action {
            None => alerts(app, list).await,
            Some(AlertsCmd::Ack { id }) => {
                let a = if app.ctx.is_team().await? {
                    let id = u32::try_from(id).map_err(|_| {
                        Error::invalid_input(
                            "alert id",
                            "is out of range",
                            "Give an ID that `keyward alerts` lists.",
                        )
                    })?;
                    api::alerts_ack(&app.ctx, vec![id])
                        .await?
                        .into_iter()
                        .next()
                        .ok_or_else(|| {
                            Error::new(
                                keyward_core::ErrorCode::NotFound,
                                format!("no alert {id}"),
                                "Give an ID that `keyward alerts` lists.",
                            )
                        })?
                } else {
                    alerts::ack(&app.ctx, id).await?
                };
                app.emit(&a, |a| outln!("Acknowledged alert {}: {}", a.id, a.message))?;
                Ok(0)
            }
            Some(AlertsCmd::Mute(m)) => {
                let t = target(m)?;
                let n = api::alerts_mute(&app.ctx, t.clone()).await?;
                let out = serde_json::json!({ "muted": t, "open_alerts_muted": n });
                app.emit(&out, |_| outln!("Muted; {n} open alerts muted with it."))?;
                Ok(0)
            }
            Some(AlertsCmd::Unmute(m)) => {
                let t = target(m)?;
                let lifted = api::alerts_unmute(&app.ctx, t).await?;
                let out = serde_json::json!({ "unmuted": lifted });
                app.emit(&out, |_| {
                    outln!(
                        "{}",
                        if lifted {
                            "Unmuted."
                        } else {
                            "There was no such mute."
                        }
                    )
                })?;
                Ok(0)
            }
            Some(AlertsCmd::Mutes) => {
                let m = api::alert_mutes(&app.ctx).await?;
                app.emit(&m, |m| {
                    let mut t = Table::new(&["MUTED", "SINCE"]);
                    for x in m {
                        let what = match &x.target {
                            MuteTarget::Key { key_id } => format!("key {key_id}"),
                            MuteTarget::Kind { kind } => format!("kind {}", kind.as_str()),
                        };
                        t.row(vec![what, date(Some(x.at))]);
                    }
                    t.print();
                })?;
                Ok(0)
            }
        },
        Command::Policy(c) => policy(app, c).await,
        Command::Canary(c) => canary(app, c).await,
    }
}

fn target(m: MuteArgs) -> Result<MuteTarget> {
    match (m.key_id, m.kind) {
        (Some(key_id), _) => Ok(MuteTarget::Key { key_id }),
        (None, Some(k)) => Ok(MuteTarget::Kind {
            kind: AlertKind::parse(&k)?,
        }),
        (None, None) => Err(Error::invalid_input(
            "mute",
            "nothing to mute",
            "Give --key ID or --kind KIND.",
        )),
    }
}

async fn alerts(app: &App, a: AlertsArgs) -> Result<i32> {
    let filter = AlertFilter {
        since: a
            .since
            .as_deref()
            .map(|s| parse_time("since", s, Ages::Allowed))
            .transpose()?,
        kind: a.kind.as_deref().map(AlertKind::parse).transpose()?,
        key_id: a.key_id,
        include_acknowledged: a.all,
        include_muted: a.all,
        limit: Some(a.limit.clamp(1, 100_000)),
    };
    let list = if app.ctx.is_team().await? {
        if a.offline {
            super::team::kept(app, "alerts_list").await?
        } else {
            // The server evaluates its rules after every sync.
            api::alerts_list(&app.ctx, filter).await?
        }
    } else {
        // Time-based policies (an expiry date reached) need no sync to fire.
        alerts::evaluate_if_free(&app.ctx).await?;
        alerts::list(&app.ctx, filter).await?
    };
    app.emit(&list, print_alerts)?;
    Ok(if list.open_high > 0 { 1 } else { 0 })
}

fn print_alerts(l: &AlertList) {
    let mut t = Table::new(&["ID", "SEVERITY", "KIND", "KEY", "WHEN", "ALERT"]);
    for a in &l.alerts {
        t.row(vec![
            a.id.to_string(),
            severity(a),
            a.kind.as_str().to_string(),
            opt(a.key_id.as_deref()),
            ago(Some(a.at)),
            a.message.clone(),
        ]);
    }
    t.print();
    outln!(
        "{} open alerts, {} of them high or critical{}",
        l.open_total,
        l.open_high,
        if l.open_high > 0 {
            " (acknowledge with `keyward alerts ack ID`)"
        } else {
            ""
        }
    );
}

fn severity(a: &Alert) -> String {
    let mut s = a.severity.as_str().to_string();
    if a.acknowledged_at.is_some() {
        s.push_str(" (ack)");
    }
    if a.muted {
        s.push_str(" (muted)");
    }
    s
}

async fn policy(app: &App, c: PolicyCmd) -> Result<i32> {
    match c {
        PolicyCmd::Show => {
            let v = api::policy_show(&app.ctx).await?;
            app.emit(&v, print_policy)?;
        }
        PolicyCmd::Set {
            max_age_days,
            warning_days,
            stale_days,
            dormant_days,
            spike_factor,
            spike_floor,
        } => {
            let cur = api::policy_show(&app.ctx).await?.policy;
            let p = Policy {
                max_key_age_days: max_age_days.unwrap_or(cur.max_key_age_days),
                warning_days: warning_days.unwrap_or(cur.warning_days),
                stale_days: stale_days.unwrap_or(cur.stale_days),
                dormant_days: dormant_days.unwrap_or(cur.dormant_days),
                spike_factor: spike_factor.unwrap_or(cur.spike_factor),
                spike_floor: spike_floor.unwrap_or(cur.spike_floor),
            };
            let v = api::policy_set(&app.ctx, p).await?;
            app.emit(&v, print_policy)?;
        }
        PolicyCmd::Expires { key_id, on, clear } => {
            let on = if clear {
                None
            } else {
                on.as_deref()
                    .map(|s| parse_time("date", s, Ages::Refused))
                    .transpose()?
            };
            let m = api::key_expires_set(&app.ctx, key_id.clone(), on).await?;
            app.emit(&m, |m| match m.expires_on {
                Some(t) => outln!(
                    "{} expires on {} (locally; when it comes, `keyward alerts` offers rotate, \
                     reissue or revoke).",
                    m.key_id,
                    t.format("%Y-%m-%d")
                ),
                None => outln!("{} has no expiry date.", m.key_id),
            })?;
        }
    }
    Ok(0)
}

fn print_policy(v: &PolicyView) {
    let p = &v.policy;
    outln!("Policy ({}):", if v.stored { "set" } else { "defaults" });
    outln!("  max key age      {} days (0 = off)", p.max_key_age_days);
    outln!("  warning period   {} days", p.warning_days);
    outln!("  stale after      {} days", p.stale_days);
    outln!("  dormant after    {} days", p.dormant_days);
    outln!(
        "  spike            > {}x baseline and >= {}/hour",
        p.spike_factor,
        p.spike_floor
    );
    if !v.keys.is_empty() {
        let mut t = Table::new(&["KEY", "CANARY", "EXPIRES ON"]);
        for k in &v.keys {
            t.row(vec![
                k.key_id.clone(),
                if k.canary { "yes".into() } else { "-".into() },
                date(k.expires_on),
            ]);
        }
        t.print();
    }
}

async fn canary(app: &App, c: CanaryCmd) -> Result<i32> {
    match c {
        CanaryCmd::Create(new) => {
            let k = api::canary_create(&app.ctx, new.into_input()).await?;
            print_new_key(app, &k, "Created canary")?;
        }
        CanaryCmd::Mark { key_id, off } => {
            let m = api::canary_mark(&app.ctx, key_id.clone(), !off).await?;
            app.emit(&m, |m| {
                outln!(
                    "{} is {}a canary.",
                    m.key_id,
                    if m.canary { "" } else { "no longer " }
                )
            })?;
        }
        CanaryCmd::List => {
            let metas: Vec<_> = alerts::key_metas(&app.ctx)
                .await?
                .into_iter()
                .filter(|m| m.canary)
                .collect();
            app.emit(&metas, |m| {
                let mut t = Table::new(&["CANARY KEY"]);
                for k in m {
                    t.row(vec![k.key_id.clone()]);
                }
                t.print();
            })?;
        }
    }
    Ok(0)
}
