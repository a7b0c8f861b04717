//! After an ambiguous create, rotate or revoke (the request went out, the answer was lost):
//! what Kinde shows decides what happened.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::ctx::{AppCtx, blocking};
use crate::error::Result;
use crate::model::audit::{AuditAction, AuditEntry, AuditFilter};
use crate::model::sync::SyncOptions;

/// After an ambiguous create, rotate or revoke: re-reads Kinde (an incremental sync) and
/// records what was found, one `reconcile` audit row per ambiguous row.
pub async fn reconcile(ctx: &AppCtx) -> Result<Vec<AuditEntry>> {
    let store = ctx.store().await?;
    let pending = {
        let s = Arc::clone(&store);
        blocking(move || s.ambiguous_pending()).await?
    };
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    // A running sync reconciles too, from its own complete listing; then ours is cheap.
    super::run_wait(
        ctx,
        SyncOptions::default(),
        |_| {},
        CancellationToken::new(),
    )
    .await?;
    let filter = AuditFilter {
        action: Some(AuditAction::Reconcile),
        limit: Some(pending.len() as u32),
        ..Default::default()
    };
    blocking(move || store.audit_list(&filter)).await
}
