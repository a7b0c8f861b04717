//! The audit log of what the admin did: every write to Kinde, whatever its outcome.
//!
//! On a Keyward Server each request runs [`as_actor`] with the member who sent it, and every
//! row written while it runs names that member ([`actor`]).

use chrono::Utc;

use crate::ctx::{AppCtx, blocking};
use crate::error::{Error, ErrorCode, Result};
use crate::kinde::validate_id;
use crate::model::audit::{AuditAction, AuditEntry, AuditFilter, AuditOutcome, NewAudit};

tokio::task_local! {
    static ACTOR: String;
}

/// Runs `fut` with `name` as the actor of every audit row it writes (a server request made
/// with a member's token).
pub async fn as_actor<F: std::future::Future>(name: String, fut: F) -> F::Output {
    ACTOR.scope(name, fut).await
}

/// The member on whose behalf the current task runs, if any (see [`as_actor`]).
pub fn actor() -> Option<String> {
    ACTOR.try_with(Clone::clone).ok()
}

/// Audits a mutation (see [`record`]) as `ok` without an `error`, else `ambiguous` or
/// `failed` by the error's code; after an ambiguous write, reconciles at once by re-reading
/// Kinde (best effort: the next sync does it otherwise).
pub(crate) async fn record_result(
    ctx: &AppCtx,
    action: AuditAction,
    key_id: Option<&str>,
    key_name: Option<&str>,
    error: Option<&Error>,
    details: serde_json::Value,
) {
    let outcome = match error {
        None => AuditOutcome::Ok,
        Some(e) if e.code == ErrorCode::Ambiguous => AuditOutcome::Ambiguous,
        Some(_) => AuditOutcome::Failed,
    };
    record(ctx, action, key_id, key_name, outcome, error, details).await;
    if outcome == AuditOutcome::Ambiguous
        && let Err(e) = crate::sync::reconcile::reconcile(ctx).await
    {
        tracing::warn!(code = %e.code, "reconcile after an ambiguous write failed: {}", e.message);
    }
}

/// The audit log, newest first.
pub async fn list(ctx: &AppCtx, filter: AuditFilter) -> Result<Vec<AuditEntry>> {
    if let Some(k) = &filter.key_id {
        validate_id("key id", k)?;
    }
    let store = ctx.store().await?;
    blocking(move || store.audit_list(&filter)).await
}

/// Appends an audit row; the audit log never makes an operation fail (a failure to write it
/// is logged). Called by every mutating operation, whatever its outcome.
pub async fn record(
    ctx: &AppCtx,
    action: AuditAction,
    key_id: Option<&str>,
    key_name: Option<&str>,
    outcome: AuditOutcome,
    error: Option<&Error>,
    details: serde_json::Value,
) {
    let store = match ctx.store().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(code = %e.code, "audit log unavailable: {}", e.message);
            return;
        }
    };
    let (key_id, key_name) = (key_id.map(str::to_string), key_name.map(str::to_string));
    let error = error.cloned();
    let actor = actor();
    let r = blocking(move || {
        let row = NewAudit {
            action,
            key_id: key_id.as_deref(),
            key_name: key_name.as_deref(),
            outcome,
            error: error.as_ref(),
            details,
            actor: actor.as_deref(),
        };
        store.audit_append(Utc::now(), &row).map(|_| ())
    })
    .await;
    if let Err(e) = r {
        tracing::warn!(code = %e.code, "could not write the audit log: {}", e.message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_actor_is_the_member_of_the_task_and_no_one_outside_it() {
        assert_eq!(actor(), None);
        let inner = as_actor("bob@example.com".into(), async {
            tokio::task::yield_now().await;
            actor()
        })
        .await;
        assert_eq!(inner.as_deref(), Some("bob@example.com"));
        assert_eq!(actor(), None);
    }
}
