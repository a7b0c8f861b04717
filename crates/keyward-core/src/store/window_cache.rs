//! The keys window's index attached to its store: the cached [`KeyIndex`] of a
//! [`SqliteStore`], patched or rebuilt when the store's change cursor moved, and the window read
//! through it (see `store/window_index.rs` for the index itself, which knows nothing of the
//! store).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::db::SqliteStore;
use super::rows::{DAY_MS, to_ms};
use super::window_index::{
    ACTIVITY_SQL, ActivityOrder, IndexCache, KeyIndex, PATCH_SHARE, Picked, SORTS, order_sql,
    read_sources, sort_slot,
};
use crate::error::Result;
use crate::model::key::{KeySortKey, KeyWindowQuery, SortDir};

/// How long after a store's first index build its sort orders are read: the build is the
/// app's start-up (the shell warms the index while the page loads), and reading six orders of
/// 100,000 keys then competed with the page for this machine's two cores (cold start to the
/// painted table at 100,000 keys 1.26 s, 0.63-0.66 s without it; `scripts/scale-bench.sh`).
const FIRST_WARM_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// Row ids in an order, as `ix`'s slots (a key `ix` does not hold is left out).
fn slots_of(ix: &KeyIndex, kids: Vec<i64>) -> Arc<[u32]> {
    kids.into_iter()
        .filter_map(|k| ix.slot_of(k))
        .map(|s| u32::try_from(s).unwrap_or(u32::MAX))
        .collect()
}

impl SqliteStore {
    fn index_cache(&self) -> Arc<IndexCache> {
        Arc::clone(&self.window_index)
    }

    /// The index at `rev` or later: the cached one, patched with the rows changed since, or
    /// rebuilt. Built outside the cache's lock, then swapped in.
    pub(super) fn key_index(&self, rev: i64) -> Result<Arc<KeyIndex>> {
        let cache = self.index_cache();
        let held = cache.current.lock().clone();
        if let Some(ix) = &held
            && ix.rev >= rev
        {
            return Ok(Arc::clone(ix));
        }
        let fresh = self.with_conn(|c| {
            // The label is read before the rows: a write in between is patched in again next
            // time, never missed.
            let now_rev: i64 =
                c.query_row("SELECT rev FROM store_rev WHERE id = 1", [], |r| r.get(0))?;
            if let Some(ix) = &held {
                let changed = read_sources(c, &self.profile, ix.rev)?;
                if changed.len() <= ix.len() / PATCH_SHARE {
                    return Ok(ix.patched(now_rev, &changed));
                }
            }
            let n: i64 = c.query_row(
                "SELECT COALESCE(SUM(n), 0) FROM key_counts WHERE profile = ?1",
                [&self.profile],
                |r| r.get(0),
            )?;
            KeyIndex::build(c, &self.profile, now_rev, usize::try_from(n).unwrap_or(0))
        })?;
        let fresh = Arc::new(fresh);
        let mut cur = cache.current.lock();
        if cur.as_ref().is_none_or(|c| c.rev < fresh.rev) {
            *cur = Some(Arc::clone(&fresh));
            // The orders in use stay warm: every sort's after the first build, then the ones
            // windows asked for.
            let asked = cache.asked.load(std::sync::atomic::Ordering::Relaxed);
            let slots: Vec<usize> = (0..SORTS)
                .filter(|&i| held.is_none() || asked & (1 << i) != 0)
                .collect();
            drop(cur);
            // The first build is the app's start-up: its window and page come first.
            let after = if held.is_none() {
                FIRST_WARM_AFTER
            } else {
                std::time::Duration::ZERO
            };
            self.warm_orders(&fresh, slots, after);
        }
        Ok(fresh)
    }

    /// Reads the orders `slots` of `ix` that are not read yet, in the background on a
    /// read-only connection of their own (the store's connection stays free for the window
    /// that asked), so that the first sort by a column does not read 100,000 rows while the
    /// user waits (13 ms at 100,000 keys, `store::view::scale`'s "first"). An order read
    /// meanwhile by a window is kept instead; an in-memory store skips this.
    fn warm_orders(&self, ix: &Arc<KeyIndex>, slots: Vec<usize>, after: std::time::Duration) {
        if slots.iter().all(|&i| ix.orders[i].get().is_some()) {
            return;
        }
        let Some(c) = self.open_reader() else {
            return;
        };
        let ix = Arc::clone(ix);
        let profile = self.profile.clone();
        let spawned = std::thread::Builder::new()
            .name("keyward-sort-orders".into())
            .spawn(move || {
                std::thread::sleep(after);
                for i in slots {
                    if ix.orders[i].get().is_some() {
                        continue;
                    }
                    let kids: rusqlite::Result<Vec<i64>> = c
                        .prepare(order_sql(i))
                        .and_then(|mut st| st.query_map([&profile], |r| r.get(0))?.collect());
                    let Ok(kids) = kids else { return };
                    let _ = ix.orders[i].set(slots_of(&ix, kids));
                }
            });
        if let Err(e) = spawned {
            tracing::debug!("the sort orders are read when asked: {e}");
        }
    }

    /// The ascending order (slots) of `sort` for `ix`: read once from SQLite, then kept.
    fn index_order(&self, ix: &KeyIndex, sort: KeySortKey, today: i64) -> Result<Arc<[u32]>> {
        let to_slots = |kids: Vec<i64>| slots_of(ix, kids);
        if let Some(i) = sort_slot(sort) {
            self.window_index
                .asked
                .fetch_or(1 << i, std::sync::atomic::Ordering::Relaxed);
            if let Some(o) = ix.orders[i].get() {
                return Ok(Arc::clone(o));
            }
            let kids: Vec<i64> = self.with_conn(|c| {
                let mut st = c.prepare_cached(order_sql(i))?;
                let rows = st.query_map([&self.profile], |r| r.get(0))?;
                rows.collect()
            })?;
            let order = to_slots(kids);
            // Another thread may have set it meanwhile: either is this index's order.
            let _ = ix.orders[i].set(Arc::clone(&order));
            return Ok(order);
        }
        let (stamp, kids) = self.with_conn(|c| {
            let stamp: (i64, i64) = (
                c.query_row("SELECT total_changes()", [], |r| r.get(0))?,
                c.query_row("PRAGMA data_version", [], |r| r.get(0))?,
            );
            if let Some(a) = ix.activity.lock().as_ref()
                && a.today == today
                && a.stamp == stamp
            {
                return Ok((stamp, Err(Arc::clone(&a.order))));
            }
            let mut st = c.prepare_cached(ACTIVITY_SQL)?;
            let rows = st.query_map(rusqlite::params![self.profile, today - 6, today], |r| {
                r.get(0)
            })?;
            Ok((stamp, Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)))
        })?;
        match kids {
            Err(kept) => Ok(kept),
            Ok(kids) => {
                let order = to_slots(kids);
                *ix.activity.lock() = Some(ActivityOrder {
                    today,
                    stamp,
                    order: Arc::clone(&order),
                });
                Ok(order)
            }
        }
    }

    /// The window `offset..offset + limit` of the keys matching `q` in its order, and how many
    /// match (`known_total` when the caller knows it: no search, no filter but the status),
    /// from the index at `rev` or later.
    #[allow(clippy::too_many_arguments, reason = "the window's own arguments")]
    pub(super) fn pick_window(
        &self,
        rev: i64,
        q: &KeyWindowQuery,
        terms: &[String],
        (offset, limit): (u32, u32),
        flag_days: (u32, u32),
        now: DateTime<Utc>,
        known_total: Option<u32>,
    ) -> Result<Picked> {
        let ix = self.key_index(rev)?;
        let Some(f) = ix.filter(q, flag_days, now) else {
            return Ok(Picked {
                total: 0,
                kids: Vec::new(),
            });
        };
        let mut plain = f.is_plain();
        let mut hit = (!terms.is_empty()).then(|| ix.search(terms));
        let flag_only = f.flag.filter(|_| {
            f.status.is_none()
                && f.key_type.is_none()
                && f.org.is_none()
                && f.user.is_none()
                && f.api.is_none()
        });
        let total = match known_total {
            Some(t) if hit.is_none() => t as usize,
            _ if hit.is_none() && plain => ix.len(),
            _ if hit.is_none() && flag_only.is_some() => {
                let (stale, cutoff) = flag_only.unwrap_or((true, 0));
                ix.flag_count(stale, cutoff)
            }
            _ => {
                // The exact count: the search's keys (or all) through each filter's column.
                let mut mask = hit.take().unwrap_or_else(|| vec![true; ix.len()]);
                ix.apply(&f, &mut mask);
                plain = true;
                let n = mask.iter().filter(|m| **m).count();
                hit = Some(mask);
                n
            }
        };
        let hit = hit.as_deref();
        let mut kids = Vec::new();
        if limit > 0 && (offset as usize) < total {
            let today = to_ms(now).div_euclid(DAY_MS);
            let order = self.index_order(&ix, q.sort, today)?;
            if hit.is_none() && plain {
                // Every key: the window is a slice of the order.
                let (from, len) = (offset as usize, order.len());
                let upto = from.saturating_add(limit as usize).min(len);
                let slots: Box<dyn Iterator<Item = &u32>> = match q.dir {
                    SortDir::Asc => Box::new(order[from.min(len)..upto].iter()),
                    SortDir::Desc => Box::new(order[len - upto..len - from.min(len)].iter().rev()),
                };
                let kids = slots.map(|&s| ix.kids[s as usize]).collect();
                return Ok(Picked {
                    total: u32::try_from(total).unwrap_or(u32::MAX),
                    kids,
                });
            }
            let take = |it: &mut dyn Iterator<Item = &u32>| -> Vec<i64> {
                it.filter(|s| ix.wanted(hit, &f, plain, **s as usize))
                    .skip(offset as usize)
                    .take(limit as usize)
                    .map(|&s| ix.kids[s as usize])
                    .collect()
            };
            kids = match q.dir {
                SortDir::Asc => take(&mut order.iter()),
                SortDir::Desc => take(&mut order.iter().rev()),
            };
        }
        Ok(Picked {
            total: u32::try_from(total).unwrap_or(u32::MAX),
            kids,
        })
    }

    /// True when the index of this store is built and at `rev` or later.
    pub(super) fn key_index_fresh(&self, rev: i64) -> bool {
        self.index_cache()
            .current
            .lock()
            .as_ref()
            .is_some_and(|ix| ix.rev >= rev)
    }

    /// The bytes the index of this store holds now (0 before the first window); benches.
    pub fn key_index_bytes(&self) -> usize {
        self.index_cache()
            .current
            .lock()
            .as_ref()
            .map_or(0, |ix| ix.bytes())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::model::key::{ApiKey, KeyFlag, KeyStatus, KeyType, KeyWindow};
    use crate::store::keys::PageEntry;

    const DAYS: (u32, u32) = (30, 90);

    /// A key id with its owner and API names (`set_names`).
    type Names = (String, Option<String>, Option<String>);

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    /// A deterministic xorshift: random-ish data, the same in every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 16) as usize
        }
        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.next() % from.len()]
        }
    }

    const NAME_WORDS: &[&str] = &[
        "Billing",
        "reconciler",
        "Payroll",
        "sync",
        "ACME",
        "ingest",
        "Mobile",
        "reports",
        "qa",
        "B",
        "zeta_ab",
        "50%",
        "ngx",
    ];

    /// `n` keys over the fragments of the shared search cases (any case), with every filtered
    /// column varied; owner and API names for most.
    fn random_keys(n: usize, seed: u64) -> (Vec<PageEntry>, Vec<Names>) {
        let mut r = Rng(seed);
        let mut entries = Vec::new();
        let mut names = Vec::new();
        for i in 0..n {
            let id = if r.next().is_multiple_of(3) {
                format!("key_{:04x}{i}", r.next() % 65536)
            } else {
                format!("api_key_{:06x}{i}", r.next() % 16_777_216)
            };
            let name = (0..1 + r.next() % 3)
                .map(|_| r.pick(NAME_WORDS))
                .collect::<Vec<_>>()
                .join(" ");
            let key = ApiKey {
                id: id.clone(),
                name,
                key_type: [KeyType::User, KeyType::Organization, KeyType::Environment]
                    [r.next() % 3],
                status: [
                    KeyStatus::Active,
                    KeyStatus::Active,
                    KeyStatus::Inactive,
                    KeyStatus::Revoked,
                ][r.next() % 4],
                key_prefix: format!(
                    "{}{}",
                    r.pick(&["k_live_", "k_test_", "K_LIVE_"]),
                    r.pick(&["Ab", "Qq", "x1", "AB", "b"])
                ),
                key_suffix: [None, Some("wXyZ"), Some("mnop"), Some("0a1b")][r.next() % 4]
                    .map(str::to_string),
                created_on: (!r.next().is_multiple_of(10))
                    .then(|| now() - Duration::days((r.next() % 400) as i64)),
                last_verified_on: (!r.next().is_multiple_of(3))
                    .then(|| now() - Duration::hours((r.next() % 2000) as i64)),
                last_verified_ip: None,
                created_by: None,
                api_ids: (0..r.next() % 3)
                    .map(|_| format!("api_{}", r.next() % 4))
                    .collect(),
                scopes: vec![],
                verification_count: (!r.next().is_multiple_of(5)).then(|| (r.next() % 50) as i64),
                user_id: r
                    .next()
                    .is_multiple_of(2)
                    .then(|| format!("user_{}", r.next() % 20)),
                org_code: [None, Some("org_acme"), Some("org_globex"), Some("org_7")][r.next() % 4]
                    .map(str::to_string),
            };
            entries.push(PageEntry { key, detail: true });
            names.push((
                id,
                [None, Some("Acme Corp"), Some("Hooli"), Some("initech B")][r.next() % 4]
                    .map(str::to_string),
                [None, Some("Billing API"), Some("Payments"), Some("reports")][r.next() % 4]
                    .map(str::to_string),
            ));
        }
        (entries, names)
    }

    /// A file store with `n` random-ish keys, two syncs apart (so that `daily` holds 7-day
    /// activity), some rotated and some gone.
    fn store(n: usize) -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("k.db"), "p").unwrap();
        let (mut entries, names) = random_keys(n, 0x9e37_79b9_7f4a_7c15);
        s.apply_page(Some(1), now() - Duration::days(3), &entries)
            .unwrap();
        s.set_names(&names).unwrap();
        let mut r = Rng(7);
        for e in entries.iter_mut() {
            if r.next().is_multiple_of(2) {
                e.key.verification_count =
                    Some(e.key.verification_count.unwrap_or(0) + (r.next() % 9) as i64 + 1);
            }
        }
        s.apply_page(Some(2), now() - Duration::hours(2), &entries)
            .unwrap();
        for e in entries.iter().step_by(11) {
            s.set_rotated_on(&e.key.id, now() - Duration::days(5))
                .unwrap();
        }
        let gone: Vec<String> = entries
            .iter()
            .step_by(17)
            .map(|e| e.key.id.clone())
            .collect();
        s.mark_gone_ids(&gone).unwrap();
        (dir, s)
    }

    fn shared_queries() -> Vec<String> {
        #[derive(serde::Deserialize)]
        struct Case {
            query: String,
        }
        let cases: Vec<Case> =
            serde_json::from_str(include_str!("../keys/search_cases.json")).unwrap();
        assert!(cases.len() >= 25, "the shared cases: {}", cases.len());
        cases.into_iter().map(|c| c.query).collect()
    }

    const ALL_SORTS: [KeySortKey; 8] = [
        KeySortKey::Name,
        KeySortKey::Owner,
        KeySortKey::Api,
        KeySortKey::Status,
        KeySortKey::Created,
        KeySortKey::LastVerified,
        KeySortKey::Verifications,
        KeySortKey::Activity,
    ];

    /// The same window through the index and through SQL: equal in full (rows, spark lines,
    /// total, counts, rev). Returns the index's.
    fn both(s: &SqliteStore, q: &KeyWindowQuery, offset: u32, limit: u32) -> KeyWindow {
        // The index brought to the store's rev first (patched or built), so that a window of the
        // whole list is the index's too (keys_window reads those from SQL while it is stale).
        s.key_index(s.current_rev().unwrap()).unwrap();
        assert!(s.key_index_fresh(s.current_rev().unwrap()));
        let ix = s.keys_window(q, offset, limit, DAYS, now()).unwrap();
        let sql = s.keys_window_sql(q, offset, limit, DAYS, now()).unwrap();
        let ids =
            |w: &KeyWindow| -> Vec<String> { w.rows.iter().map(|v| v.key.id.clone()).collect() };
        assert_eq!(ix.total, sql.total, "{q:?} at {offset}: the total");
        assert_eq!(ids(&ix), ids(&sql), "{q:?} at {offset}: the rows");
        assert_eq!(ix, sql, "{q:?} at {offset}: the windows");
        ix
    }

    /// How many keys the rule finds among all the store holds, as `keys::rules::Search` states
    /// it (restated here: the store may not import the keys layer; tests/core/window_search.rs
    /// checks the index against `Search` itself).
    fn by_the_rule(s: &SqliteStore, query: &str) -> u32 {
        let terms: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        s.all_keys()
            .unwrap()
            .iter()
            .filter(|k| {
                let v = &k.view;
                let fields: Vec<String> = [
                    Some(v.key.name.as_str()),
                    Some(v.key.key_prefix.as_str()),
                    v.key.key_suffix.as_deref(),
                    Some(v.key.id.as_str()),
                    v.owner_name.as_deref(),
                    v.api_name.as_deref(),
                ]
                .into_iter()
                .flatten()
                .map(str::to_lowercase)
                .collect();
                terms
                    .iter()
                    .all(|t| fields.iter().any(|f| f.contains(t.as_str())))
            })
            .count() as u32
    }

    #[test]
    fn every_shared_case_gives_the_same_rows_through_the_index_sql_and_the_rule() {
        let (_dir, s) = store(3000);
        let mut found_some = 0;
        for query in shared_queries() {
            let rule = by_the_rule(&s, &query);
            for sort in ALL_SORTS {
                for dir in [SortDir::Asc, SortDir::Desc] {
                    let q = KeyWindowQuery {
                        search: Some(query.clone()),
                        sort,
                        dir,
                        ..KeyWindowQuery::default()
                    };
                    let w = both(&s, &q, 0, 100);
                    assert_eq!(w.total, rule, "{query:?}: the rule's count");
                    both(&s, &q, w.total / 2, 60);
                    both(&s, &q, w.total.saturating_sub(7), 60);
                }
            }
            if rule > 0 && rule < 3000 {
                found_some += 1;
            }
        }
        // The data is not trivial: most cases find some keys but not all.
        assert!(
            found_some >= 10,
            "{found_some} cases found some but not every key"
        );
        // A rare term with common ones: the other terms are looked for in the few keys the
        // rare one found (not in the whole buffer).
        let keys = s.all_keys().unwrap();
        let mut rare_found = 0;
        for k in keys.iter().step_by(97) {
            let id = k.view.key.id.to_lowercase();
            let tail = &id[id.len() - 6..];
            let name = k.view.key.name.to_lowercase();
            let word = name.split_whitespace().next().unwrap_or("b");
            for query in [
                format!("{tail} {word}"),
                format!("{} {tail} b", &word[..word.len().min(2)]),
                format!("{tail} zz"),
                format!("{tail} wxyz a"),
            ] {
                let rule = by_the_rule(&s, &query);
                let q = KeyWindowQuery {
                    search: Some(query.clone()),
                    sort: KeySortKey::Name,
                    ..KeyWindowQuery::default()
                };
                assert_eq!(
                    both(&s, &q, 0, 100).total,
                    rule,
                    "{query:?}: the rule's count"
                );
                if rule > 0 {
                    rare_found += 1;
                }
            }
        }
        assert!(rare_found >= 31, "{rare_found} rare queries found a key");
    }

    #[test]
    fn every_filter_with_a_search_agrees_with_sql() {
        let (_dir, s) = store(2000);
        let filters = [
            KeyWindowQuery {
                status: Some(KeyStatus::Inactive),
                ..KeyWindowQuery::default()
            },
            KeyWindowQuery {
                key_type: Some(KeyType::User),
                ..KeyWindowQuery::default()
            },
            KeyWindowQuery {
                org_code: Some("org_acme".into()),
                ..KeyWindowQuery::default()
            },
            KeyWindowQuery {
                org_code: Some("org_nobody".into()),
                ..KeyWindowQuery::default()
            },
            KeyWindowQuery {
                user_id: Some("user_3".into()),
                ..KeyWindowQuery::default()
            },
            KeyWindowQuery {
                api_id: Some("api_2".into()),
                ..KeyWindowQuery::default()
            },
            KeyWindowQuery {
                flag: Some(KeyFlag::Stale),
                ..KeyWindowQuery::default()
            },
            KeyWindowQuery {
                flag: Some(KeyFlag::RotationDue),
                ..KeyWindowQuery::default()
            },
            KeyWindowQuery {
                flag: Some(KeyFlag::RotationDue),
                status: Some(KeyStatus::Active),
                api_id: Some("api_1".into()),
                ..KeyWindowQuery::default()
            },
        ];
        let mut nonempty = 0;
        for f in &filters {
            for search in [None, Some("b"), Some("billing acme"), Some("k_live_ab")] {
                for sort in ALL_SORTS {
                    for dir in [SortDir::Asc, SortDir::Desc] {
                        let q = KeyWindowQuery {
                            search: search.map(str::to_string),
                            sort,
                            dir,
                            ..f.clone()
                        };
                        let w = both(&s, &q, 0, 50);
                        both(&s, &q, w.total / 3, 50);
                        if w.total > 0 {
                            nonempty += 1;
                        }
                    }
                }
            }
        }
        assert!(nonempty > 100, "only {nonempty} windows found keys");
    }

    #[test]
    fn the_index_follows_every_write() {
        let (_dir, s) = store(500);
        let find = |t: &str| KeyWindowQuery {
            search: Some(t.into()),
            sort: KeySortKey::Name,
            dir: SortDir::Asc,
            ..KeyWindowQuery::default()
        };
        // The index is built here, then every write below moves `rev`.
        let before = both(&s, &find(""), 0, 10);
        assert_eq!(both(&s, &find("quokka"), 0, 10).total, 0);
        let victim = before.rows[3].key.id.clone();

        // A rename (the names resolution) is found by its new name only.
        s.set_names(&[(victim.clone(), Some("Quokka Ltd".into()), None)])
            .unwrap();
        let w = both(&s, &find("quokka"), 0, 10);
        assert_eq!(w.rows.len(), 1);
        assert_eq!(w.rows[0].key.id, victim);

        // A revoke moves it between the status filters.
        let revoked = |s: &SqliteStore| {
            both(
                s,
                &KeyWindowQuery {
                    status: Some(KeyStatus::Revoked),
                    search: Some("quokka".into()),
                    ..KeyWindowQuery::default()
                },
                0,
                10,
            )
            .total
        };
        let was = w.rows[0].key.status;
        s.set_status(&victim, KeyStatus::Revoked, now()).unwrap();
        assert_eq!(revoked(&s), 1, "was {was:?}");

        // A sync's delta: a new key, and a changed one.
        let mut fresh = random_keys(1, 42).0;
        fresh[0].key.id = "api_key_newcomer".into();
        fresh[0].key.name = "Wombat ingest".into();
        let total = both(&s, &find(""), 0, 0).total;
        s.apply_page(Some(3), now(), &fresh).unwrap();
        assert_eq!(both(&s, &find(""), 0, 0).total, total + 1);
        assert_eq!(
            both(&s, &find("wombat"), 0, 10).rows[0].key.id,
            "api_key_newcomer"
        );

        // Gone: still listed, no longer flaggable.
        s.mark_gone_ids(std::slice::from_ref(&victim)).unwrap();
        let w = both(&s, &find("quokka"), 0, 10);
        assert!(w.rows[0].gone);

        // Many changes at once (more than a patch takes): rebuilt, still equal to SQL.
        let (mut entries, _) = random_keys(500, 99);
        for e in &mut entries {
            e.key.id = format!("batch_{}", e.key.id);
        }
        s.apply_page(Some(4), now(), &entries).unwrap();
        for sort in ALL_SORTS {
            both(
                &s,
                &KeyWindowQuery {
                    search: Some("b".into()),
                    sort,
                    ..KeyWindowQuery::default()
                },
                0,
                100,
            );
        }
        assert_eq!(both(&s, &find(""), 0, 0).total, total + 501);
    }

    /// Waits (at most 20 s) until `ix` holds the order of each of `slots`.
    fn orders_arrive(ix: &KeyIndex, slots: &[usize]) {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while slots.iter().any(|&i| ix.orders[i].get().is_none()) {
            assert!(
                std::time::Instant::now() < end,
                "the orders {slots:?} never arrived"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn the_sort_orders_in_use_are_read_in_the_background() {
        let (_dir, s) = store(2000);
        let sql_order = |s: &SqliteStore, ix: &KeyIndex, i: usize| -> Vec<u32> {
            let kids: Vec<i64> = s
                .with_conn(|c| {
                    let mut st = c.prepare(order_sql(i))?;
                    st.query_map(["p"], |r| r.get(0))?.collect()
                })
                .unwrap();
            slots_of(ix, kids).to_vec()
        };
        // The first build: every sort's order arrives without a window asking, equal to SQL's.
        let ix = s.key_index(s.current_rev().unwrap()).unwrap();
        let all: Vec<usize> = (0..SORTS).collect();
        orders_arrive(&ix, &all);
        for i in 0..SORTS {
            assert_eq!(
                ix.orders[i].get().unwrap().to_vec(),
                sql_order(&s, &ix, i),
                "order {i}"
            );
        }
        // A window sorted by name: that sort is in use, the owner's sort is not.
        let by_name = KeyWindowQuery {
            search: Some("b".into()),
            sort: KeySortKey::Name,
            ..KeyWindowQuery::default()
        };
        both(&s, &by_name, 0, 10);
        // A change: the patched index reads again the orders in use (name, and the default
        // last-verified sort the windows above used), and only those.
        let victim = both(&s, &by_name, 0, 1).rows[0].key.id.clone();
        s.set_names(&[(victim, Some("Aardvark Ltd".into()), None)])
            .unwrap();
        let ix2 = s.key_index(s.current_rev().unwrap()).unwrap();
        assert!(ix2.rev > ix.rev);
        let (name, owner) = (
            sort_slot(KeySortKey::Name).unwrap(),
            sort_slot(KeySortKey::Owner).unwrap(),
        );
        orders_arrive(&ix2, &[name]);
        assert_eq!(
            ix2.orders[name].get().unwrap().to_vec(),
            sql_order(&s, &ix2, name)
        );
        assert!(
            ix2.orders[owner].get().is_none(),
            "a sort nobody asked for is read when asked"
        );
        // And read then, the same as SQL's.
        both(
            &s,
            &KeyWindowQuery {
                sort: KeySortKey::Owner,
                search: Some("b".into()),
                ..KeyWindowQuery::default()
            },
            0,
            10,
        );
        assert_eq!(
            ix2.orders[owner].get().unwrap().to_vec(),
            sql_order(&s, &ix2, owner)
        );
    }

    #[test]
    fn the_index_follows_the_rule_beyond_ascii() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("k.db"), "p").unwrap();
        let (mut entries, _) = random_keys(3, 5);
        entries[0].key.name = "ÉCOLE Straße".into();
        entries[1].key.name = "ΣΟΦΙΑ".into();
        entries[2].key.name = "plain".into();
        s.apply_page(Some(1), now(), &entries).unwrap();
        for query in ["école", "É", "straße", "σοφια", "ΣΟΦ", "plain é"] {
            let w = s
                .keys_window(
                    &KeyWindowQuery {
                        search: Some(query.into()),
                        ..KeyWindowQuery::default()
                    },
                    0,
                    10,
                    DAYS,
                    now(),
                )
                .unwrap();
            assert_eq!(w.total, by_the_rule(&s, query), "{query:?}");
        }
    }

    #[test]
    fn readers_on_several_threads_see_the_last_write() {
        let (_dir, s) = store(1000);
        let s = Arc::new(s);
        let readers: Vec<_> = (0..3)
            .map(|i| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    for j in 0..30 {
                        let q = KeyWindowQuery {
                            search: Some(["b", "acme", "k_live"][(i + j) % 3].into()),
                            ..KeyWindowQuery::default()
                        };
                        let w = s.keys_window(&q, 0, 20, DAYS, now()).unwrap();
                        assert!(w.rows.len() <= 20);
                    }
                })
            })
            .collect();
        let ids: Vec<String> = s
            .all_keys()
            .unwrap()
            .iter()
            .map(|k| k.view.key.id.clone())
            .collect();
        for (i, id) in ids.iter().enumerate().take(40) {
            s.set_names(&[(id.clone(), Some(format!("Renamed {i}")), None)])
                .unwrap();
        }
        for r in readers {
            r.join().unwrap();
        }
        let w = both(
            &s,
            &KeyWindowQuery {
                search: Some("renamed".into()),
                ..KeyWindowQuery::default()
            },
            0,
            100,
        );
        assert_eq!(w.total, 40);
    }
}
