//! The audit log of what the admin did: every write to Kinde, whatever its outcome.
//!
//! On a Keyward Server each request runs [`as_actor`] with the member who sent it, and every
//! row written while it runs names that member ([`actor`]).

use std::sync::Arc;

use chrono::Utc;

use crate::ctx::{AppCtx, blocking};
use crate::error::{Error, ErrorCode, Result};
use crate::kinde::validate_id;
use crate::model::audit::{
    AuditAction, AuditClose, AuditEntry, AuditFilter, AuditOutcome, NewAudit,
};
use crate::store::Store;

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

/// The `pending` audit row of a write about to be sent to Kinde (see [`intent`]).
#[derive(Debug)]
pub(crate) struct Intent {
    id: i64,
    store: Arc<dyn Store>,
}

/// Writes the intent of a write to Kinde: a `pending` audit row, BEFORE the request is sent.
/// When it cannot be written (full disk, read-only data folder, a corrupt, newer or locked
/// database) the error says so and the caller must not send the request: an action Keyward
/// could not record would later look like drift.
pub(crate) async fn intent(
    ctx: &AppCtx,
    action: AuditAction,
    key_id: Option<&str>,
    key_name: Option<&str>,
    details: serde_json::Value,
) -> Result<Intent> {
    let refuse = |e: Error| {
        Error::new(
            e.code,
            format!(
                "nothing was sent to Kinde: the audit log could not record the {} first ({})",
                action.as_str(),
                e.message
            ),
            format!(
                "{} Keyward writes every change to its audit log before asking Kinde, so that \
                 no change goes unrecorded; run it again once the audit log can be written.",
                e.hint
            ),
        )
    };
    let store = ctx.store().await.map_err(refuse)?;
    let (key_id, key_name) = (key_id.map(str::to_string), key_name.map(str::to_string));
    let actor = actor();
    let s = Arc::clone(&store);
    let id = blocking(move || {
        let row = NewAudit {
            action,
            key_id: key_id.as_deref(),
            key_name: key_name.as_deref(),
            outcome: AuditOutcome::Pending,
            error: None,
            details,
            actor: actor.as_deref(),
        };
        s.audit_append(Utc::now(), &row)
    })
    .await
    .map_err(refuse)?;
    Ok(Intent { id, store })
}

impl Intent {
    /// Closes the intent with Kinde's answer: `ok` without an `error`, else `ambiguous` or
    /// `failed` by its code; `key_id`/`key_name` fill in what Kinde returned, `details`
    /// replaces the intent's when given. Never fails the operation: when the row cannot be
    /// closed it stays `pending` (logged, and the next sync reconciles it as Keyward's own).
    /// After an ambiguous write, reconciles at once (best effort). Returns whether the row
    /// was closed.
    pub(crate) async fn close(
        self,
        ctx: &AppCtx,
        key_id: Option<&str>,
        key_name: Option<&str>,
        error: Option<&Error>,
        details: Option<serde_json::Value>,
    ) -> bool {
        let outcome = match error {
            None => AuditOutcome::Ok,
            Some(e) if e.code == ErrorCode::Ambiguous => AuditOutcome::Ambiguous,
            Some(_) => AuditOutcome::Failed,
        };
        let (key_id, key_name) = (key_id.map(str::to_string), key_name.map(str::to_string));
        let error = error.cloned();
        let (id, store) = (self.id, self.store);
        let r = blocking(move || {
            store.audit_close(
                id,
                &AuditClose {
                    outcome,
                    key_id: key_id.as_deref(),
                    key_name: key_name.as_deref(),
                    error: error.as_ref(),
                    details,
                },
            )
        })
        .await;
        let closed = match r {
            Ok(true) => true,
            Ok(false) => {
                tracing::warn!(
                    audit_id = id,
                    "the audit row was no longer pending (reconciled meanwhile?); left as it is"
                );
                false
            }
            Err(e) => {
                tracing::warn!(
                    audit_id = id,
                    code = %e.code,
                    "could not close the audit row: it stays pending and the next sync \
                     reconciles it as Keyward's own {}: {}",
                    outcome.as_str(),
                    e.message
                );
                false
            }
        };
        if outcome == AuditOutcome::Ambiguous
            && let Err(e) = crate::sync::reconcile::reconcile(ctx).await
        {
            tracing::warn!(code = %e.code, "reconcile after an ambiguous write failed: {}", e.message);
        }
        closed
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
