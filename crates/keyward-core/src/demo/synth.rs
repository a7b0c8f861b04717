//! Demo mode only: a believable, made-up past for the demo sandbox's keys.
//!
//! Kinde keeps no history; Keyward's comes from its own syncs, so a fresh demo store would show
//! one bar for "today". [`synthesize`] invents what hourly syncs would have observed over the
//! last `days` days, ending exactly where the real history begins (each key's first observed
//! row). The rows are synthesized demo data: the store writes them with
//! `history.source = 'demo'`, and `demo::prefill_history` only ever writes them into the
//! demo sandbox's own database, never into a real profile's.
//!
//! Per key (deterministic: the random choices are seeded by the key id):
//! - counts only grow, never go below 0, never start before the key's `created_on`, and reach
//!   the first observed count exactly;
//! - the key's last increment is its observed `last_verified_on`: a key last used 10 days ago
//!   has no increments in the last 10 days, one last used before the window has a flat line;
//! - an activity shape: a daytime bump in the key's own time zone, quieter weekends, daily
//!   noise with the odd busy day, and a trend (steady, ramping up, or going quiet).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::model::key::KeyStatus;
use crate::store::{HistoryAnchor, RawHistoryRow};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// How a key's traffic moved over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trend {
    Steady,
    RampingUp,
    GoingQuiet,
}

/// A key's made-up activity pattern.
#[derive(Debug, Clone)]
struct Shape {
    /// Offset of the key's users' local time from UTC, in hours.
    tz_hours: i64,
    /// Local hour of peak traffic.
    peak: f64,
    /// Width of the daytime bump, in hours.
    width: f64,
    /// Night traffic relative to the peak (batch jobs, other time zones).
    night: f64,
    /// Weekend traffic relative to weekdays.
    weekend: f64,
    trend: Trend,
}

impl Shape {
    fn pick(rng: &mut StdRng, idle_days: f64) -> Shape {
        const ZONES: [i64; 8] = [-8, -5, -5, 0, 1, 1, 2, 9];
        let tz_hours = ZONES[rng.random_range(0..ZONES.len())];
        // A key that has been idle for days was winding down; otherwise mostly steady.
        let roll = rng.random_range(0..100);
        let trend = if idle_days > 2.0 && roll < 70 {
            Trend::GoingQuiet
        } else if roll < 20 {
            Trend::RampingUp
        } else if roll < 32 {
            Trend::GoingQuiet
        } else {
            Trend::Steady
        };
        Shape {
            tz_hours,
            peak: rng.random_range(10.0..16.0),
            width: rng.random_range(2.5..5.0),
            night: rng.random_range(0.05..0.45),
            weekend: rng.random_range(0.2..0.9),
            trend,
        }
    }

    /// Share of all the key's verifications in the window, against a uniform spread.
    fn share_factor(&self) -> f64 {
        match self.trend {
            Trend::Steady => 1.0,
            Trend::RampingUp => 1.8,
            Trend::GoingQuiet => 0.6,
        }
    }

    /// Relative traffic in the hour starting at `hour_start`, `progress` (0..=1) through the
    /// key's active span.
    fn weight(&self, hour_start: i64, progress: f64) -> f64 {
        let local = hour_start + self.tz_hours * HOUR_MS;
        let hour = (local.rem_euclid(DAY_MS) / HOUR_MS) as f64 + 0.5;
        let d = (hour - self.peak).abs();
        let d = d.min(24.0 - d);
        let day = self.night + (1.0 - self.night) * (-(d * d) / (2.0 * self.width.powi(2))).exp();
        // 1970-01-01 was a Thursday: (days + 3) % 7 is 0 on Mondays.
        let weekday = (local.div_euclid(DAY_MS) + 3).rem_euclid(7);
        let week = if weekday >= 5 { self.weekend } else { 1.0 };
        let trend = match self.trend {
            Trend::Steady => 1.0,
            Trend::RampingUp => 0.08 + 0.92 * progress.powf(1.7),
            Trend::GoingQuiet => 0.06 + 0.94 * (1.0 - progress).powf(1.6),
        };
        day * week * trend
    }
}

/// The synthesized rows of every anchored key over the `days` days before `now_ms`, in key
/// then time order. Every row of a key lies strictly before its `first_at`.
///
/// Points are hourly; with very many keys (`KEYWARD_DEMO_KEYS`) they are every 6 or 24 hours,
/// so that the store stays small and the prefill quick.
pub fn synthesize(anchors: &[HistoryAnchor], now_ms: i64, days: u32) -> Vec<RawHistoryRow> {
    let window_start = now_ms - i64::from(days) * DAY_MS;
    let slot_ms = match anchors.len() {
        0..=2_000 => HOUR_MS,
        2_001..=20_000 => 6 * HOUR_MS,
        _ => DAY_MS,
    };
    anchors
        .iter()
        .flat_map(|a| synthesize_key(a, window_start, slot_ms))
        .collect()
}

fn seed_of(id: &str) -> u64 {
    // FNV-1a: stable across runs and platforms, so a key's shape is always the same.
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn synthesize_key(a: &HistoryAnchor, window_start: i64, slot_ms: i64) -> Vec<RawHistoryRow> {
    let t0 = a.first_at;
    let c0 = a.count;
    let start = a.created_on.map_or(window_start, |c| c.max(window_start));
    let created_in_window = a.created_on.is_some_and(|c| c >= window_start);
    if c0 <= 0 || start >= t0 - 2 {
        return Vec::new();
    }
    let row =
        |at: i64, count: i64, lvo: Option<i64>, status: KeyStatus, delta: i64| RawHistoryRow {
            kid: a.kid,
            at,
            verification_count: Some(count),
            last_verified_on: lvo,
            last_verified_ip: lvo.and(a.last_verified_ip.clone()),
            status,
            delta,
        };
    let Some(lvo0) = a.last_verified_on else {
        // Counted but never said when: leave it as observed.
        return Vec::new();
    };
    if lvo0 >= t0 {
        return Vec::new();
    }
    if lvo0 < start {
        if created_in_window {
            // Verified before it was created: inconsistent data, leave it alone.
            return Vec::new();
        }
        // Idle through the whole window: one flat observation at its start.
        return vec![row(start, c0, Some(lvo0), a.status, 0)];
    }

    let mut rng = StdRng::seed_from_u64(seed_of(&a.key_id));
    let idle_days = (t0 - lvo0) as f64 / DAY_MS as f64;
    let shape = Shape::pick(&mut rng, idle_days);

    // How many of the key's verifications fall in the window.
    let n = if created_in_window {
        c0
    } else {
        let uniform = match a.created_on {
            Some(c) => (lvo0 - window_start).max(1) as f64 / (lvo0 - c).max(HOUR_MS) as f64,
            None => 0.5,
        };
        let share = (uniform * shape.share_factor()).clamp(0.03, 0.92);
        ((c0 as f64 * share).round() as i64).clamp(1, c0)
    };
    let c_start = c0 - n;

    // Relative weight of every slot (an hour, longer for very many keys) from `start` to
    // the slot of the last verification.
    let first_slot = start.div_euclid(slot_ms);
    let last_slot = lvo0.div_euclid(slot_ms);
    let slots = usize::try_from(last_slot - first_slot + 1)
        .unwrap_or(1)
        .max(1);
    let first_day = (first_slot * slot_ms).div_euclid(DAY_MS);
    let day_count = usize::try_from(lvo0.div_euclid(DAY_MS) - first_day + 1).unwrap_or(1);
    let day_noise: Vec<f64> = (0..day_count)
        .map(|_| {
            let r = rng.random_range(0..100);
            let base = rng.random_range(0.7..1.3);
            match r {
                0..5 => base * rng.random_range(2.0..3.5), // a busy day (a batch, a launch)
                5..8 => base * 0.15,                       // a quiet day (an outage, a holiday)
                _ => base,
            }
        })
        .collect();
    let span = (slots.max(2) - 1) as f64;
    let weights: Vec<f64> = (0..slots)
        .map(|i| {
            let s0 = (first_slot + i as i64) * slot_ms;
            let progress = i as f64 / span;
            (0..slot_ms / HOUR_MS)
                .map(|j| {
                    let h = s0 + j * HOUR_MS;
                    let day = usize::try_from(h.div_euclid(DAY_MS) - first_day).unwrap_or(0);
                    let noise = day_noise.get(day).copied().unwrap_or(1.0);
                    shape.weight(h, progress) * noise * rng.random_range(0.8..1.2)
                })
                .sum::<f64>()
        })
        .collect();

    // Systematic sampling: `n` verifications spread in proportion to the weights.
    let total: f64 = weights.iter().sum();
    let offset: f64 = rng.random_range(0.0..1.0);
    let mut per_slot = vec![0i64; slots];
    let (mut cum, mut placed) = (0.0, 0i64);
    for (i, w) in weights.iter().enumerate() {
        cum += w;
        let upto = if i + 1 == slots || total <= 0.0 {
            n
        } else {
            ((cum / total * n as f64 + offset).floor() as i64).clamp(placed, n)
        };
        per_slot[i] = upto - placed;
        placed = upto;
    }
    // The last verification is the observed one: its slot has at least one.
    let last = slots - 1;
    if per_slot.get(last) == Some(&0)
        && let Some(j) = per_slot.iter().rposition(|&v| v > 0)
    {
        per_slot[j] -= 1;
        per_slot[last] += 1;
    }

    let mut rows = Vec::new();
    // The first observation: at creation (count 0), or at the window's start.
    let baseline_lvo = if c_start > 0 {
        let earliest = a.created_on.unwrap_or(i64::MIN).max(start - 36 * HOUR_MS);
        Some(rng.random_range(earliest..start))
    } else {
        None
    };
    rows.push(row(start, c_start, baseline_lvo, KeyStatus::Active, 0));
    let mut count = c_start;
    for (i, &k) in per_slot.iter().enumerate() {
        if k == 0 {
            continue;
        }
        let s0 = (first_slot + i as i64) * slot_ms;
        let from = s0.max(start + 1);
        count += k;
        let (at, lvo) = if i == last {
            // Observed in the slot of the last verification, before the first real row.
            let at = (s0 + slot_ms - 1000).max(lvo0).max(from).min(t0 - 1);
            (at, lvo0)
        } else {
            let at = (s0 + slot_ms - 1000).max(from);
            let lvo = if k >= 30 {
                at - rng.random_range(0..60_000).min(at - from)
            } else {
                rng.random_range(from..=at)
            };
            (at, lvo)
        };
        rows.push(row(at, count, Some(lvo), KeyStatus::Active, k));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(created_days_ago: i64, count: i64, lvo_min_ago: i64, now: i64) -> HistoryAnchor {
        HistoryAnchor {
            kid: 1,
            key_id: format!("key_{created_days_ago}_{count}_{lvo_min_ago}"),
            created_on: Some(now - created_days_ago * DAY_MS),
            first_at: now,
            count,
            last_verified_on: Some(now - lvo_min_ago * 60_000),
            last_verified_ip: Some("203.0.113.9".into()),
            status: KeyStatus::Active,
        }
    }

    fn check(a: &HistoryAnchor, rows: &[RawHistoryRow]) {
        let mut prev_at = i64::MIN;
        let mut prev_count = 0;
        for r in rows {
            assert!(r.at > prev_at, "times increase");
            assert!(r.at < a.first_at, "before the first observed row");
            assert!(
                a.created_on.is_none_or(|c| r.at >= c),
                "not before creation"
            );
            let c = r.verification_count.unwrap();
            assert!(c >= prev_count && c >= 0, "counts never go down");
            assert!(r.delta >= 0);
            if r.delta > 0 {
                assert_eq!(c - r.delta, prev_count, "delta is the count's move");
            }
            if let Some(l) = r.last_verified_on {
                assert!(l <= r.at, "verified before observed");
            }
            prev_at = r.at;
            prev_count = c;
        }
        let last = rows.last().unwrap();
        assert_eq!(
            last.verification_count,
            Some(a.count),
            "ends at the observed count"
        );
        assert_eq!(last.last_verified_on, a.last_verified_on);
    }

    #[test]
    fn busy_old_key_spans_the_window_and_ends_at_its_count() {
        let now = 1_780_000_000_000;
        let a = anchor(200, 50_000, 3, now);
        let rows = synthesize(std::slice::from_ref(&a), now, 30);
        check(&a, &rows);
        assert_eq!(rows[0].at, now - 30 * DAY_MS);
        assert!(rows[0].verification_count.unwrap() > 0);
        let days: std::collections::HashSet<i64> = rows
            .iter()
            .filter(|r| r.delta > 0)
            .map(|r| r.at / DAY_MS)
            .collect();
        assert!(days.len() >= 25, "{} active days", days.len());
    }

    #[test]
    fn young_key_starts_at_zero_on_its_creation() {
        let now = 1_780_000_000_000;
        let a = anchor(5, 700, 10, now);
        let rows = synthesize(std::slice::from_ref(&a), now, 30);
        check(&a, &rows);
        assert_eq!(rows[0].at, a.created_on.unwrap());
        assert_eq!(rows[0].verification_count, Some(0));
        assert_eq!(rows.iter().map(|r| r.delta).sum::<i64>(), 700);
    }

    #[test]
    fn key_idle_for_days_has_no_recent_increments() {
        let now = 1_780_000_000_000;
        let a = anchor(300, 2_000, 10 * 24 * 60, now);
        let rows = synthesize(std::slice::from_ref(&a), now, 30);
        check(&a, &rows);
        let lvo = a.last_verified_on.unwrap();
        assert!(rows.iter().all(|r| r.delta == 0 || r.at < lvo + HOUR_MS));
    }

    #[test]
    fn stale_key_is_flat_and_tiny_counts_stay_whole() {
        let now = 1_780_000_000_000;
        let stale = anchor(300, 40, 90 * 24 * 60, now);
        let rows = synthesize(std::slice::from_ref(&stale), now, 30);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].delta, 0);
        assert_eq!(rows[0].verification_count, Some(40));
        let tiny = anchor(400, 1, 60, now);
        let rows = synthesize(std::slice::from_ref(&tiny), now, 30);
        check(&tiny, &rows);
        assert_eq!(rows.iter().map(|r| r.delta).sum::<i64>(), 1);
    }

    #[test]
    fn same_key_same_past() {
        let now = 1_780_000_000_000;
        let a = anchor(100, 9_000, 1, now);
        let one = synthesize(std::slice::from_ref(&a), now, 30);
        let two = synthesize(std::slice::from_ref(&a), now, 30);
        assert_eq!(format!("{one:?}"), format!("{two:?}"));
    }
}
