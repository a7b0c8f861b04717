//! Handovers: after a re-issue, the old key keeps working until it is revoked. A handover
//! watches the old key's verifications and says when it is safe to revoke. A re-issue may give
//! the old key a deadline (Stripe's "old key stops working in 24 hours"): the first sync after
//! it revokes the old key ([`expire_due`]).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::ctx::{AppCtx, blocking};
use crate::error::{Error, ErrorCode, Result};
use crate::model::audit::{AuditAction, AuditOutcome, NewAudit};
use crate::model::key::{Handover, KeyStatus, KeyView};
use crate::store::{PageEntry, Store};

/// Open re-issues with the profile's quiet period (`handover_quiet_days`, default 7).
pub async fn list(ctx: &AppCtx) -> Result<Vec<Handover>> {
    let quiet = ctx.settings().await?.handover_quiet_days;
    list_with(ctx, quiet).await
}

/// Open re-issues: re-reads both keys of each from Kinde (the cache answers when Kinde cannot),
/// closes those whose old key was revoked elsewhere, and says which old keys are safe to revoke.
pub async fn list_with(ctx: &AppCtx, quiet_days: u32) -> Result<Vec<Handover>> {
    let store = ctx.store().await?;
    let links = {
        let s = Arc::clone(&store);
        blocking(move || s.reissues(true)).await?
    };
    let mut from_cache = false;
    if !links.is_empty() {
        match ctx.client().await {
            Ok(client) => {
                for l in &links {
                    for id in [&l.old_id, &l.new_id] {
                        match client.get_key(id).await {
                            Ok(k) => {
                                let s = Arc::clone(&store);
                                blocking(move || {
                                    let now = Utc::now();
                                    let revoked = k.status == KeyStatus::Revoked;
                                    let kid = k.id.clone();
                                    s.apply_page(
                                        None,
                                        now,
                                        &[PageEntry {
                                            key: k,
                                            detail: true,
                                        }],
                                    )?;
                                    if revoked {
                                        s.set_status(&kid, KeyStatus::Revoked, now)?;
                                    }
                                    Ok(())
                                })
                                .await?;
                            }
                            Err(e) if e.code == ErrorCode::NotFound => {}
                            Err(_) => from_cache = true,
                        }
                    }
                }
            }
            Err(_) => from_cache = true,
        }
    }
    let now = Utc::now();
    blocking(move || {
        let mut out = Vec::new();
        for l in store.reissues(true)? {
            let old = store.get_key(&l.old_id, now)?;
            let new = store.get_key(&l.new_id, now)?;
            let since_count = |v: &Option<KeyView>, base: Option<i64>| -> Result<i64> {
                let id = v.as_ref().map(|v| v.key.id.clone()).unwrap_or_default();
                let counted = v.as_ref().and_then(|v| v.key.verification_count);
                Ok(match (counted, base) {
                    (Some(c), Some(b)) if c >= b => c - b,
                    _ => store.verifications_after(&id, l.opened_at)?,
                })
            };
            let old_since = since_count(&old, l.old_count_at_open)?;
            let new_since = since_count(&new, Some(0))?;
            let old_lvo = old.as_ref().and_then(|v| v.key.last_verified_on);
            let quiet_since = old_lvo.map_or(l.opened_at, |t| t.max(l.opened_at));
            let quiet_for = now - quiet_since;
            let safe = quiet_for >= Duration::days(i64::from(quiet_days));
            let deadline = l.old_expires_at.map(|at| {
                format!(
                    "Keyward revokes the old key at the first sync after {} UTC (while Keyward \
                     is running). ",
                    at.format("%Y-%m-%d %H:%M")
                )
            });
            let advice = if safe {
                format!(
                    "Safe to revoke: the old key has not been used for {} days. \
                     Run `keyward keys revoke {}`.",
                    quiet_for.num_days(),
                    l.old_id
                )
            } else if old_since > 0 || old_lvo.is_some_and(|t| t > l.opened_at) {
                format!(
                    "Still in use: {old_since} verifications since the new key was issued. \
                     Move the remaining clients to {}.",
                    named(new.as_ref(), &l.new_id)
                )
            } else {
                let left = Duration::days(i64::from(quiet_days)) - quiet_for;
                format!(
                    "Quiet so far; safe to revoke in {} hours if it stays unused.",
                    left.num_hours().max(1)
                )
            };
            let advice = format!("{}{advice}", deadline.unwrap_or_default());
            out.push(Handover {
                old_expires_at: l.old_expires_at,
                old_name: old.as_ref().map(|v| v.key.name.clone()),
                old_status: old.as_ref().map(|v| v.key.status.as_str().to_string()),
                new_status: new.as_ref().map(|v| v.key.status.as_str().to_string()),
                old_last_verified_on: old_lvo,
                old_verifications_since: old_since,
                new_verifications_since: new_since,
                quiet_days,
                quiet_since,
                safe_to_revoke: safe,
                advice,
                from_cache,
                old_id: l.old_id,
                new_id: l.new_id,
                opened_at: l.opened_at,
            });
        }
        Ok(out)
    })
    .await
}

/// Revokes the old key of every open re-issue whose deadline is before `now`, unless Kinde
/// says it is revoked already (then the handover is only closed). Each revoke is audited as
/// `handover_expire` with the old key's name and its `k_live…abcd`, whatever its outcome; a
/// revoked old key closes its handover, so the next sync does not revoke it again. A failure
/// leaves the handover open for the next sync. Run after every sync; returns the ids revoked.
pub async fn expire_due(
    ctx: &AppCtx,
    store: &Arc<dyn Store>,
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    let due: Vec<_> = {
        let s = Arc::clone(store);
        blocking(move || s.reissues(true))
            .await?
            .into_iter()
            .filter(|l| l.old_expires_at.is_some_and(|at| at <= now))
            .collect()
    };
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let client = ctx.client().await?;
    let mut revoked = Vec::new();
    for l in due {
        let old = match client.get_key(&l.old_id).await {
            Ok(k) => k,
            Err(e) if e.code == ErrorCode::NotFound => {
                let (s, id) = (Arc::clone(store), l.old_id.clone());
                blocking(move || s.reissue_close(&id, now)).await?;
                continue;
            }
            Err(e) => {
                tracing::warn!(code = %e.code, "handover deadline: cannot read {}: {}", l.old_id, e.message);
                continue;
            }
        };
        if old.status == KeyStatus::Revoked {
            let (s, id) = (Arc::clone(store), l.old_id.clone());
            blocking(move || s.set_status(&id, KeyStatus::Revoked, now)).await?;
            continue;
        }
        let result = client.revoke_key(&l.old_id).await;
        let outcome = match &result {
            Ok(()) => AuditOutcome::Ok,
            Err(e) if e.code == ErrorCode::Ambiguous => AuditOutcome::Ambiguous,
            Err(_) => AuditOutcome::Failed,
        };
        let (prefix, suffix) = (old.key_prefix.clone(), old.key_suffix.clone());
        let details = json!({
            "new_id": l.new_id,
            "deadline": l.old_expires_at,
            "key_prefix": prefix,
            "key_suffix": suffix,
        });
        let err: Option<Error> = result.as_ref().err().cloned();
        let (s, id, name) = (Arc::clone(store), l.old_id.clone(), old.name.clone());
        blocking(move || {
            s.audit_append(
                Utc::now(),
                &NewAudit {
                    action: AuditAction::HandoverExpire,
                    key_id: Some(&id),
                    key_name: Some(&name),
                    outcome,
                    error: err.as_ref(),
                    details,
                    actor: None,
                },
            )?;
            if outcome == AuditOutcome::Ok {
                s.set_status(&id, KeyStatus::Revoked, Utc::now())?;
            }
            Ok(())
        })
        .await?;
        if result.is_ok() {
            revoked.push(l.old_id);
        }
    }
    Ok(revoked)
}

/// A key as an admin finds it: `“Billing (re-issued 2026-12-07)” (k_live…abcd)`, or its id
/// when the cache does not know it.
fn named(v: Option<&KeyView>, id: &str) -> String {
    match v {
        Some(v) => format!(
            "\u{201c}{}\u{201d} ({}\u{2026}{})",
            v.key.name,
            v.key.key_prefix,
            v.key.key_suffix.as_deref().unwrap_or("????")
        ),
        None => id.to_string(),
    }
}
