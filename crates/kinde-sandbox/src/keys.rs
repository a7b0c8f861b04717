//! API key operations on the data: secrets, ids, listing, rotate, revoke and verify.

use chrono::{DateTime, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::model::{Db, KeyKind, KeyRec, Status};

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A fresh secret: `k_live_` and 32 base62 characters from the OS-seeded CSPRNG.
pub fn new_secret() -> String {
    let mut rng = rand::rng();
    let body: String = (0..32)
        .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
        .collect();
    format!("k_live_{body}")
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Prefix (first 6 characters) and suffix (last 4) of a secret.
pub fn prefix_suffix(secret: &str) -> (String, String) {
    let chars: Vec<char> = secret.chars().collect();
    let prefix: String = chars.iter().take(6).collect();
    let suffix: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    (prefix, suffix)
}

/// `api_key_<32 hex>`: 12 hex of the creation time in ms, then 20 random hex, so that ids sort in
/// creation order (like Kinde's, which are UUIDv7-like).
pub fn new_key_id(created: DateTime<Utc>, rng: &mut impl Rng) -> String {
    let ms = created.timestamp_millis().max(0) as u64 & 0xffff_ffff_ffff;
    let a: u64 = rng.random::<u64>() & 0xffff_ffff_ffff;
    let b: u32 = rng.random::<u32>();
    format!("api_key_{ms:012x}{a:012x}{b:08x}")
}

/// Plain hex id of `n` random bytes.
pub fn rand_hex(n: usize, rng: &mut impl Rng) -> String {
    let bytes: Vec<u8> = (0..n).map(|_| rng.random::<u8>()).collect();
    hex::encode(bytes)
}

/// What a new key is made of (validated already).
pub struct NewKey {
    pub name: String,
    pub kind: KeyKind,
    pub api_id: String,
    pub scopes: Vec<String>,
    pub user_id: Option<String>,
    pub org_code: Option<String>,
    pub created_by: Option<String>,
    pub created_on: DateTime<Utc>,
    pub traffic_weight: u32,
}

/// Creates a key and returns its id and its one-time secret.
pub fn create(db: &mut Db, new: NewKey, rng: &mut impl Rng) -> (String, String) {
    let secret = new_secret();
    let (key_prefix, key_suffix) = prefix_suffix(&secret);
    let id = insert(db, new, hash_secret(&secret), key_prefix, key_suffix, rng);
    (id, secret)
}

/// Creates a key whose secret nobody knows (seed data): a random hash and suffix, no secret
/// generated at all. Much cheaper than [`create`] for large seeds.
pub fn create_unknown(db: &mut Db, new: NewKey, rng: &mut impl Rng) -> String {
    let suffix: String = (0..4)
        .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
        .collect();
    let hash = rand_hex(32, rng);
    insert(db, new, hash, "k_live".to_string(), suffix, rng)
}

fn insert(
    db: &mut Db,
    new: NewKey,
    secret_hash: String,
    key_prefix: String,
    key_suffix: String,
    rng: &mut impl Rng,
) -> String {
    let mut id = new_key_id(new.created_on, rng);
    while db.keys.contains_key(&id) {
        id = new_key_id(new.created_on, rng);
    }
    db.insert_key(KeyRec {
        id: id.clone(),
        name: new.name,
        kind: new.kind,
        status: Status::Active,
        secret_hash,
        key_prefix,
        key_suffix,
        created_on: new.created_on,
        created_by: new.created_by,
        last_verified_on: None,
        last_verified_ip: None,
        api_id: new.api_id,
        scopes: new.scopes,
        verification_count: 0,
        user_id: new.user_id,
        org_code: new.org_code,
        traffic_weight: new.traffic_weight,
    });
    id
}

#[derive(Debug)]
pub enum RotateError {
    NotFound,
    Revoked,
}

/// New secret for the same id and status; the old secret stops working at once.
pub fn rotate(db: &mut Db, id: &str) -> Result<String, RotateError> {
    let key = db.keys.get_mut(id).ok_or(RotateError::NotFound)?;
    if key.status == Status::Revoked {
        return Err(RotateError::Revoked);
    }
    let secret = new_secret();
    let (prefix, suffix) = prefix_suffix(&secret);
    let old_hash = std::mem::replace(&mut key.secret_hash, hash_secret(&secret));
    key.key_prefix = prefix;
    key.key_suffix = suffix;
    let new_hash = key.secret_hash.clone();
    db.by_hash.remove(&old_hash);
    db.by_hash.insert(new_hash, id.to_string());
    Ok(secret)
}

/// Revokes a key (idempotent). `false` when the id is unknown.
pub fn revoke(db: &mut Db, id: &str) -> bool {
    match db.keys.get_mut(id) {
        Some(k) => {
            k.status = Status::Revoked;
            true
        }
        None => false,
    }
}

/// Counts a verification of the key `id` when it is active. Returns the key after it.
pub fn verify_id<'a>(db: &'a mut Db, id: &str, ip: &str, now: DateTime<Utc>) -> Option<&'a KeyRec> {
    let key = db.keys.get_mut(id)?;
    if key.status == Status::Active {
        key.verification_count += 1;
        key.last_verified_on = Some(now);
        key.last_verified_ip = Some(ip.to_string());
    }
    Some(key)
}

/// Looks a secret up and counts the verification when the key is active.
pub fn verify_secret<'a>(
    db: &'a mut Db,
    secret: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> Option<&'a KeyRec> {
    let id = db.by_hash.get(&hash_secret(secret))?.clone();
    verify_id(db, &id, ip, now)
}

/// Filters of the key list.
#[derive(Debug, Clone, Default)]
pub struct KeyFilter {
    pub kind: Option<KeyKind>,
    pub status: Option<Status>,
    pub user_id: Option<String>,
    pub org_code: Option<String>,
}

impl KeyFilter {
    pub fn matches(&self, k: &KeyRec) -> bool {
        self.kind.is_none_or(|t| k.kind == t)
            && self.status.is_none_or(|s| k.status == s)
            && self
                .user_id
                .as_deref()
                .is_none_or(|u| k.user_id.as_deref() == Some(u))
            && self
                .org_code
                .as_deref()
                .is_none_or(|o| k.org_code.as_deref() == Some(o))
    }
}

/// One page of keys in id order after `after`, and whether more match.
pub fn page<'a>(
    db: &'a Db,
    filter: &KeyFilter,
    after: Option<&str>,
    size: usize,
) -> (Vec<&'a KeyRec>, bool) {
    use std::ops::Bound::{Excluded, Unbounded};
    let lower = match after {
        Some(a) => Excluded(a.to_string()),
        None => Unbounded,
    };
    let mut it = db
        .keys
        .range((lower, Unbounded))
        .map(|(_, k)| k)
        .filter(|k| filter.matches(k));
    let items: Vec<&KeyRec> = it.by_ref().take(size).collect();
    let has_more = it.next().is_some();
    (items, has_more)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_look_like_kinde_and_differ() {
        let a = new_secret();
        let b = new_secret();
        assert!(a.starts_with("k_live_"));
        assert_eq!(a.len(), 39);
        assert_ne!(a, b);
        let (p, s) = prefix_suffix(&a);
        assert_eq!(p, "k_live");
        assert_eq!(s, &a[35..]);
    }

    #[test]
    fn ids_sort_by_creation() {
        let mut rng = rand::rng();
        let t1 = Utc::now() - chrono::Duration::days(3);
        let a = new_key_id(t1, &mut rng);
        let b = new_key_id(Utc::now(), &mut rng);
        assert!(a < b);
        assert_eq!(a.len(), "api_key_".len() + 32);
        assert!(a["api_key_".len()..].chars().all(|c| c.is_ascii_hexdigit()));
    }
}
