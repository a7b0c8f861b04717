//! Leaks: scans files and folders for Kinde key secrets ([`scan()`], walking with [`mod@scan`]), matches what it finds to
//! the cached keys, and rotates or re-issues a leaked key.

pub mod scan;

use crate::ctx::{AppCtx, blocking};
use crate::error::Result;
use crate::kinde::validate_id;
use crate::model::key::KeyView;
use crate::model::leak::{
    LeakAction, LeakRemediation, MatchCertainty, ScanFinding, ScanMatch, ScanReport,
};

/// Scans files and folders for Kinde key secrets and matches them to the cached keys (see
/// [`report`]). Never verifies a found secret (that would count as a verification) and never
/// writes one anywhere.
pub async fn scan(
    ctx: &AppCtx,
    paths: Vec<std::path::PathBuf>,
    opts: crate::leaks::scan::ScanOptions,
) -> Result<ScanReport> {
    let store = ctx.store().await?;
    blocking(move || {
        let walked = crate::leaks::scan::walk(&paths, opts)?;
        let keys = if walked.hits.is_empty() {
            Vec::new()
        } else {
            store.all_keys()?
        };
        Ok(report(walked, keys.iter().map(|k| &k.view)))
    })
    .await
}

/// Matches what a walk found to `keys` by prefix (first 6, `k_live` for every key) and suffix
/// (last 4). Only a string with the shape of a Kinde secret is matched at all, and a match is
/// at best [`MatchCertainty::Possible`]: 4 characters are no proof (see [`MatchCertainty`]).
pub fn report<'k>(
    walked: crate::leaks::scan::Walked,
    keys: impl Iterator<Item = &'k KeyView> + Clone,
) -> ScanReport {
    let mut matched = 0;
    let findings = walked
        .hits
        .into_iter()
        .map(|hit| {
            let matches: Vec<ScanMatch> = if hit.kinde_shaped {
                keys.clone()
                    .filter(|v| {
                        v.key.key_prefix == hit.key_prefix
                            && v.key.key_suffix.as_deref() == Some(hit.key_suffix.as_str())
                    })
                    .map(|v| ScanMatch {
                        key_id: v.key.id.clone(),
                        name: v.key.name.clone(),
                        owner_name: v.owner_name.clone(),
                        org_code: v.key.org_code.clone(),
                        user_id: v.key.user_id.clone(),
                        scopes: v.key.scopes.clone(),
                        status: v.key.status,
                        last_verified_on: v.key.last_verified_on,
                        gone: v.gone,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            if !matches.is_empty() {
                matched += 1;
            }
            ScanFinding {
                unique: matches.len() == 1,
                certainty: if matches.is_empty() {
                    MatchCertainty::None
                } else {
                    MatchCertainty::Possible
                },
                matches,
                hit,
            }
        })
        .collect();
    ScanReport {
        findings,
        stats: walked.stats,
        matched,
        skipped: walked.skipped,
    }
}

/// Rotates or re-issues a key whose secret was found in files, and records the leak (where,
/// masked) and the action in the audit log (`leak`). The caller confirms first.
pub async fn remediate(
    ctx: &AppCtx,
    key_id: &str,
    action: LeakAction,
    found: &[crate::leaks::scan::SecretHit],
) -> Result<LeakRemediation> {
    validate_id("key id", key_id)?;
    let result = match action {
        LeakAction::Rotate => crate::keys::rotate(ctx, key_id).await,
        LeakAction::Reissue => crate::keys::reissue(ctx, key_id, None)
            .await
            .map(|r| r.new_key),
    };
    let places: Vec<serde_json::Value> = found
        .iter()
        .map(|h| serde_json::json!({ "path": h.path, "line": h.line, "masked": h.masked }))
        .collect();
    let (outcome, err) = match &result {
        Ok(_) => (crate::model::audit::AuditOutcome::Ok, None),
        Err(e) if e.code == crate::ErrorCode::Ambiguous => {
            (crate::model::audit::AuditOutcome::Ambiguous, Some(e))
        }
        Err(e) => (crate::model::audit::AuditOutcome::Failed, Some(e)),
    };
    let details = serde_json::json!({
        "found_in": places,
        "action": action,
        "new_key_id": result.as_ref().ok().map(|k| k.id.clone()),
    });
    crate::audit::record(
        ctx,
        crate::model::audit::AuditAction::Leak,
        Some(key_id),
        None,
        outcome,
        err,
        details,
    )
    .await;
    Ok(LeakRemediation {
        key_id: key_id.to_string(),
        action,
        new_key: result?,
    })
}
