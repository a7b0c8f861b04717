//! Connections to the server's database: the URL (parsed, and shown without its password),
//! the pool, one-off connections, the advisory lock namespaces, and PostgreSQL's errors in
//! words. Both the store (`pg/mod.rs`) and the migrations (`pg/migrate.rs`) build on it.

use std::str::FromStr;
use std::time::Duration;

use keyward_core::error::{Error, ErrorCode, Result};
use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;

/// The pool of connections to the server's database (shared by the store and the delivery).
pub type Pool = r2d2_postgres::r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// One pooled connection.
pub type Conn = r2d2_postgres::r2d2::PooledConnection<PostgresConnectionManager<NoTls>>;

/// Advisory lock namespaces (the first key of `pg_advisory_lock(int, int)`), one per use, so
/// that no two uses of advisory locks in this database collide. 0x4b57 is "KW".
pub mod lock_ns {
    /// Migrations (second key 0): concurrent migrators run one after the other.
    pub const MIGRATE: i32 = 0x4b57_0001;
    /// A profile's write transactions (second key: `hashtext(profile)`), as SQLite's
    /// `BEGIN IMMEDIATE`.
    pub const STORE_TX: i32 = 0x4b57_0002;
    /// A profile's sync lock (second key: `hashtext(profile)`), session-level.
    pub const SYNC: i32 = 0x4b57_0003;
    /// Free for the server's own uses (leader lease, ...): 0x4b57_0100 and up.
    pub const SERVER_FIRST: i32 = 0x4b57_0100;
}

/// How many connections the pool keeps at most.
pub const POOL_SIZE: u32 = 8;

/// How long an unanswered connection lives (TCP user timeout; keepalives every 5 s after
/// 10 s idle, 3 missed).
pub const DEAD_AFTER: Duration = Duration::from_secs(30);

/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The database URL without its password, for messages (`postgres://user@host:port/db`).
pub fn redacted(config: &postgres::Config) -> String {
    let user = config.get_user().unwrap_or("");
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(h, p)| match h {
            postgres::config::Host::Tcp(h) => format!("{h}:{p}"),
            #[cfg(unix)]
            postgres::config::Host::Unix(d) => format!("{}:{p}", d.display()),
        })
        .collect();
    let db = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{}/{db}", hosts.join(","))
}

/// Parses a database URL (or `key=value` string). The error never repeats the URL (it may
/// hold a password).
pub fn parse_url(url: &str) -> Result<postgres::Config> {
    let mut config = postgres::Config::from_str(url).map_err(|e| {
        Error::new(
            ErrorCode::InvalidInput,
            format!(
                "the database URL is not valid: {}",
                strip_secret(&e.to_string(), url)
            ),
            "Write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE \
             (KEYWARD_SERVER_DATABASE_URL or `database_url` in the configuration).",
        )
    })?;
    if config.get_hosts().is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            "the database URL names no host",
            "Write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE.",
        ));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("keyward-server");
    }
    // A database host that vanishes (no RST: powered off, partitioned) must not hang a query,
    // a sync lock's release or a pool check-out for the kernel's 15 minutes: the connection is
    // declared dead after DEAD_AFTER without an acknowledgement or a keepalive answer.
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(DEAD_AFTER);
    }
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(10))
        .keepalives_interval(Duration::from_secs(5))
        .keepalives_retries(3);
    Ok(config)
}

/// A message without the URL's password, should a driver ever repeat it.
fn strip_secret(msg: &str, url: &str) -> String {
    let password = postgres::Config::from_str(url)
        .ok()
        .and_then(|c| {
            c.get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        })
        .or_else(|| {
            let u = url::Url::parse(url).ok()?;
            u.password().map(str::to_string)
        });
    match password.filter(|p| !p.is_empty()) {
        Some(p) => msg.replace(&p, "****"),
        None => msg.to_string(),
    }
}

/// Connects once, directly, to say in words what is wrong (bad host, refused login, no such
/// database) before a pool is built.
pub fn connect_once(config: &postgres::Config) -> Result<postgres::Client> {
    config.connect(NoTls).map_err(|e| connect_err(config, &e))
}

/// A pool over `url`. Connects once first, so that a bad URL, an unreachable server or a
/// refused login is reported at once, in words.
pub fn pool(url: &str) -> Result<Pool> {
    let config = parse_url(url)?;
    drop(connect_once(&config)?);
    pool_of(config)
}

pub(super) fn pool_of(config: postgres::Config) -> Result<Pool> {
    let manager = PostgresConnectionManager::new(config, NoTls);
    Ok(r2d2_postgres::r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(Some(1))
        .test_on_check_out(true)
        .connection_timeout(Duration::from_secs(15))
        .error_handler(Box::new(r2d2_postgres::r2d2::NopErrorHandler))
        .build_unchecked(manager))
}

/// A connection from the pool, or the reason there is none in words.
pub fn get(pool: &Pool) -> Result<Conn> {
    pool.get().map_err(|e| {
        Error::new(
            ErrorCode::Database,
            format!("the server's database cannot be reached: {e}"),
            "Check that PostgreSQL is running and reachable at the configured URL \
             (keyward-server check tells more); the server retries on its own.",
        )
    })
}

/// Says in words why connecting failed; never repeats the password.
pub fn connect_err(config: &postgres::Config, e: &postgres::Error) -> Error {
    use postgres::error::SqlState;
    let at = redacted(config);
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        let (what, hint) = if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            (
                "refused the login",
                "Check the user name and password in the database URL.",
            )
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            (
                "has no such database",
                "Create it (createdb), or fix the database name in the URL.",
            )
        } else if *code == SqlState::TOO_MANY_CONNECTIONS {
            (
                "has no connection to spare",
                "Raise max_connections, or run fewer clients.",
            )
        } else {
            (
                "refused the connection",
                "Check the database URL and the server's log.",
            )
        };
        return Error::new(
            ErrorCode::Database,
            format!("PostgreSQL at {at} {what}: {}", db.message()),
            hint,
        );
    }
    let text = e.to_string();
    let source = std::error::Error::source(e)
        .map(|s| s.to_string())
        .unwrap_or_default();
    let (code, what) = if source.contains("refused") {
        (
            ErrorCode::ConnectionRefused,
            "refuses connections (is PostgreSQL running?)",
        )
    } else if text.contains("timed out") || source.contains("timed out") {
        (ErrorCode::Timeout, "did not answer in time")
    } else if source.contains("lookup") || source.contains("resolve") || source.contains("known") {
        (
            ErrorCode::Dns,
            "cannot be found (the host name does not resolve)",
        )
    } else {
        (ErrorCode::Database, "cannot be reached")
    };
    Error::new(
        code,
        format!(
            "PostgreSQL at {at} {what}: {text}{}",
            if source.is_empty() {
                String::new()
            } else {
                format!(" ({source})")
            }
        ),
        "Check the host and port in the database URL, and that PostgreSQL accepts TCP \
         connections from this machine (listen_addresses, pg_hba.conf).",
    )
}

/// Maps a PostgreSQL error met while using the store.
pub fn db_err(e: postgres::Error) -> Error {
    use postgres::error::SqlState;
    if e.is_closed()
        || e.as_db_error().is_none()
            && e.code().is_none()
            && e.to_string().contains("communicating")
    {
        return Error::new(
            ErrorCode::Database,
            format!("the connection to the server's database was lost: {e}"),
            "PostgreSQL restarted or the network dropped; the next try reconnects.",
        );
    }
    let hint = match e.code() {
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            "Another writer got in the way. Try again."
        }
        Some(c) if *c == SqlState::DISK_FULL => "The database server's disk is full.",
        Some(c) if *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CANNOT_CONNECT_NOW => {
            "PostgreSQL is shutting down or starting; the next try reconnects."
        }
        _ => {
            "This is probably a bug in keyward-server. Please report it with the steps that led here."
        }
    };
    let msg = match e.as_db_error() {
        Some(db) => format!("server database: {}", db.message()),
        None => format!("server database: {e}"),
    };
    Error::new(ErrorCode::Database, msg, hint)
}
