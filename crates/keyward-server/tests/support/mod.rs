//! What the server's tests share: one throwaway PostgreSQL cluster per test binary.

#![allow(dead_code, reason = "each test binary uses a part")]

use std::sync::{Arc, OnceLock};

use keyward_core::store::Store;
use keyward_server::pg::PgStore;
use pg_cluster::PgCluster;

/// The cluster of this test binary, started on first use (stopped by its watchdog when the
/// binary exits).
pub fn cluster() -> &'static PgCluster {
    static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| PgCluster::start().expect("a throwaway PostgreSQL cluster"))
}

/// A fresh, empty database on the shared cluster.
pub fn fresh_db() -> String {
    cluster().fresh_db().expect("a fresh database")
}

/// A fresh database for one contract test; every `open` is a new `PgStore` (its own pool) on
/// it, as another replica would have.
pub struct PgDb {
    pub url: String,
}

impl PgDb {
    pub fn fresh() -> PgDb {
        PgDb { url: fresh_db() }
    }
}

impl keyward_core::store::contract_suite::ContractDb for PgDb {
    fn open(&self, profile: &str) -> Arc<dyn Store> {
        Arc::new(PgStore::open(&self.url, profile).expect("open the PostgreSQL store"))
    }
}
