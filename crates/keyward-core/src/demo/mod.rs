//! Demo mode: the embedded sandbox's store gets a believable past ([`synth`]) and its canary.

pub mod synth;

use chrono::{Duration, Utc};

use crate::ctx::{AppCtx, blocking};
use crate::error::{Error, Result};
use crate::model::alert::KeyMeta;
use crate::model::history::PrefillSummary;
use crate::store::PrefillOutcome;

/// The most days [`prefill_history`] goes back.
pub const PREFILL_MAX_DAYS: u32 = 365;

/// DEMO MODE ONLY. Gives the demo sandbox's store a believable past: for every cached key first
/// observed with `verification_count > 0`, made-up hourly history going back `days` days and
/// ending exactly at the key's first observed count and `last_verified_on` (see
/// [`crate::demo`]), written with its daily roll-up (so `key_history`, the 7-day sparklines and
/// insights all show it) in one transaction, marked `history.source = 'demo'`.
///
/// Call it after the demo's first sync. It writes only when the store holds no history older
/// than a day and no earlier demo rows, so a second call does nothing. Refused
/// (`InvalidInput`) for anything but the context of [`AppCtx::for_sandbox`] on its own store:
/// a real profile's history is never touched, whatever its name or environment.
pub async fn prefill_history(ctx: &AppCtx, days: u32) -> Result<PrefillSummary> {
    if !(1..=PREFILL_MAX_DAYS).contains(&days) {
        return Err(Error::invalid_input(
            "days",
            format!("{days} is out of range"),
            format!("Give 1 to {PREFILL_MAX_DAYS} days (the app uses 30)."),
        ));
    }
    ensure_demo_store(ctx).await?;
    let store = ctx.store().await?;
    let now = Utc::now();
    let outcome = blocking(move || {
        store.prefill_demo_history(now - Duration::days(1), &|anchors| {
            crate::demo::synth::synthesize(anchors, now.timestamp_millis(), days)
        })
    })
    .await?;
    let (keys, rows, skipped) = match outcome {
        PrefillOutcome::Written { keys, rows } => (keys, rows, None),
        PrefillOutcome::HasHistory => (0, 0, Some("has_history")),
        PrefillOutcome::NothingToAnchor => (0, 0, Some("not_synced")),
    };
    Ok(PrefillSummary {
        days,
        keys: u32::try_from(keys).unwrap_or(u32::MAX),
        rows: rows as u64,
        skipped: skipped.map(str::to_string),
    })
}

/// `Ok` only for the sandbox context's own profile, whose store is the sandbox database
/// (`data/sandbox/`), apart from every profile's.
async fn ensure_demo_store(ctx: &AppCtx) -> Result<()> {
    let refused = |why: &str| {
        Error::invalid_input(
            "profile",
            format!("demo history is only for the demo sandbox ({why})"),
            "Nothing was written. Synthesized history is for the demo only; a real profile's \
             history comes from `keyward sync`.",
        )
    };
    if !ctx.is_sandbox() {
        return Err(refused("this is a regular profile"));
    }
    if ctx
        .selected_name()
        .is_some_and(|s| s != crate::ctx::SANDBOX_PROFILE)
    {
        return Err(refused("another profile is selected"));
    }
    let profile = ctx.profile().await?;
    if profile.name != crate::ctx::SANDBOX_PROFILE
        || profile.environment != crate::config::Environment::Demo
    {
        return Err(refused("the selected profile is not the demo's"));
    }
    let sandbox_db = ctx
        .paths()
        .data_dir
        .join("sandbox")
        .join(crate::store::DB_FILE);
    if ctx.db_path().await? != sandbox_db {
        return Err(refused("the store is not the sandbox's database"));
    }
    Ok(())
}

/// DEMO: marks as canaries the cached keys whose name starts with "Canary" (the demo
/// sandbox's traffic plants one). Returns the keys marked.
pub async fn mark_canaries(ctx: &AppCtx) -> Result<Vec<KeyMeta>> {
    let store = ctx.store().await?;
    blocking(move || {
        let mut out = Vec::new();
        for k in store.all_keys()? {
            if k.view.key.name.starts_with("Canary") {
                out.push(store.set_canary(&k.view.key.id, true)?);
            }
        }
        Ok(out)
    })
    .await
}
