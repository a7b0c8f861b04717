//! Alert delivery: each alert raised is queued once per destination that accepts it (the
//! outbox in PostgreSQL), then sent, signed (Standard Webhooks) or as a Slack message, retried
//! with backoff until delivered or given up after `give_up_after`.
//!
//! - [`sign`]: the Standard Webhooks signature.
//! - [`payload`]: the webhook event and the Slack message, from the alert and its cached key.
//! - [`outbox`]: the SQL (queue, claim with `FOR UPDATE SKIP LOCKED`, attempts, backoff).
//! - [`send`]: one HTTP attempt.

pub mod outbox;
pub mod payload;
pub mod send;
pub mod sign;

use std::sync::Arc;

use chrono::Utc;
use keyward_core::ctx::blocking;
use keyward_core::error::{Error, Result};
use keyward_core::model::alert::{Alert, AlertFilter};
use keyward_core::model::key::KeyView;
use keyward_core::store::Store;
use sha2::{Digest, Sha256};

use crate::config::{DeliveryConfig, Destination, DestinationKind};
use crate::lease::Fence;
use crate::pg::{Pool, get as conn};
use outbox::{NewDelivery, Outcome};

/// What one round of sending did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub delivered: u64,
    pub retried: u64,
    pub failed: u64,
}

/// What [`Deliverer::enqueue_new`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enqueued {
    /// Delivery rows queued now.
    pub queued: u64,
    /// The kinds of the alerts seen for the first time (one entry per alert).
    pub kinds: Vec<&'static str>,
}

/// Queues and sends one profile's alerts to its destinations.
#[derive(Clone)]
pub struct Deliverer {
    pub pool: Pool,
    pub profile: String,
    pub replica: String,
    pub destinations: Arc<Vec<Destination>>,
    pub config: DeliveryConfig,
    pub public_url: Option<url::Url>,
    http: reqwest::Client,
}

/// The `webhook-id` of an alert sent to a destination: stable across retries and replicas.
pub fn message_id(profile: &str, alert_id: i64, destination: &str) -> String {
    let mut h = Sha256::new();
    h.update(profile.as_bytes());
    h.update([0]);
    h.update(alert_id.to_be_bytes());
    h.update([0]);
    h.update(destination.as_bytes());
    let hex: String = h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("msg_{hex}")
}

impl Deliverer {
    pub fn new(
        pool: Pool,
        profile: &str,
        replica: &str,
        destinations: Vec<Destination>,
        config: DeliveryConfig,
        public_url: Option<url::Url>,
    ) -> Deliverer {
        Deliverer {
            pool,
            profile: profile.to_string(),
            replica: replica.to_string(),
            destinations: Arc::new(destinations),
            http: send::http_client(config.timeout),
            config,
            public_url,
        }
    }

    /// Queues the alerts `store` raised since the last call (unmuted, summaries rather than
    /// their members) for each destination whose filter accepts them. Returns the rows queued.
    pub async fn enqueue_new(
        &self,
        store: &Arc<dyn Store>,
        fence: Option<&Fence>,
    ) -> Result<Enqueued> {
        let pool = self.pool.clone();
        let profile = self.profile.clone();
        let cursor = blocking(move || outbox::cursor(&mut *conn(&pool)?, &profile)).await?;
        let s = Arc::clone(store);
        let list = blocking(move || {
            s.alerts_list(&AlertFilter {
                include_acknowledged: true,
                include_muted: false,
                ..AlertFilter::default()
            })
        })
        .await?;
        let mut fresh: Vec<_> = list.alerts.into_iter().filter(|a| a.id > cursor).collect();
        if fresh.is_empty() {
            return Ok(Enqueued::default());
        }
        let kinds = fresh.iter().map(|a| a.kind.as_str()).collect();
        fresh.sort_by_key(|a| a.id);
        let new_cursor = fresh.last().map(|a| a.id).unwrap_or(cursor);
        let mut items = Vec::new();
        for a in &fresh {
            if !self
                .destinations
                .iter()
                .any(|d| d.filter.accepts(a.kind, a.severity))
            {
                continue;
            }
            let key = match &a.key_id {
                Some(id) => {
                    let (s, id) = (Arc::clone(store), id.clone());
                    blocking(move || s.get_key(&id, Utc::now())).await?
                }
                None => None,
            };
            items.extend(self.items_for(a, key.as_ref())?);
        }
        let queued = self.queue(items, new_cursor, fence).await?;
        Ok(Enqueued { queued, kinds })
    }

    /// The deliveries of `alert` (its key's cached view, if any): one per destination whose
    /// filter accepts it, each with its body built once.
    pub fn items_for(&self, a: &Alert, key: Option<&KeyView>) -> Result<Vec<NewDelivery>> {
        let ev = payload::event(
            &self.profile,
            a,
            key,
            payload::link(self.public_url.as_ref(), a.id),
        );
        let mut items = Vec::new();
        for d in self.destinations.iter() {
            if !d.filter.accepts(a.kind, a.severity) {
                continue;
            }
            let body = match &d.kind {
                DestinationKind::Webhook { .. } => serde_json::to_string(&ev),
                DestinationKind::Slack { .. } => serde_json::to_string(&payload::slack(&ev)),
            }
            .map_err(|e| Error::internal(e.to_string()))?;
            items.push(NewDelivery {
                alert_id: a.id,
                destination: d.name.clone(),
                dest_kind: d.kind.as_str(),
                message_id: message_id(&self.profile, a.id, &d.name),
                body,
                kind: a.kind.as_str().to_string(),
                severity: a.severity.as_str().to_string(),
            });
        }
        Ok(items)
    }

    /// Queues `items` and moves the cursor to `new_cursor` (see [`outbox::enqueue`]).
    pub async fn queue(
        &self,
        items: Vec<NewDelivery>,
        new_cursor: i64,
        fence: Option<&Fence>,
    ) -> Result<u64> {
        let pool = self.pool.clone();
        let profile = self.profile.clone();
        let fence = fence.cloned();
        blocking(move || {
            outbox::enqueue(
                &mut *conn(&pool)?,
                &profile,
                &items,
                new_cursor,
                fence.as_ref(),
            )
        })
        .await
    }

    /// Sends every delivery due now, one at a time, until none is due. `on_outcome` is told of
    /// each (for the metrics).
    pub async fn deliver_due(
        &self,
        fence: Option<&Fence>,
        on_outcome: impl Fn(&str, Outcome) + Send + Sync + 'static,
    ) -> Result<Round> {
        let me = self.clone();
        let fence = fence.cloned();
        let handle = tokio::runtime::Handle::current();
        blocking(move || {
            let mut c = conn(&me.pool)?;
            let mut round = Round::default();
            // The database's clock decides what is due (as it set next_attempt_at).
            let due_by: chrono::DateTime<Utc> = c
                .query_one("SELECT clock_timestamp()", &[])
                .map_err(crate::pg::db_err)?
                .get(0);
            loop {
                let mut send = |due: &outbox::Due| {
                    let dest = me.destinations.iter().find(|d| d.name == due.destination)?;
                    Some(handle.block_on(send::attempt(&me.http, dest, due)))
                };
                let r = outbox::deliver_one(
                    &mut c,
                    &me.profile,
                    &me.replica,
                    me.config.retry_base,
                    me.config.give_up_after,
                    fence.as_ref(),
                    due_by,
                    &mut send,
                )?;
                let Some((due, outcome)) = r else {
                    return Ok(round);
                };
                match outcome {
                    Outcome::Delivered => {
                        round.delivered += 1;
                        tracing::info!(
                            destination = %due.destination,
                            alert = due.alert_id,
                            attempt = due.attempts + 1,
                            "delivered"
                        );
                    }
                    Outcome::Retry(wait) => {
                        round.retried += 1;
                        tracing::info!(
                            destination = %due.destination,
                            alert = due.alert_id,
                            attempt = due.attempts + 1,
                            "delivery failed; next attempt in {} ms",
                            wait.as_millis()
                        );
                    }
                    Outcome::Failed => {
                        round.failed += 1;
                        tracing::warn!(
                            destination = %due.destination,
                            alert = due.alert_id,
                            "delivery given up after {} attempts",
                            due.attempts + 1
                        );
                    }
                }
                on_outcome(&due.destination, outcome);
            }
        })
        .await
    }

    /// When the next pending delivery is due (`None`: nothing pending).
    pub async fn next_due(&self) -> Result<Option<chrono::DateTime<Utc>>> {
        let pool = self.pool.clone();
        let profile = self.profile.clone();
        blocking(move || outbox::next_due(&mut *conn(&pool)?, &profile)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_and_distinct() {
        let a = message_id("server", 1, "ops");
        assert_eq!(a, message_id("server", 1, "ops"));
        assert_ne!(a, message_id("server", 2, "ops"));
        assert_ne!(a, message_id("server", 1, "slack"));
        assert!(a.starts_with("msg_") && a.len() == 36, "{a}");
    }
}
