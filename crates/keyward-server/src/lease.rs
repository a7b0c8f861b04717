//! The leader lease: exactly one replica syncs and delivers at a time, chosen through
//! PostgreSQL (`migrations/0101_lease.sql`).
//!
//! A lease row (holder, epoch, expires_at) rather than a session advisory lock: the lease
//! survives a connection that is cut and re-made (a PostgreSQL restart, a pooler in transaction
//! mode) without a second leader appearing, it expires by the database's own clock when its
//! holder stops renewing (kill -9, a host gone), it shows who leads in plain SQL (for
//! `/healthz` and `/metrics`), and its epoch fences writes: a replica whose lease lapsed finds
//! its epoch stale inside the write's transaction and stops ([`Fence::check`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use keyward_core::error::{Error, ErrorCode, Result};
use postgres::{Client, Transaction};

pub use crate::pg::{Pool, db_err};

/// The lease's row name (one leader per database).
pub const LEASE: &str = "leader";

/// Who leads, as the database says.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub holder: String,
    pub epoch: i64,
    pub expires_at: DateTime<Utc>,
    pub valid: bool,
}

/// Holding the lease: the holder and the epoch it was taken at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub holder: String,
    pub epoch: i64,
}

/// The error a fenced write fails with.
pub fn lost_lease() -> Error {
    Error::new(
        ErrorCode::Database,
        "this replica's leader lease lapsed; another replica leads now",
        "Nothing to do: the new leader carries on. Check this host's connection to PostgreSQL \
         if it happens often.",
    )
}

impl Fence {
    /// Inside a write's transaction: the lease is still ours at our epoch and not expired.
    /// Takes a share lock on the lease row, so that a takeover waits until the write commits.
    pub fn check(&self, tx: &mut Transaction<'_>) -> Result<()> {
        let row = tx
            .query_opt(
                "SELECT 1 FROM server_lease WHERE name = $1 AND holder = $2 AND epoch = $3 \
                 AND expires_at > now() FOR SHARE",
                &[&LEASE, &self.holder, &self.epoch],
            )
            .map_err(db_err)?;
        match row {
            Some(_) => Ok(()),
            None => Err(lost_lease()),
        }
    }
}

/// Takes the lease when it is free or expired, or renews it when `holder` has it. Returns the
/// fence (epoch) when `holder` leads after this, `None` when another replica does.
pub fn acquire_or_renew(c: &mut Client, holder: &str, ttl: Duration) -> Result<Option<Fence>> {
    let ms = ttl.as_millis() as f64;
    let row = c
        .query_opt(
            "INSERT INTO server_lease (name, holder, epoch, acquired_at, renewed_at, expires_at) \
             VALUES ($1, $2, 1, now(), now(), now() + $3::float8 * interval '1 millisecond') \
             ON CONFLICT (name) DO UPDATE SET \
               epoch = CASE WHEN server_lease.holder = EXCLUDED.holder \
                            AND server_lease.expires_at > now() \
                       THEN server_lease.epoch ELSE server_lease.epoch + 1 END, \
               acquired_at = CASE WHEN server_lease.holder = EXCLUDED.holder \
                            AND server_lease.expires_at > now() \
                       THEN server_lease.acquired_at ELSE now() END, \
               holder = EXCLUDED.holder, \
               renewed_at = now(), \
               expires_at = EXCLUDED.expires_at \
             WHERE server_lease.holder = EXCLUDED.holder OR server_lease.expires_at <= now() \
             RETURNING epoch",
            &[&LEASE, &holder, &ms],
        )
        .map_err(db_err)?;
    Ok(row.map(|r| Fence {
        holder: holder.to_string(),
        epoch: r.get(0),
    }))
}

/// Gives the lease up at once (a clean shutdown), so another replica need not wait the TTL.
pub fn release(c: &mut Client, fence: &Fence) -> Result<()> {
    c.execute(
        "UPDATE server_lease SET expires_at = now() WHERE name = $1 AND holder = $2 \
         AND epoch = $3",
        &[&LEASE, &fence.holder, &fence.epoch],
    )
    .map_err(db_err)?;
    Ok(())
}

/// The current holder (valid or not), if the lease was ever taken.
pub fn holder(c: &mut Client) -> Result<Option<Holder>> {
    let row = c
        .query_opt(
            "SELECT holder, epoch, expires_at, expires_at > now() FROM server_lease \
             WHERE name = $1",
            &[&LEASE],
        )
        .map_err(db_err)?;
    Ok(row.map(|r| Holder {
        holder: r.get(0),
        epoch: r.get(1),
        expires_at: r.get(2),
        valid: r.get(3),
    }))
}

/// This replica's id: host name, process id and a random part (unique across restarts).
pub fn replica_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let r: u32 = rand::random();
    format!("{host}-{}-{r:08x}", std::process::id())
}
