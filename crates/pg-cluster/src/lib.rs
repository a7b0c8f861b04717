//! A throwaway PostgreSQL cluster for tests and benches.
//!
//! [`PgCluster::start`] runs Debian's `initdb` in a temporary directory and starts `postgres` on a
//! free loopback port, with its socket in that directory. PostgreSQL refuses to run as root:
//! under root, the cluster belongs to an unprivileged system user (`keyward-pg`, created on
//! first use) and every PostgreSQL program runs through `runuser`.
//!
//! The cluster is stopped and its directory removed when the [`PgCluster`] is dropped, and also
//! when the process that started it exits without dropping it (a `static` cluster shared by the
//! tests of one binary, a test killed by a timeout): a small watchdog shell waits for that
//! process and then stops the server.
//!
//! No mock: a real server, reached over TCP on 127.0.0.1.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The unprivileged user that owns clusters started by root.
pub const PG_USER: &str = "keyward-pg";

/// A running throwaway cluster.
#[derive(Debug)]
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_user: Option<&'static str>,
    next_db: AtomicU32,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The directory of PostgreSQL's programs: `KEYWARD_PG_BIN`, else the newest
/// `/usr/lib/postgresql/N/bin` (Debian), else the `PATH`'s `initdb`.
pub fn bin_dir() -> Result<PathBuf, String> {
    if let Some(d) = std::env::var_os("KEYWARD_PG_BIN") {
        return Ok(PathBuf::from(d));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, b)) = versions.pop() {
        return Ok(b);
    }
    let which = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .map_err(|e| e.to_string())?;
    let p = String::from_utf8_lossy(&which.stdout).trim().to_string();
    match Path::new(&p).parent() {
        Some(d) if !p.is_empty() => Ok(d.to_path_buf()),
        _ => Err("PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb and no initdb on PATH (scripts/deps.sh installs Debian's postgresql)".into()),
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn ensure_user() -> Result<(), String> {
    let exists = Command::new("id")
        .arg(PG_USER)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if exists {
        return Ok(());
    }
    let out = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            PG_USER,
        ])
        .output()
        .map_err(|e| format!("useradd: {e}"))?;
    // Another test process may have created it in the meantime (exit 9: already exists).
    if out.status.success() || out.status.code() == Some(9) {
        Ok(())
    } else {
        Err(format!(
            "useradd {PG_USER} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl PgCluster {
    /// Creates and starts a cluster (`initdb -A trust`, no fsync: a test cluster).
    pub fn start() -> Result<PgCluster, String> {
        let bin = bin_dir()?;
        let as_user = if is_root() {
            ensure_user()?;
            Some(PG_USER)
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("keyward-pg-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        if let Some(u) = as_user {
            let st = Command::new("chown")
                .args([u, &dir.path().to_string_lossy()])
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !st.success() {
                return Err(format!("chown {u} {} failed", dir.path().display()));
            }
        }
        let port = free_port()?;
        let c = PgCluster {
            dir,
            bin,
            port,
            as_user,
            next_db: AtomicU32::new(0),
        };
        let data = c.data_dir();
        c.run(
            "initdb",
            &[
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
                &data.to_string_lossy(),
            ],
        )?;
        c.pg_start()?;
        c.watchdog()?;
        Ok(c)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn prog(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        match self.as_user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    fn run(&self, prog: &str, args: &[&str]) -> Result<String, String> {
        let out = self
            .prog(prog)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{prog}: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "{prog} {} failed: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            ))
        }
    }

    fn pg_start(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir().to_string_lossy(),
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-t",
                "60",
                "-o",
                &opts,
                "start",
            ],
        )
        .map_err(|e| {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            format!("{e}\n{tail}")
        })?;
        Ok(())
    }

    /// Stops the server when the process that started the cluster is gone, and removes the
    /// directory. Detached (its own session), so that it outlives that process.
    fn watchdog(&self) -> Result<(), String> {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             if [ -f '{data}/postmaster.pid' ]; then {stop}; fi; rm -rf '{dir}'",
            pid = std::process::id(),
            data = self.data_dir().display(),
            stop = self.stop_cmdline("immediate"),
            dir = self.dir.path().display(),
        );
        Command::new("setsid")
            .args(["-f", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("watchdog: {e}"))?;
        Ok(())
    }

    fn stop_cmdline(&self, mode: &str) -> String {
        let pg_ctl = self.bin.join("pg_ctl");
        let base = format!(
            "{} -D '{}' -m {mode} -w stop >/dev/null 2>&1",
            pg_ctl.display(),
            self.data_dir().display()
        );
        match self.as_user {
            Some(u) => format!("runuser -u {u} -- {base}"),
            None => base,
        }
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of the `postgres` database as the superuser `postgres` (trust authentication).
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// The URL of database `db` on this cluster.
    pub fn url_of(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs one SQL statement with `psql` as `postgres` on database `db`; returns its
    /// unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let port = self.port.to_string();
        self.run(
            "psql",
            &[
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                db,
                "-c",
                sql,
            ],
        )
        .map(|s| s.trim().to_string())
    }

    /// Creates a new empty database (`t1`, `t2`, … in creation order) and returns its URL.
    /// Tests that share a cluster each take their own database.
    pub fn fresh_db(&self) -> Result<String, String> {
        let n = self.next_db.fetch_add(1, Ordering::SeqCst) + 1;
        let name = format!("t{n}_{}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.url_of(&name))
    }

    /// Stops the server (`fast`: sessions are ended, as a restart by an operator would).
    pub fn stop(&self) -> Result<(), String> {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir().to_string_lossy(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        )
        .map(|_| ())
    }

    /// Starts the server again on the same port after [`PgCluster::stop`].
    pub fn start_again(&self) -> Result<(), String> {
        self.pg_start()
    }

    /// Restarts the server (every connection is cut).
    pub fn restart(&self) -> Result<(), String> {
        self.stop()?;
        self.pg_start()
    }

    /// The server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.data_dir().join("postmaster.pid").exists() {
            let _ = Command::new("sh")
                .args(["-c", &self.stop_cmdline("immediate")])
                .status();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_restarts_and_cleans_up() {
        let c = PgCluster::start().expect("cluster");
        assert_eq!(c.psql("postgres", "SELECT 1+1").unwrap(), "2");
        let url = c.fresh_db().unwrap();
        let db = url.rsplit('/').next().unwrap().to_string();
        assert_eq!(
            c.psql(&db, "SELECT current_database()").unwrap(),
            db,
            "fresh_db gives a database of its own"
        );
        c.restart().unwrap();
        assert_eq!(c.psql(&db, "SELECT 2*3").unwrap(), "6");
        let dir = c.dir.path().to_path_buf();
        drop(c);
        // Dropping stops the server; the TempDir removes the directory.
        assert!(!dir.join("data/postmaster.pid").exists());
    }
}
