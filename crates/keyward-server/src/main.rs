//! `keyward-server`: serve, migrate, check.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keyward_core::error::{Error, Result};
use keyward_core::model::doctor::StepStatus;
use keyward_server::config::{self, Need, ProcessEnv, ServerConfig};
use keyward_server::pg::{self, PgStore, SCHEMA_VERSION};
use keyward_server::serve::{self, ServeOptions};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "keyward-server",
    version,
    about = "The always-on Keyward watchtower: syncs a Kinde business's API keys into PostgreSQL \
             on a schedule, raises alerts and delivers them to signed webhooks and Slack."
)]
struct Cli {
    /// The configuration file (every key is documented in config.example.toml).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Machine-readable output: JSON on stdout, errors as {code, message, hint} JSON on stderr.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: /healthz and /metrics on every replica; the leader syncs and delivers.
    Serve,
    /// Apply the database migrations (an older binary refuses a newer schema).
    Migrate,
    /// Check the configuration, the database and Kinde (DNS, TLS, token, scopes, clock).
    Check,
    /// The team's members and their personal access tokens (team mode).
    Member {
        #[command(subcommand)]
        command: MemberCommand,
    },
}

#[derive(Subcommand)]
enum MemberCommand {
    /// Add a member; prints their personal access token once (only its hash is kept).
    Add {
        /// Letters, digits, '.', '_', '-' or '@' (e.g. alice or alice@example.com).
        name: String,
        /// viewer reads; operator also creates, rotates, re-issues and revokes keys and handles
        /// alerts; admin also changes policy.
        #[arg(long, value_parser = ["viewer", "operator", "admin"])]
        role: String,
    },
    /// List the members: name, role, created, last used (never a token).
    List,
    /// Revoke a member: their token fails from the next request on.
    Revoke { name: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&Error::io("the async runtime", &e), cli.json),
    };
    let json = cli.json;
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => fail(&e, json),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYWARD_SERVER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn fail(e: &Error, json: bool) -> ExitCode {
    if json {
        eprintln!("{}", serde_json::to_string(e).unwrap_or_default());
    } else {
        eprintln!("error [{}]: {}", e.code, e.message);
        if !e.hint.is_empty() {
            eprintln!("hint: {}", e.hint);
        }
    }
    ExitCode::from(e.code.exit_code().clamp(1, 255) as u8)
}

fn load(cli: &Cli, need: Need) -> Result<ServerConfig> {
    let (path, explicit) = match &cli.config {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(config::DEFAULT_PATH), false),
    };
    config::load(&path, explicit, &ProcessEnv, need)
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve => {
            let cfg = load(&cli, Need::Everything)?;
            serve::run(cfg, ServeOptions::default()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let cfg = load(&cli, Need::Database)?;
            let url = cfg.database_url.expose().to_string();
            let report = keyward_core::ctx::blocking(move || pg::migrate(&url)).await?;
            if cli.json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else if report.applied.is_empty() {
                println!("database at schema {}: nothing to apply", report.to);
            } else {
                for m in &report.applied {
                    println!("applied {m}");
                }
                println!("database at schema {} (was {})", report.to, report.from);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check => check(&cli).await,
        Command::Member { ref command } => member(&cli, command).await,
    }
}

/// `member add|list|revoke`: needs only the database.
async fn member(cli: &Cli, command: &MemberCommand) -> Result<ExitCode> {
    let cfg = load(cli, Need::Database)?;
    let url = cfg.database_url.expose().to_string();
    let json = cli.json;
    let op: MemberOp = match command {
        MemberCommand::Add { name, role } => {
            MemberOp::Add(name.clone(), keyward_core::operations::Role::parse(role)?)
        }
        MemberCommand::List => MemberOp::List,
        MemberCommand::Revoke { name } => MemberOp::Revoke(name.clone()),
    };
    let out = keyward_core::ctx::blocking(move || {
        let pool = pg::pool(&url)?;
        let out = member_run(&mut *pg::get(&pool)?, op, json);
        // The pool's last handle closes its clients: here, not on an async thread.
        drop(pool);
        out
    })
    .await?;
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}

enum MemberOp {
    Add(String, keyward_core::operations::Role),
    List,
    Revoke(String),
}

/// Runs a member subcommand and returns what to print.
fn member_run(c: &mut postgres::Client, op: MemberOp, json: bool) -> Result<String> {
    use keyward_server::api::members;
    Ok(match op {
        MemberOp::Add(name, role) => {
            let a = members::add(c, &name, role)?;
            if json {
                serde_json::to_string(&a).unwrap_or_default()
            } else {
                format!(
                    "added {} ({}). Their personal access token, shown this once:\n{}\n\
                     Give it to them over a private channel; they add it with\n  \
                     keyward profile add NAME --server URL --token-stdin",
                    a.name,
                    a.role,
                    a.token.expose()
                )
            }
        }
        MemberOp::List => {
            let list = members::list(c)?;
            if json {
                serde_json::to_string(&list).unwrap_or_default()
            } else if list.is_empty() {
                "no members yet: keyward-server member add NAME --role viewer|operator|admin".into()
            } else {
                let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S");
                let mut t = format!("{:<32} {:<9} {:<20} LAST USED", "NAME", "ROLE", "CREATED");
                for m in &list {
                    let used = m.last_used_at.map(|u| time(u).to_string());
                    t.push_str(&format!(
                        "\n{:<32} {:<9} {:<20} {}",
                        m.name,
                        m.role,
                        time(m.created_at).to_string(),
                        used.as_deref().unwrap_or("never")
                    ));
                }
                t
            }
        }
        MemberOp::Revoke(name) => {
            members::revoke(c, &name)?;
            if json {
                json!({ "revoked": name }).to_string()
            } else {
                format!("revoked {name}: their token no longer works")
            }
        }
    })
}

/// `check`: the configuration, the database, then Kinde as the connection doctor does.
async fn check(cli: &Cli) -> Result<ExitCode> {
    let cfg = load(cli, Need::Everything)?;
    let kinde = cfg.kinde.clone().expect("Need::Everything has Kinde");
    let mut healthy = true;
    let say = |line: String| {
        if !cli.json {
            println!("{line}");
        }
    };
    say(format!(
        "config      ok    {} (listen {}, sync every {} s, {} destination(s))",
        cfg.source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "environment only".into()),
        cfg.listen,
        cfg.sync_interval.as_secs(),
        cfg.destinations.len()
    ));
    for d in &cfg.destinations {
        say(format!(
            "destination       {} ({})",
            d.name,
            d.kind.as_str()
        ));
    }

    // Transport: HTTPS from the certificate files, or plain HTTP on loopback only.
    let transport = match keyward_server::api::tls::prepare(&cfg).await {
        Ok(tls) => {
            let mode = if tls.is_some() {
                "https (tls_cert, tls_key)"
            } else if cfg.listen.ip().is_loopback() {
                "plain http on loopback (behind a reverse proxy)"
            } else {
                "plain http (allow_plain_http)"
            };
            say(format!("transport   ok    {mode}"));
            json!({"ok": true, "https": tls.is_some()})
        }
        Err(e) => {
            healthy = false;
            say(format!("transport   FAIL  [{}] {}", e.code, e.message));
            say(format!("                  hint: {}", e.hint));
            json!({"ok": false, "error": e})
        }
    };

    // The database: reachable, and migrated to this build's schema.
    let url = cfg.database_url.expose().to_string();
    let profile = kinde.profile.name.clone();
    let db = keyward_core::ctx::blocking(move || {
        let pool = pg::pool(&url)?;
        let store = PgStore::with_pool(pool, &url, &profile)?;
        keyward_core::store::Store::schema_version(&store)
    })
    .await;
    let db_json = match &db {
        Ok(v) => {
            say(format!(
                "database    ok    {} (schema {v})",
                cfg.database_url.redacted()
            ));
            json!({"ok": true, "schema": v, "expected": SCHEMA_VERSION})
        }
        Err(e) => {
            healthy = false;
            say(format!("database    FAIL  [{}] {}", e.code, e.message));
            say(format!("                  hint: {}", e.hint));
            json!({"ok": false, "error": e})
        }
    };

    // Kinde: the connection doctor's ladder.
    let report = keyward_core::doctor::check_connection_with(
        &kinde.profile.domain,
        &kinde.profile.client_id,
        &kinde.client_secret,
        keyward_core::kinde::ClientOptions::default(),
    )
    .await;
    for s in &report.steps {
        let mark = match s.status {
            StepStatus::Ok => "ok  ",
            StepStatus::Warn => "WARN",
            StepStatus::Fail => "FAIL",
            StepStatus::Skipped => "skip",
        };
        say(format!("kinde       {mark}  {:<12} {}", s.name, s.detail));
    }
    if !report.healthy {
        healthy = false;
        say(format!("kinde: {}. {}", report.verdict, report.next_action));
    }
    if cli.json {
        println!(
            "{}",
            json!({
                "healthy": healthy,
                "config": {
                    "source": cfg.source,
                    "listen": cfg.listen.to_string(),
                    "sync_interval_secs": cfg.sync_interval.as_secs(),
                    "destinations": cfg.destinations.iter().map(|d| json!({"name": d.name, "kind": d.kind.as_str()})).collect::<Vec<_>>(),
                },
                "transport": transport,
                "database": db_json,
                "kinde": report,
            })
        );
    } else {
        say(if healthy {
            "all checks passed".into()
        } else {
            "some checks failed".into()
        });
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
