//! History at scale (figures, no assertions on time): 10,000 keys × 1 year of syncs every 15
//! minutes (the app's default interval) with realistic activity, written through the store's
//! own history path (rows only when a key's counters changed, with the daily roll-up), and
//! the roll-up of samples older than 90 days run after each synthetic day, as the app runs it
//! after its syncs. Reports the database size against its goal (<= 600 MiB; the format before
//! the roll-up took 2,806 MiB), what each lever of the row format saves (measured on the first
//! week's rows, written in sync order into a table of each format), and p50/p99 of a 90-day
//! daily chart query, a 7-day and a 120-day hourly chart (the latter across raw and rolled-up
//! hours), the 7-day sparkline of every key and the insights computation.
//!
//! Activity mix: 5% busy integrations (several verifications every 5 minutes), 25% office-hours
//! keys (weekdays 08-18 UTC), 50% light keys (a few a day), 20% dormant (never after creation).
//! Environment: `KW_BENCH_HISTORY_KEYS` (10000), `KW_BENCH_HISTORY_DAYS` (365),
//! `KW_BENCH_HISTORY_SYNC_MIN` (minutes between syncs, 15).

#![allow(
    clippy::disallowed_methods,
    reason = "the bench reads the database file behind the store"
)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use chrono::{Datelike, Duration, Timelike, Utc};
use keyward_core::insights::{InsightsOptions, compute};
use keyward_core::model::history::Bucket;
use keyward_core::model::key::{ApiKey, KeyStatus, KeyType};
use keyward_core::store::{PageEntry, RawHistoryRow};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use support::file_store;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Copy)]
enum Kind {
    Busy,
    Office,
    Light,
    Dormant,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn time_it(n: usize, mut f: impl FnMut(usize)) -> (f64, f64) {
    let mut ms: Vec<f64> = (0..n)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 0.5), percentile(&ms, 0.99))
}

fn main() {
    let keys = env("KW_BENCH_HISTORY_KEYS", 10_000);
    let days = env("KW_BENCH_HISTORY_DAYS", 365) as i64;
    let sync_min = env("KW_BENCH_HISTORY_SYNC_MIN", 15).clamp(5, 1440) as i64;
    // Activity is modelled per 5 minutes; a sync sees `per` of those windows at once.
    let per = (sync_min / 5).max(1) as i32;
    let tick_ms: i64 = sync_min * 60 * 1000;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("history.db");
    let store = file_store(&path, "bench");
    let mut rng = StdRng::seed_from_u64(7);
    let now = Utc::now();
    let start = now - Duration::days(days);

    // The keys, as a first sync would store them.
    let kinds: Vec<Kind> = (0..keys)
        .map(|i| match i * 100 / keys {
            0..5 => Kind::Busy,
            5..30 => Kind::Office,
            30..80 => Kind::Light,
            _ => Kind::Dormant,
        })
        .collect();
    let entries: Vec<PageEntry> = (0..keys)
        .map(|i| PageEntry {
            key: ApiKey {
                id: format!("api_key_{i:032x}"),
                name: format!("key {i}"),
                key_type: if i % 3 == 0 {
                    KeyType::User
                } else {
                    KeyType::Organization
                },
                status: KeyStatus::Active,
                key_prefix: "k_live".into(),
                key_suffix: Some(format!("{:04}", i)),
                created_on: Some(start - Duration::days(30)),
                last_verified_on: None,
                last_verified_ip: None,
                created_by: None,
                api_ids: vec![format!("api_{}", i % 3)],
                scopes: vec!["read:data".into()],
                verification_count: Some(0),
                user_id: (i % 3 == 0).then(|| format!("kp_{i}")),
                org_code: (i % 3 != 0).then(|| format!("org_{}", i % 40)),
            },
            detail: true,
        })
        .collect();
    store
        .apply_page(Some(1), start, &entries)
        .expect("first page");
    let kids: Vec<i64> = (0..keys)
        .map(|i| {
            store
                .kid_of(&format!("api_key_{i:032x}"))
                .expect("kid")
                .expect("known")
        })
        .collect();

    // A year of syncs, one transaction per synthetic day.
    let ticks_per_day = 24 * 60 / sync_min;
    // The chance that at least one of `per` five-minute windows saw a verification.
    let any = |p: f64| 1.0 - (1.0 - p).powi(per);
    let mut counts = vec![0i64; keys];
    let t_write = Instant::now();
    let mut rows_total = 0usize;
    // The first week's rows, for the row-format levers.
    let mut sample: Vec<RawHistoryRow> = Vec::new();
    let mut rollup_secs = 0.0f64;
    let mut rolled = 0u64;
    for day in 0..days {
        let mut rows = Vec::new();
        for tick in 0..ticks_per_day {
            let at_ms = start.timestamp_millis() + (day * ticks_per_day + tick) * tick_ms;
            let at = start + Duration::milliseconds((day * ticks_per_day + tick) * tick_ms);
            let weekday = at.weekday().num_days_from_monday() < 5;
            let office = weekday && (8..18).contains(&at.hour());
            for (i, kind) in kinds.iter().enumerate() {
                let n: i64 = match kind {
                    Kind::Busy => rng.random_range(0..12 * i64::from(per)),
                    Kind::Office if office => {
                        if rng.random_bool(any(0.6)) {
                            rng.random_range(1..4 * i64::from(per))
                        } else {
                            0
                        }
                    }
                    Kind::Office => i64::from(rng.random_bool(any(0.002))),
                    Kind::Light => i64::from(rng.random_bool(any(0.015))),
                    Kind::Dormant => 0,
                };
                if n == 0 {
                    continue;
                }
                counts[i] += n;
                rows.push(RawHistoryRow {
                    kid: kids[i],
                    at: at_ms,
                    verification_count: Some(counts[i]),
                    last_verified_on: Some(at_ms - rng.random_range(0..tick_ms)),
                    last_verified_ip: Some(format!("198.51.100.{}", i % 200)),
                    status: KeyStatus::Active,
                    delta: n,
                });
            }
        }
        rows_total += rows.len();
        store.bulk_insert_history(&rows).expect("insert");
        if day < 7 {
            sample.extend(rows.iter().cloned());
        }
        // The roll-up as the app runs it after a sync (once a day does all of it).
        let t = Instant::now();
        let r = store
            .roll_up_history(start + Duration::days(day + 1), 90, 2000, &|_| true)
            .expect("roll-up");
        rollup_secs += t.elapsed().as_secs_f64();
        rolled += r.samples_rolled;
    }
    let write_secs = t_write.elapsed().as_secs_f64();
    // A final sync leaves every key's counters current (as the cache would be).
    let last: Vec<PageEntry> = entries
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e.key.verification_count = Some(counts[i]);
            e
        })
        .collect();
    store.apply_page(Some(2), now, &last).expect("last page");
    drop(store);

    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let wal = path.with_extension("db-wal");
    {
        let c = rusqlite::Connection::open(&path).expect("open");
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("checkpoint");
    }
    let db_bytes = size(&path) + size(&wal);
    let (raw_left, rolled_days, free_pages, page_size): (i64, i64, i64, i64) = {
        let c = rusqlite::Connection::open(&path).expect("open");
        c.query_row(
            "SELECT (SELECT COUNT(*) FROM samples), (SELECT COUNT(*) FROM rolled_days), \
             (SELECT freelist_count FROM pragma_freelist_count), \
             (SELECT page_size FROM pragma_page_size)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("counts")
    };
    println!("== history at scale: {keys} keys × {days} days of syncs every {sync_min} minutes ==");
    println!(
        "history rows: {rows_total} ({:.1} per key per day), written in {write_secs:.1} s \
         ({:.0} rows/s)",
        rows_total as f64 / keys as f64 / days as f64,
        rows_total as f64 / write_secs
    );
    // Every sync of every key as a row, for comparison: what storing changes only saves.
    let every = keys as f64 * (days * ticks_per_day) as f64;
    let mib = db_bytes as f64 / 1_048_576.0;
    // The goal is for the default bench (10,000 keys, a year, 15 minutes); scaled runs say so.
    let goal = 600.0 * keys as f64 / 10_000.0 * days as f64 / 365.0;
    let old = 2806.0 * keys as f64 / 10_000.0 * days as f64 / 365.0;
    println!(
        "store on disk after {days} days at {keys} keys: {mib:.1} MiB (goal <= {goal:.0} MiB: {}; \
         the format before the roll-up: {old:.0} MiB{}, 59 bytes per row), {:.1} bytes per \
         history row written; history stores changes only: {rows_total} rows where a row per \
         key per sync would be {every:.0} ({:.1}%)",
        if mib <= goal {
            format!("met, {:.0}% of it", mib * 100.0 / goal)
        } else {
            format!("MISSED by {:.0} MiB", mib - goal)
        },
        if keys == 10_000 && days == 365 {
            ""
        } else {
            " scaled from 2,806 at 10,000 keys × 365 days"
        },
        db_bytes as f64 / rows_total.max(1) as f64,
        rows_total as f64 * 100.0 / every
    );
    println!(
        "roll-up (samples older than 90 days, after each day): {rolled} samples into \
         {rolled_days} key-days of hours, {raw_left} raw samples kept, {:.1} s in all ({:.1} ms \
         a day); {} free pages ({:.1} MiB) in the file",
        rollup_secs,
        rollup_secs * 1000.0 / days.max(1) as f64,
        free_pages,
        (free_pages * page_size) as f64 / 1_048_576.0
    );
    levers(&sample, rows_total, dir.path());

    let store = file_store(&path, "bench");
    let mut pick = StdRng::seed_from_u64(11);
    let (p50, p99) = time_it(2000, |_| {
        let kid = kids[pick.random_range(0..keys)];
        let chart = store
            .chart(kid, Bucket::Day, now - Duration::days(89), now)
            .expect("chart");
        assert_eq!(chart.len(), 90);
    });
    println!(
        "90-day daily chart of one key:   p50 {p50:.3} ms, p99 {p99:.3} ms (target < 10 ms; \
         before the roll-up: p50 0.011 ms, p99 0.053 ms)"
    );
    let busy = kids[0];
    let (p50, p99) = time_it(200, |_| {
        let chart = store
            .chart(busy, Bucket::Hour, now - Duration::days(7), now)
            .expect("chart");
        assert!(chart.len() >= 168);
    });
    println!("7-day hourly chart of a busy key: p50 {p50:.3} ms, p99 {p99:.3} ms");
    let (p50, p99) = time_it(200, |_| {
        let chart = store
            .chart(busy, Bucket::Hour, now - Duration::days(120), now)
            .expect("chart");
        assert!(chart.len() >= 120 * 24);
    });
    println!(
        "120-day hourly chart of a busy key (raw + rolled-up hours): p50 {p50:.3} ms, p99 {p99:.3} ms"
    );
    let (p50, p99) = time_it(100, |_| {
        let s = store.spark_7d(now).expect("spark");
        assert!(!s.is_empty());
    });
    println!("7-day sparkline of every key:     p50 {p50:.3} ms, p99 {p99:.3} ms");
    let (p50, p99) = time_it(50, |_| {
        compute(store.as_ref(), InsightsOptions::default(), now).expect("insights");
    });
    println!("insights (all keys):              p50 {p50:.3} ms, p99 {p99:.3} ms");
}

/// What each lever of the row format saves: the first week's rows written in sync order into a
/// table of each format (alone, no other table), bytes per row on disk, and the year's rows
/// at that size.
fn levers(sample: &[RawHistoryRow], year_rows: usize, dir: &std::path::Path) {
    if sample.is_empty() {
        return;
    }
    let status = |s: KeyStatus| match s {
        KeyStatus::Active => 0i64,
        KeyStatus::Inactive => 1,
        KeyStatus::Revoked => 2,
    };
    // (name, table, insert) where the insert takes kid, at, count, lvo, ip, status, delta.
    let variants: [(&str, &str, &str); 5] = [
        (
            "the format before (ip, status and source as text)",
            "CREATE TABLE h (kid INTEGER NOT NULL, at INTEGER NOT NULL, verification_count \
             INTEGER, last_verified_on INTEGER, last_verified_ip TEXT, status TEXT NOT NULL, \
             delta INTEGER NOT NULL, source TEXT NOT NULL DEFAULT 'sync', PRIMARY KEY (kid, at)) \
             WITHOUT ROWID",
            "INSERT INTO h VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'sync')",
        ),
        (
            "+ the address as an integer id",
            "CREATE TABLE h (kid INTEGER NOT NULL, at INTEGER NOT NULL, c INTEGER, lvo INTEGER, \
             ip INTEGER, status TEXT NOT NULL, delta INTEGER NOT NULL, source TEXT NOT NULL, \
             PRIMARY KEY (kid, at)) WITHOUT ROWID",
            "INSERT INTO h VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'sync')",
        ),
        (
            "+ the status as a small integer",
            "CREATE TABLE h (kid INTEGER NOT NULL, at INTEGER NOT NULL, c INTEGER, lvo INTEGER, \
             ip INTEGER, status INTEGER NOT NULL, delta INTEGER NOT NULL, source TEXT NOT NULL, \
             PRIMARY KEY (kid, at)) WITHOUT ROWID",
            "INSERT INTO h VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'sync')",
        ),
        (
            "+ no repeated 'sync' text",
            "CREATE TABLE h (kid INTEGER NOT NULL, at INTEGER NOT NULL, c INTEGER, lvo INTEGER, \
             ip INTEGER, status INTEGER NOT NULL, delta INTEGER NOT NULL, demo INTEGER, \
             PRIMARY KEY (kid, at)) WITHOUT ROWID",
            "INSERT INTO h VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)",
        ),
        (
            "+ last verification as ms before `at` (the samples table)",
            "CREATE TABLE h (kid INTEGER NOT NULL, at INTEGER NOT NULL, c INTEGER, lvo_ago INTEGER, \
             ip INTEGER, status INTEGER NOT NULL, delta INTEGER NOT NULL, demo INTEGER, \
             PRIMARY KEY (kid, at)) WITHOUT ROWID",
            "INSERT INTO h VALUES (?1, ?2, ?3, ?2 - ?4, ?5, ?6, ?7, NULL)",
        ),
    ];
    let mut ips: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    println!(
        "row format, each lever measured on the first week's {} rows (bytes per row on disk, \
         the year's {year_rows} rows at that size, no retention):",
        sample.len()
    );
    for (i, (name, table, insert)) in variants.iter().enumerate() {
        let path = dir.join(format!("lever{i}.db"));
        let mut c = rusqlite::Connection::open(&path).expect("open");
        c.execute_batch(table).expect("table");
        let tx = c.transaction().expect("tx");
        {
            let mut st = tx.prepare(insert).expect("insert");
            for r in sample {
                let ip: Option<rusqlite::types::Value> = r.last_verified_ip.as_ref().map(|ip| {
                    if i == 0 {
                        rusqlite::types::Value::Text(ip.clone())
                    } else {
                        let n = ips.len() as i64 + 1;
                        rusqlite::types::Value::Integer(*ips.entry(ip.clone()).or_insert(n))
                    }
                });
                let st_v: rusqlite::types::Value = if i < 2 {
                    rusqlite::types::Value::Text(r.status.as_str().to_string())
                } else {
                    rusqlite::types::Value::Integer(status(r.status))
                };
                st.execute(rusqlite::params![
                    r.kid,
                    r.at,
                    r.verification_count,
                    r.last_verified_on,
                    ip,
                    st_v,
                    r.delta
                ])
                .expect("row");
            }
        }
        tx.commit().expect("commit");
        drop(c);
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64;
        let per_row = bytes / sample.len() as f64;
        println!(
            "  {name:<60} {per_row:5.1} bytes per row, {:7.0} MiB for the year",
            per_row * year_rows as f64 / 1_048_576.0
        );
    }
}
