//! A key's counters over time and the re-issue links between keys.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// One observed change of a key's counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HistoryPoint {
    pub at: DateTime<Utc>,
    #[ts(type = "number | null")]
    pub verification_count: Option<i64>,
    pub last_verified_on: Option<DateTime<Utc>>,
    pub last_verified_ip: Option<String>,
    pub status: String,
    /// Verifications since the previous point (a counter reset counts as 0).
    #[ts(type = "number")]
    pub delta: i64,
}

/// Bucket size of a verification chart (UTC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Bucket {
    Hour,
    #[default]
    Day,
}

impl Bucket {
    pub fn millis(self) -> i64 {
        match self {
            Bucket::Hour => HOUR_MS,
            Bucket::Day => DAY_MS,
        }
    }
}

/// Verifications in one bucket starting at `start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BucketCount {
    pub start: DateTime<Utc>,
    #[ts(type = "number")]
    pub verifications: i64,
}

/// A key's history: raw points and bucketed verifications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct KeyHistory {
    pub key_id: String,
    pub name: Option<String>,
    pub bucket: Bucket,
    pub since: DateTime<Utc>,
    pub points: Vec<HistoryPoint>,
    pub buckets: Vec<BucketCount>,
    #[ts(type = "number")]
    pub total: i64,
}

/// An old → new re-issue link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReissueLink {
    pub old_id: String,
    pub new_id: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    #[ts(type = "number | null")]
    pub old_count_at_open: Option<i64>,
    /// When the old key stops working: the first sync after it revokes the old key (unless
    /// it is revoked already). `None`: it works until the admin revokes it.
    pub old_expires_at: Option<DateTime<Utc>>,
}

/// What [`crate::demo::prefill_history`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefillSummary {
    pub days: u32,
    /// Keys given a synthesized past.
    pub keys: u32,
    /// Synthesized history rows written (`history.source = 'demo'`).
    pub rows: u64,
    /// Why nothing was written: `has_history` (already prefilled, or the store has a past of
    /// its own) or `not_synced` (no key observed with verifications yet: sync first).
    pub skipped: Option<String>,
}

/// Days a rolled-up day keeps its verifications per hour before it is folded into one count
/// per day (with its last verification and distinct addresses).
pub const ROLLED_HOURS_DAYS: u32 = 365;

/// What one roll-up of old history did (see `Store::roll_up_history`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupSummary {
    /// Raw samples rolled up into per-hour counts (and deleted).
    pub samples_rolled: u64,
    /// Key-days written to (or merged into) the per-hour roll-up.
    pub days_rolled: u64,
    /// Key-days folded from per-hour into per-day counts (older than [`ROLLED_HOURS_DAYS`]).
    pub days_folded: u64,
    /// Transactions committed (each bounded by the batch size).
    pub transactions: u64,
    /// False when nothing was due (the last complete roll-up reached the same days).
    pub ran: bool,
}

/// A key's verifications over everything the store keeps (raw, per hour and per day) and
/// its newest last verification (ms since the epoch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryTotals {
    pub verifications: i64,
    pub last_verified_on: Option<i64>,
}

/// Verifications per hour of one UTC day, packed for storage: for each hour (0..=23) with
/// verifications, the hour and its count as unsigned LEB128 varints, hours ascending.
pub fn pack_hours(hours: &[i64; 24]) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, &n) in hours.iter().enumerate() {
        if n > 0 {
            push_varint(&mut out, h as u64);
            push_varint(&mut out, n as u64);
        }
    }
    out
}

/// The inverse of [`pack_hours`]; a damaged tail is ignored (never a panic).
pub fn unpack_hours(packed: &[u8]) -> [i64; 24] {
    let mut out = [0i64; 24];
    let mut it = packed.iter().copied();
    while let (Some(h), Some(n)) = (read_varint(&mut it), read_varint(&mut it)) {
        if let Some(slot) = usize::try_from(h).ok().and_then(|h| out.get_mut(h)) {
            *slot = slot.saturating_add(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
    out
}

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn read_varint(it: &mut impl Iterator<Item = u8>) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = it.next()?;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_pack_and_unpack() {
        let mut h = [0i64; 24];
        h[0] = 1;
        h[9] = 300;
        h[23] = 1 << 40;
        let p = pack_hours(&h);
        assert_eq!(p.len(), 2 + 3 + 1 + 6);
        assert_eq!(unpack_hours(&p), h);
        assert_eq!(unpack_hours(&[]), [0; 24]);
        // A damaged blob: an hour out of range and a truncated varint are skipped.
        assert_eq!(unpack_hours(&[30, 5, 2, 0x80]), [0; 24]);
    }
}
