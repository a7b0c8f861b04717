//! The keys table's window in memory (issue 19): the search, the filters and the counts of
//! `SqliteStore::keys_window` without a query per keystroke (attached to the store in
//! `store/window_cache.rs`).
//!
//! - **What is kept**, per profile, beside the SQLite store: one lower-cased haystack per key
//!   (name, key prefix, key suffix, id, owner name and API name, each followed by `\n`) in one
//!   contiguous buffer, and the filtered columns (status, type, gone, org, user, API ids, the
//!   stale and rotation dates) as small integers. The search is the one rule of
//!   `keys::rules::Search`: every whitespace-separated term, lower-cased by
//!   [`str::to_lowercase`], is a substring of one field. A term holds no whitespace, so it
//!   never spans the `\n` that ends a field: a match in the buffer is a match in one field of
//!   one key. `memchr::memmem` scans the buffer for the rarest (longest) term and checks the
//!   others in the keys it found; the count is exact.
//! - **The order** of each sort is SQLite's own (`ORDER BY column, id` over the sort's index,
//!   so collation and ties are the SQL path's), read once per index and kept as the keys'
//!   slots; descending is its reverse. The activity sort (7-day verifications) also depends on
//!   the day and on the `daily` table, whose writes do not all move `rev`: it is kept for one
//!   day and one state of the database (`total_changes()` of this connection and
//!   `PRAGMA data_version` for the others).
//! - **Freshness**: the index is labelled with the store's change cursor `rev`, read before the
//!   rows. A call that finds `rev` moved patches the index with the rows whose `rev` is above
//!   the label (a sync's delta, an action) when they are few, or rebuilds it from the store;
//!   never per keystroke. Keys are never deleted from `keys` (a key Kinde dropped is marked
//!   gone), so a patch only updates and inserts.
//! - **Concurrency**: the store is shared (`Arc<dyn Store>`) by threads; the current index is
//!   an `Arc` behind a mutex held only to clone or swap it. A stale index is patched or
//!   rebuilt outside the lock, then swapped in; readers keep the one they hold.
//! - The window's rows themselves are read from SQLite by row id (one query), so a row is
//!   always what the store holds.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rusqlite::Connection;

use super::rows::{DAY_MS, to_ms};
use crate::model::key::{KeyFlag, KeySortKey, KeyStatus, KeyType, KeyWindowQuery};

/// A patch (rows changed since the index's `rev`) above this share of the keys rebuilds.
pub(super) const PATCH_SHARE: usize = 4;

/// "No date": never older than a cutoff (SQL's `NULL < x` is not true either).
const NO_DATE: i64 = i64::MAX;

/// The filtered columns of one key.
#[derive(Debug, Clone, Copy)]
struct Cols {
    /// `COALESCE(last_verified_on, created_on)` in ms, or [`NO_DATE`].
    stale_at: i64,
    /// `COALESCE(rotated_on, created_on)` in ms, or [`NO_DATE`].
    rot_at: i64,
    /// Interned `org_code` (0: none).
    org: u32,
    /// Interned `user_id` (0: none).
    user: u32,
    status: u8,
    key_type: u8,
    gone: bool,
}

/// The filtered columns of every key, one array per column (a filter reads only its own).
#[derive(Debug, Default)]
struct Columns {
    stale_at: Vec<i64>,
    rot_at: Vec<i64>,
    org: Vec<u32>,
    user: Vec<u32>,
    status: Vec<u8>,
    key_type: Vec<u8>,
    gone: Vec<bool>,
}

impl Columns {
    fn with_capacity(n: usize) -> Columns {
        Columns {
            stale_at: Vec::with_capacity(n),
            rot_at: Vec::with_capacity(n),
            org: Vec::with_capacity(n),
            user: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            key_type: Vec::with_capacity(n),
            gone: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, c: Cols) {
        self.stale_at.push(c.stale_at);
        self.rot_at.push(c.rot_at);
        self.org.push(c.org);
        self.user.push(c.user);
        self.status.push(c.status);
        self.key_type.push(c.key_type);
        self.gone.push(c.gone);
    }

    fn get(&self, slot: usize) -> Cols {
        Cols {
            stale_at: self.stale_at[slot],
            rot_at: self.rot_at[slot],
            org: self.org[slot],
            user: self.user[slot],
            status: self.status[slot],
            key_type: self.key_type[slot],
            gone: self.gone[slot],
        }
    }

    fn shrink_to_fit(&mut self) {
        self.stale_at.shrink_to_fit();
        self.rot_at.shrink_to_fit();
        self.org.shrink_to_fit();
        self.user.shrink_to_fit();
        self.status.shrink_to_fit();
        self.key_type.shrink_to_fit();
        self.gone.shrink_to_fit();
    }

    fn bytes(&self) -> usize {
        self.stale_at.capacity() * 8
            + self.rot_at.capacity() * 8
            + self.org.capacity() * 4
            + self.user.capacity() * 4
            + self.status.capacity()
            + self.key_type.capacity()
            + self.gone.capacity()
    }
}

/// Status as stored, or 255 for text no status spells (SQL compares the text).
fn status_code(s: &str) -> u8 {
    match s {
        "active" => 0,
        "inactive" => 1,
        "revoked" => 2,
        _ => 255,
    }
}

fn status_of(s: KeyStatus) -> u8 {
    status_code(s.as_str())
}

fn type_code(s: &str) -> u8 {
    match s {
        "user" => 0,
        "organization" => 1,
        "environment" => 2,
        _ => 255,
    }
}

fn type_of(t: KeyType) -> u8 {
    type_code(t.as_str())
}

/// One key as read from the store for the index.
pub(super) struct Source {
    kid: i64,
    fields: [Option<String>; 6],
    status: String,
    key_type: String,
    gone: bool,
    org: Option<String>,
    user: Option<String>,
    api_ids: Vec<String>,
    stale_at: Option<i64>,
    rot_at: Option<i64>,
}

const SOURCE_SQL: &str = "SELECT kid, name, key_prefix, key_suffix, id, owner_name, api_name, \
    status, key_type, gone, org_code, user_id, api_ids, COALESCE(last_verified_on, created_on), \
    COALESCE(rotated_on, created_on) FROM keys WHERE profile = ?1 AND rev > ?2 ORDER BY kid";

pub(super) fn read_sources(
    c: &Connection,
    profile: &str,
    above_rev: i64,
) -> rusqlite::Result<Vec<Source>> {
    let mut out = Vec::new();
    each_source(c, profile, above_rev, |s| out.push(s))?;
    Ok(out)
}

/// Calls `f` with each key of `profile` whose `rev` is above `above_rev`, in kid order.
fn each_source(
    c: &Connection,
    profile: &str,
    above_rev: i64,
    mut f: impl FnMut(Source),
) -> rusqlite::Result<()> {
    let mut st = c.prepare_cached(SOURCE_SQL)?;
    let rows = st.query_map(rusqlite::params![profile, above_rev], |r| {
        let api_ids: String = r.get(12)?;
        Ok(Source {
            kid: r.get(0)?,
            fields: [
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ],
            status: r.get(7)?,
            key_type: r.get(8)?,
            gone: r.get(9)?,
            org: r.get(10)?,
            user: r.get(11)?,
            api_ids: serde_json::from_str(&api_ids).unwrap_or_default(),
            stale_at: r.get(13)?,
            rot_at: r.get(14)?,
        })
    })?;
    for r in rows {
        f(r?);
    }
    Ok(())
}

/// True when `hay` holds `term` (not empty): a short haystack, so the first byte's positions
/// and a comparison beat setting up a searcher.
fn holds(hay: &[u8], term: &[u8]) -> bool {
    let Some((&first, rest)) = term.split_first() else {
        return true;
    };
    memchr::memchr_iter(first, hay).any(|i| hay[i + 1..].starts_with(rest))
}

/// The sorts whose order is a column's (all but the activity).
pub(super) const SORTS: usize = 7;

pub(super) fn sort_slot(s: KeySortKey) -> Option<usize> {
    match s {
        KeySortKey::Name => Some(0),
        KeySortKey::Owner => Some(1),
        KeySortKey::Api => Some(2),
        KeySortKey::Status => Some(3),
        KeySortKey::Created => Some(4),
        KeySortKey::LastVerified => Some(5),
        KeySortKey::Verifications => Some(6),
        KeySortKey::Activity => None,
    }
}

/// The SQL path's order of a column sort, ascending (ties by id).
pub(super) fn order_sql(i: usize) -> &'static str {
    match i {
        0 => "SELECT kid FROM keys WHERE profile = ?1 ORDER BY name COLLATE NOCASE, id",
        1 => "SELECT kid FROM keys WHERE profile = ?1 ORDER BY owner_name COLLATE NOCASE, id",
        2 => "SELECT kid FROM keys WHERE profile = ?1 ORDER BY api_name COLLATE NOCASE, id",
        3 => "SELECT kid FROM keys WHERE profile = ?1 ORDER BY status, id",
        4 => "SELECT kid FROM keys WHERE profile = ?1 ORDER BY created_on, id",
        5 => "SELECT kid FROM keys WHERE profile = ?1 ORDER BY last_verified_on, id",
        _ => "SELECT kid FROM keys WHERE profile = ?1 ORDER BY verification_count, id",
    }
}

/// The activity order, ascending: 7-day verifications (days `?2..=?3`), ties by id.
pub(super) const ACTIVITY_SQL: &str = "SELECT kid FROM keys WHERE profile = ?1 ORDER BY \
    (SELECT COALESCE(SUM(d.verifications), 0) FROM daily d WHERE d.kid = keys.kid \
    AND d.day BETWEEN ?2 AND ?3), id";

/// The activity order of one day and one state of the database.
pub(super) struct ActivityOrder {
    pub(super) today: i64,
    pub(super) stamp: (i64, i64),
    pub(super) order: Arc<[u32]>,
}

/// The index of one profile's keys at one `rev` (see the module docs).
pub(super) struct KeyIndex {
    pub(super) rev: i64,
    /// Row ids, ascending; a key's position here is its slot.
    pub(super) kids: Vec<i64>,
    /// Every key's haystack, in slot order.
    hay: Vec<u8>,
    /// Where slot `i`'s haystack starts (`len + 1` entries, the last is `hay.len()`).
    hay_start: Vec<u32>,
    cols: Columns,
    /// Where slot `i`'s interned API ids start in `api_vals` (`len + 1` entries).
    api_start: Vec<u32>,
    api_vals: Vec<u32>,
    /// Org codes, user ids and API ids, interned (from 1).
    dict: HashMap<Box<str>, u32>,
    pub(super) orders: [OnceLock<Arc<[u32]>>; SORTS],
    pub(super) activity: Mutex<Option<ActivityOrder>>,
    /// The masks of the column filters asked for at this `rev` (see [`KeyIndex::column_mask`]).
    masks: Mutex<HashMap<MaskKey, Arc<[bool]>>>,
    /// The stale and the rotation dates of the flaggable keys (present and active), sorted:
    /// a flag filter alone counts its keys by one binary search.
    flag_dates: [OnceLock<Vec<i64>>; 2],
}

/// Status, type, org, user and API of a filter.
type MaskKey = (
    Option<u8>,
    Option<u8>,
    Option<u32>,
    Option<u32>,
    Option<u32>,
);

/// How many filter masks an index keeps (one byte per key each).
const MASKS_KEPT: usize = 16;

impl std::fmt::Debug for KeyIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyIndex")
            .field("rev", &self.rev)
            .field("keys", &self.kids.len())
            .finish()
    }
}

/// Builds a [`KeyIndex`] slot by slot, in kid order.
struct Builder {
    pub(super) kids: Vec<i64>,
    hay: Vec<u8>,
    hay_start: Vec<u32>,
    cols: Columns,
    api_start: Vec<u32>,
    api_vals: Vec<u32>,
    dict: HashMap<Box<str>, u32>,
}

impl Builder {
    fn new(capacity: usize, hay_capacity: usize, dict: HashMap<Box<str>, u32>) -> Builder {
        let mut b = Builder {
            kids: Vec::with_capacity(capacity),
            hay: Vec::with_capacity(hay_capacity),
            hay_start: Vec::with_capacity(capacity + 1),
            cols: Columns::with_capacity(capacity),
            api_start: Vec::with_capacity(capacity + 1),
            api_vals: Vec::new(),
            dict,
        };
        b.hay_start.push(0);
        b.api_start.push(0);
        b
    }

    fn intern(&mut self, s: Option<&str>) -> u32 {
        let Some(s) = s else { return 0 };
        if let Some(&id) = self.dict.get(s) {
            return id;
        }
        let id = u32::try_from(self.dict.len() + 1).unwrap_or(u32::MAX);
        self.dict.insert(s.into(), id);
        id
    }

    fn close_slot(&mut self) {
        self.hay_start
            .push(u32::try_from(self.hay.len()).unwrap_or(u32::MAX));
        self.api_start
            .push(u32::try_from(self.api_vals.len()).unwrap_or(u32::MAX));
    }

    fn push_source(&mut self, s: &Source) {
        self.kids.push(s.kid);
        for f in s.fields.iter().flatten() {
            if f.is_ascii() {
                self.hay.extend(f.bytes().map(|b| b.to_ascii_lowercase()));
            } else {
                self.hay.extend_from_slice(f.to_lowercase().as_bytes());
            }
            self.hay.push(b'\n');
        }
        let org = self.intern(s.org.as_deref());
        let user = self.intern(s.user.as_deref());
        self.cols.push(Cols {
            stale_at: s.stale_at.unwrap_or(NO_DATE),
            rot_at: s.rot_at.unwrap_or(NO_DATE),
            org,
            user,
            status: status_code(&s.status),
            key_type: type_code(&s.key_type),
            gone: s.gone,
        });
        for a in &s.api_ids {
            let id = self.intern(Some(a));
            self.api_vals.push(id);
        }
        self.close_slot();
    }

    fn push_old(&mut self, old: &KeyIndex, slot: usize) {
        self.kids.push(old.kids[slot]);
        self.hay.extend_from_slice(old.hay_of(slot));
        self.cols.push(old.cols.get(slot));
        self.api_vals.extend_from_slice(old.apis_of(slot));
        self.close_slot();
    }

    fn finish(mut self, rev: i64) -> KeyIndex {
        self.kids.shrink_to_fit();
        self.hay.shrink_to_fit();
        self.hay_start.shrink_to_fit();
        self.cols.shrink_to_fit();
        self.api_start.shrink_to_fit();
        self.api_vals.shrink_to_fit();
        KeyIndex {
            rev,
            kids: self.kids,
            hay: self.hay,
            hay_start: self.hay_start,
            cols: self.cols,
            api_start: self.api_start,
            api_vals: self.api_vals,
            dict: self.dict,
            orders: Default::default(),
            activity: Mutex::new(None),
            masks: Mutex::new(HashMap::new()),
            flag_dates: Default::default(),
        }
    }
}

/// What the window asks of the index, resolved once per call.
pub(super) struct Filter {
    pub(super) status: Option<u8>,
    pub(super) key_type: Option<u8>,
    pub(super) org: Option<u32>,
    pub(super) user: Option<u32>,
    pub(super) api: Option<u32>,
    /// The flag's cutoff: stale (`true`) or rotation due (`false`), older than this.
    pub(super) flag: Option<(bool, i64)>,
}

impl KeyIndex {
    pub(super) fn len(&self) -> usize {
        self.kids.len()
    }

    fn hay_of(&self, slot: usize) -> &[u8] {
        &self.hay[self.hay_start[slot] as usize..self.hay_start[slot + 1] as usize]
    }

    fn apis_of(&self, slot: usize) -> &[u32] {
        &self.api_vals[self.api_start[slot] as usize..self.api_start[slot + 1] as usize]
    }

    pub(super) fn slot_of(&self, kid: i64) -> Option<usize> {
        self.kids.binary_search(&kid).ok()
    }

    /// The index of every key of `profile` (about `n` keys) at `rev`, read from `c`.
    pub(super) fn build(
        c: &Connection,
        profile: &str,
        rev: i64,
        n: usize,
    ) -> rusqlite::Result<KeyIndex> {
        let mut b = Builder::new(n, n * 96, HashMap::new());
        each_source(c, profile, i64::MIN, |s| b.push_source(&s))?;
        Ok(b.finish(rev))
    }

    /// This index with `changed` (the rows whose `rev` is above this one's, in kid order)
    /// replacing or joining its keys, at `rev`.
    pub(super) fn patched(&self, rev: i64, changed: &[Source]) -> KeyIndex {
        let mut b = Builder::new(
            self.len() + changed.len(),
            self.hay.len() + changed.len() * 64,
            self.dict.clone(),
        );
        let mut slot = 0;
        for s in changed {
            while slot < self.len() && self.kids[slot] < s.kid {
                b.push_old(self, slot);
                slot += 1;
            }
            if slot < self.len() && self.kids[slot] == s.kid {
                slot += 1;
            }
            b.push_source(s);
        }
        while slot < self.len() {
            b.push_old(self, slot);
            slot += 1;
        }
        b.finish(rev)
    }

    /// Bytes held (the buffers' capacities and the dictionary's strings; the orders read so
    /// far included).
    pub(super) fn bytes(&self) -> usize {
        let orders: usize = self
            .orders
            .iter()
            .filter_map(|o| o.get())
            .map(|o| o.len() * 4)
            .sum();
        let activity = self
            .activity
            .lock()
            .as_ref()
            .map_or(0, |a| a.order.len() * 4);
        let masks: usize = self.masks.lock().values().map(|m| m.len()).sum::<usize>()
            + self
                .flag_dates
                .iter()
                .filter_map(|d| d.get())
                .map(|d| d.capacity() * 8)
                .sum::<usize>();
        self.kids.capacity() * 8
            + self.hay.capacity()
            + self.hay_start.capacity() * 4
            + self.cols.bytes()
            + self.api_start.capacity() * 4
            + self.api_vals.capacity() * 4
            + self
                .dict
                .keys()
                .map(|k| k.len() + std::mem::size_of::<(Box<str>, u32)>() + 1)
                .sum::<usize>()
            + orders
            + activity
            + masks
    }

    /// The slots whose haystack holds every term (`terms` not empty).
    pub(super) fn search(&self, terms: &[String]) -> Vec<bool> {
        let n = self.len();
        let mut terms: Vec<&str> = terms.iter().map(String::as_str).collect();
        // The longest term first: it is the likeliest to be rare.
        terms.sort_by_key(|t| std::cmp::Reverse(t.len()));
        terms.dedup();
        let Some((first, rest)) = terms.split_first() else {
            return vec![true; n];
        };
        let mut hit = vec![false; n];
        self.scan(first.as_bytes(), &mut hit);
        for t in rest {
            let t = t.as_bytes();
            let candidates = hit.iter().filter(|h| **h).count();
            if candidates.saturating_mul(8) < n {
                // Few keys left: look in theirs only.
                for (slot, h) in hit.iter_mut().enumerate() {
                    if *h && !holds(self.hay_of(slot), t) {
                        *h = false;
                    }
                }
            } else {
                let mut also = vec![false; n];
                self.scan(t, &mut also);
                for (h, a) in hit.iter_mut().zip(also) {
                    *h &= a;
                }
            }
        }
        hit
    }

    /// Marks in `hit` every slot whose haystack holds `term`: one pass over the whole buffer
    /// (a match never spans two slots: each field ends with a newline, which no term holds).
    fn scan(&self, term: &[u8], hit: &mut [bool]) {
        if self.len() == 0 {
            return;
        }
        let mut slot = 0usize;
        let mut end = self.hay_start[1] as usize;
        for at in memchr::memmem::find_iter(&self.hay, term) {
            while end <= at {
                slot += 1;
                end = self.hay_start[slot + 1] as usize;
            }
            hit[slot] = true;
        }
    }

    /// `q`'s filters resolved against the dictionary; `None` when an org, user or API that no
    /// key has is asked for (nothing matches).
    pub(super) fn filter(
        &self,
        q: &KeyWindowQuery,
        (stale_days, rotation_days): (u32, u32),
        now: DateTime<Utc>,
    ) -> Option<Filter> {
        let lookup = |s: &Option<String>| -> Option<Option<u32>> {
            match s {
                None => Some(None),
                Some(s) => self.dict.get(s.as_str()).map(|&id| Some(id)),
            }
        };
        let now = to_ms(now);
        Some(Filter {
            status: q.status.map(status_of),
            key_type: q.key_type.map(type_of),
            org: lookup(&q.org_code)?,
            user: lookup(&q.user_id)?,
            api: lookup(&q.api_id)?,
            flag: q.flag.map(|f| match f {
                KeyFlag::Stale => (true, now - i64::from(stale_days) * DAY_MS),
                KeyFlag::RotationDue => (false, now - i64::from(rotation_days) * DAY_MS),
            }),
        })
    }

    fn passes(&self, f: &Filter, slot: usize) -> bool {
        let c = &self.cols.get(slot);
        f.status.is_none_or(|s| c.status == s)
            && f.key_type.is_none_or(|t| c.key_type == t)
            && f.org.is_none_or(|o| c.org == o)
            && f.user.is_none_or(|u| c.user == u)
            && f.api.is_none_or(|a| self.apis_of(slot).contains(&a))
            && f.flag.is_none_or(|(stale, cutoff)| {
                !c.gone
                    && c.status == 0
                    && if stale {
                        c.stale_at < cutoff
                    } else {
                        c.rot_at < cutoff
                    }
            })
    }

    /// Clears in `mask` the slots that `f` refuses, one column at a time.
    pub(super) fn apply(&self, f: &Filter, mask: &mut [bool]) {
        if let Some(cm) = self.column_mask(f) {
            for (m, &c) in mask.iter_mut().zip(cm.iter()) {
                *m &= c;
            }
        }
        if let Some((stale, cutoff)) = f.flag {
            let c = &self.cols;
            let dates = if stale { &c.stale_at } else { &c.rot_at };
            for (((m, &gone), &status), &at) in
                mask.iter_mut().zip(&c.gone).zip(&c.status).zip(dates)
            {
                *m &= !gone & (status == 0) & (at < cutoff);
            }
        }
    }

    /// How many keys a flag filter alone lets through (`stale`: the stale flag, else the
    /// rotation one): the flaggable keys whose date is before `cutoff`.
    pub(super) fn flag_count(&self, stale: bool, cutoff: i64) -> usize {
        let cell = &self.flag_dates[usize::from(!stale)];
        let dates = cell.get_or_init(|| {
            let c = &self.cols;
            let col = if stale { &c.stale_at } else { &c.rot_at };
            let mut d: Vec<i64> = (0..self.len())
                .filter(|&i| !c.gone[i] && c.status[i] == 0)
                .map(|i| col[i])
                .collect();
            d.sort_unstable();
            d
        });
        dates.partition_point(|&d| d < cutoff)
    }

    /// The keys that `f`'s column filters (all but the flag, which moves with the clock) let
    /// through, kept for this index (`None`: no such filter).
    fn column_mask(&self, f: &Filter) -> Option<Arc<[bool]>> {
        let key: MaskKey = (f.status, f.key_type, f.org, f.user, f.api);
        if key == (None, None, None, None, None) {
            return None;
        }
        if let Some(m) = self.masks.lock().get(&key) {
            return Some(Arc::clone(m));
        }
        let c = &self.cols;
        let mut mask = vec![true; self.len()];
        let eq8 = |mask: &mut [bool], col: &[u8], v: u8| {
            for (m, &x) in mask.iter_mut().zip(col) {
                *m &= x == v;
            }
        };
        let eq32 = |mask: &mut [bool], col: &[u32], v: u32| {
            for (m, &x) in mask.iter_mut().zip(col) {
                *m &= x == v;
            }
        };
        if let Some(v) = f.status {
            eq8(&mut mask, &c.status, v);
        }
        if let Some(v) = f.key_type {
            eq8(&mut mask, &c.key_type, v);
        }
        if let Some(v) = f.org {
            eq32(&mut mask, &c.org, v);
        }
        if let Some(v) = f.user {
            eq32(&mut mask, &c.user, v);
        }
        if let Some(a) = f.api {
            for (slot, m) in mask.iter_mut().enumerate() {
                if *m {
                    *m = self.apis_of(slot).contains(&a);
                }
            }
        }
        let mask: Arc<[bool]> = mask.into();
        let mut masks = self.masks.lock();
        if masks.len() >= MASKS_KEPT {
            masks.clear();
        }
        masks.insert(key, Arc::clone(&mask));
        Some(mask)
    }

    /// Whether slot `slot` matches: in `hit` (the search's, if any) and through `f`.
    pub(super) fn wanted(
        &self,
        hit: Option<&[bool]>,
        f: &Filter,
        plain: bool,
        slot: usize,
    ) -> bool {
        hit.is_none_or(|h| h[slot]) && (plain || self.passes(f, slot))
    }
}

impl Filter {
    pub(super) fn is_plain(&self) -> bool {
        self.status.is_none()
            && self.key_type.is_none()
            && self.org.is_none()
            && self.user.is_none()
            && self.api.is_none()
            && self.flag.is_none()
    }
}

/// One window picked by the index: how many keys match, and the row ids of the window's rows
/// in order.
#[derive(Debug)]
pub(super) struct Picked {
    pub total: u32,
    pub kids: Vec<i64>,
}

/// The current index of one store, swapped whole.
#[derive(Default)]
pub(super) struct IndexCache {
    pub(super) current: Mutex<Option<Arc<KeyIndex>>>,
    /// The sorts windows asked for (bit `i`: [`sort_slot`] `i`): their orders are read again
    /// in the background when a new index replaces the current one.
    pub(super) asked: std::sync::atomic::AtomicU8,
}
