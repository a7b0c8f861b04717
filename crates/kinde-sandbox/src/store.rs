//! The initial data (seed or state file) and saving it (`--state FILE`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::config::{Config, Seed};
use crate::model::Db;
use crate::seed;
use crate::state::Shared;

/// Loads the state file when it exists; otherwise builds the seed plus `extra_keys`.
pub fn initial_db(config: &Config) -> anyhow::Result<Db> {
    if let Some(path) = config.state_file.as_deref().filter(|p| p.exists()) {
        return load(path);
    }
    let mut rng = match config.rng_seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_os_rng(),
    };
    let mut db = match config.seed {
        Seed::Empty => seed::empty(&mut rng),
        Seed::Demo => seed::demo(&mut rng),
    };
    seed::extra(&mut db, config.extra_keys, &mut rng);
    Ok(db)
}

pub fn load(path: &Path) -> anyhow::Result<Db> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading sandbox state {}", path.display()))?;
    let mut db: Db = serde_json::from_str(&text)
        .with_context(|| format!("parsing sandbox state {}", path.display()))?;
    db.reindex();
    Ok(db)
}

/// Writes atomically: a temporary file next to it, then a rename.
pub fn save(db: &Db, path: &Path) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let text = serde_json::to_string(db)?;
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// Saves every 30 s, so that a crash loses at most that much.
pub async fn autosave(sh: Arc<Shared>, path: PathBuf) {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    tick.tick().await;
    loop {
        tick.tick().await;
        let db = sh.db.lock().clone();
        let path = path.clone();
        let saved = tokio::task::spawn_blocking(move || save(&db, &path)).await;
        if let Ok(Err(e)) = saved {
            tracing::warn!("could not save the sandbox state: {e:#}");
        }
    }
}
