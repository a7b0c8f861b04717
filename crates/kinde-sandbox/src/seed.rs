//! Seed data: the `empty` fixtures and the `demo` business, plus generated keys for scale.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::seq::IndexedRandom;

use crate::keys::{self, NewKey, rand_hex};
use crate::model::{ApiRec, Db, KeyKind, OrgRec, ScopeRec, Status, UserRec};

/// The API of the `empty` seed.
pub const EMPTY_API_ID: &str = "7ccd126599aa422a771abcb341596881";
/// The organization of the `empty` seed.
pub const EMPTY_ORG_CODE: &str = "org_1ccfb819462";
/// The user of the `empty` seed.
pub const EMPTY_USER_ID: &str = "kp_0195ac80a14e8d71f42b98e75d3c61ad";

fn api(
    id: String,
    name: &str,
    audience: &str,
    scopes: &[(&str, &str)],
    rng: &mut impl Rng,
) -> ApiRec {
    ApiRec {
        id,
        name: name.to_string(),
        audience: audience.to_string(),
        scopes: scopes
            .iter()
            .map(|(key, description)| ScopeRec {
                id: format!("api_scope_{}", rand_hex(16, rng)),
                key: key.to_string(),
                description: description.to_string(),
            })
            .collect(),
    }
}

fn org(code: String, name: &str, created_on: DateTime<Utc>) -> OrgRec {
    let handle = name
        .to_lowercase()
        .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    OrgRec {
        code,
        name: name.to_string(),
        handle: Some(handle),
        external_id: None,
        is_default: false,
        created_on,
    }
}

/// No keys; one API (two scopes), one organization and one user, so that keys can be created.
pub fn empty(rng: &mut impl Rng) -> Db {
    let now = Utc::now();
    let mut db = Db::default();
    let scopes = [("read:data", "Read data"), ("write:data", "Write data")];
    db.apis.push(api(
        EMPTY_API_ID.into(),
        "Sandbox API",
        "https://api.sandbox.test",
        &scopes,
        rng,
    ));
    db.orgs.push(org(
        EMPTY_ORG_CODE.into(),
        "Sandbox Org",
        now - Duration::days(30),
    ));
    db.users.push(UserRec {
        id: EMPTY_USER_ID.into(),
        first_name: "Sam".into(),
        last_name: "Sandbox".into(),
        email: "sam@sandbox.test".into(),
        organizations: vec![EMPTY_ORG_CODE.into()],
        created_on: now - Duration::days(30),
        last_signed_in: Some(now - Duration::days(1)),
        total_sign_ins: 12,
    });
    db
}

const ORGS: &[&str] = &[
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Foods",
    "Hooli",
    "Soylent Labs",
    "Vandelay Imports",
    "Tyrell Robotics",
    "Cyberdyne Systems",
    "Wonka Confectionery",
];
const FIRST: &[&str] = &[
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Liam", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rafael", "Sofia", "Tariq",
];
const LAST: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Patel",
    "Kowalski",
    "Nakamura",
    "Silva",
    "Haddad",
    "Fischer",
    "O'Brien",
    "Rossi",
    "Chen",
    "Novak",
    "Mensah",
    "Duarte",
    "Berg",
];
const PURPOSES: &[&str] = &[
    "Production backend",
    "Staging worker",
    "CI pipeline",
    "Zapier integration",
    "Data warehouse sync",
    "Mobile app",
    "Partner webhook",
    "Nightly export",
    "Reporting dashboard",
    "Support tooling",
    "Billing reconciler",
    "Inventory sync",
    "Load test",
    "Local dev",
    "Slack bot",
    "Analytics ingest",
    "Legacy importer",
    "Terraform",
];
const SUFFIXES: &[&str] = &[
    "",
    "",
    "",
    " v2",
    " (eu-west)",
    " (us-east)",
    " #2",
    " - old",
];

/// A believable business: 3 APIs with scopes, 12 orgs, 40 users and about 150 keys.
pub fn demo(rng: &mut impl Rng) -> Db {
    let now = Utc::now();
    let mut db = Db::default();
    let payments = [
        ("read:payments", "Read payments"),
        ("write:payments", "Create payments"),
        ("refund:payments", "Issue refunds"),
        ("read:invoices", "Read invoices"),
    ];
    let inventory = [
        ("read:inventory", "Read stock levels"),
        ("write:inventory", "Change stock levels"),
        ("read:warehouses", "Read warehouses"),
    ];
    let analytics = [
        ("read:reports", "Read reports"),
        ("write:events", "Send events"),
        ("admin:dashboards", "Manage dashboards"),
    ];
    db.apis.push(api(
        rand_hex(16, rng),
        "Payments API",
        "https://payments.northwind.dev",
        &payments,
        rng,
    ));
    db.apis.push(api(
        rand_hex(16, rng),
        "Inventory API",
        "https://inventory.northwind.dev",
        &inventory,
        rng,
    ));
    db.apis.push(api(
        rand_hex(16, rng),
        "Analytics API",
        "https://analytics.northwind.dev",
        &analytics,
        rng,
    ));
    for name in ORGS {
        let age = Duration::days(rng.random_range(200..900));
        db.orgs.push(org(
            format!("org_{}", &rand_hex(6, rng)[..11]),
            name,
            now - age,
        ));
    }
    for i in 0..40 {
        let first = FIRST[i % FIRST.len()];
        let last = LAST[(i * 7 + i / 3) % LAST.len()];
        let o = &db.orgs[i % db.orgs.len()];
        let domain = o.handle.clone().unwrap_or_default().replace('_', "");
        db.users.push(UserRec {
            id: format!("kp_{}", rand_hex(16, rng)),
            first_name: first.into(),
            last_name: last.into(),
            email: format!(
                "{}.{}@{domain}.example",
                first.to_lowercase(),
                last.to_lowercase().replace('\'', "")
            ),
            organizations: vec![o.code.clone()],
            created_on: o.created_on + Duration::days(rng.random_range(1..150)),
            last_signed_in: Some(now - Duration::hours(rng.random_range(1..2000))),
            total_sign_ins: rng.random_range(1..400),
        });
    }
    let orgs: Vec<String> = db.orgs.iter().map(|o| o.code.clone()).collect();
    let users: Vec<String> = db.users.iter().map(|u| u.id.clone()).collect();
    generate_keys(&mut db, 150, &orgs, &users, rng);
    db
}

/// `n` more keys over `n/40` new orgs and `n/20` new users (`--keys N`, `add_keys`).
pub fn extra(db: &mut Db, n: usize, rng: &mut impl Rng) {
    if n == 0 {
        return;
    }
    let now = Utc::now();
    let base = db.orgs.len();
    let mut orgs = Vec::new();
    for i in 0..n.div_ceil(40) {
        let code = format!("org_{}", &rand_hex(6, rng)[..11]);
        db.orgs.push(org(
            code.clone(),
            &format!("Generated Org {:04}", base + i + 1),
            now - Duration::days(400),
        ));
        orgs.push(code);
    }
    let mut users = Vec::new();
    for i in 0..n.div_ceil(20) {
        let id = format!("kp_{}", rand_hex(16, rng));
        let o = orgs[i % orgs.len()].clone();
        let num = db.users.len() + 1;
        db.users.push(UserRec {
            id: id.clone(),
            first_name: "Generated".into(),
            last_name: format!("User {num:05}"),
            email: format!("gen.user.{num:05}@example.test"),
            organizations: vec![o],
            created_on: now - Duration::days(300),
            last_signed_in: None,
            total_sign_ins: 0,
        });
        users.push(id);
    }
    generate_keys(db, n, &orgs, &users, rng);
}

/// Keys with varied owners, APIs, scopes, statuses, ages, counts and last-verified times.
fn generate_keys(db: &mut Db, n: usize, orgs: &[String], users: &[String], rng: &mut impl Rng) {
    if db.apis.is_empty() || (orgs.is_empty() && users.is_empty()) {
        return;
    }
    let now = Utc::now();
    let creators: Vec<String> = db.users.iter().take(6).map(|u| u.display_name()).collect();
    for _ in 0..n {
        let api = db
            .apis
            .choose(rng)
            .cloned()
            .unwrap_or_else(|| db.apis[0].clone());
        let take = rng.random_range(1..=api.scopes.len().max(1));
        let scopes: Vec<String> = api
            .scopes
            .choose_multiple(rng, take)
            .map(|s| s.key.clone())
            .collect();
        let for_org = users.is_empty() || (!orgs.is_empty() && rng.random_bool(0.6));
        let (kind, user_id, org_code) = if for_org {
            (KeyKind::Organization, None, orgs.choose(rng).cloned())
        } else {
            (KeyKind::User, users.choose(rng).cloned(), None)
        };
        let created_on = now - Duration::minutes(rng.random_range(60..60 * 24 * 540));
        let age_min = (now - created_on).num_minutes().max(2);
        // Busy, regular, stale (verified long ago, idle now) or never used.
        let profile = rng.random_range(0..100);
        let (weight, count, last_min_ago) = match profile {
            0..20 => (
                50,
                rng.random_range(5_000..90_000),
                Some(rng.random_range(1..30)),
            ),
            20..55 => (
                5,
                rng.random_range(10..3_000),
                Some(rng.random_range(60..60 * 24 * 14)),
            ),
            55..80 => (
                0,
                rng.random_range(1..600),
                Some(rng.random_range(60 * 24 * 60..60 * 24 * 300)),
            ),
            _ => (0, 0, None),
        };
        let last = last_min_ago.map(|m: i64| now - Duration::minutes(m.min(age_min - 1)));
        let purpose = PURPOSES.choose(rng).copied().unwrap_or("Backend");
        let suffix = SUFFIXES.choose(rng).copied().unwrap_or("");
        let new = NewKey {
            name: format!("{purpose}{suffix}"),
            kind,
            api_id: api.id.clone(),
            scopes,
            user_id,
            org_code,
            created_by: creators.choose(rng).cloned(),
            created_on,
            traffic_weight: weight,
        };
        let id = keys::create_unknown(db, new, rng);
        if let Some(k) = db.keys.get_mut(&id) {
            k.verification_count = count;
            k.last_verified_on = last.filter(|_| count > 0);
            k.last_verified_ip = k
                .last_verified_on
                .map(|_| format!("203.0.113.{}", rng.random_range(1..255)));
            k.status = match rng.random_range(0..100) {
                0..9 => Status::Revoked,
                9..15 => Status::Inactive,
                _ => Status::Active,
            };
        }
    }
}
