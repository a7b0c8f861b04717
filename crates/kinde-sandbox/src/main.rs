//! `kinde-sandbox`: run the Kinde-compatible Management API server from a terminal.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use kinde_sandbox::{ADMIN_CLIENT, Config, READONLY_CLIENT, Seed};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SeedArg {
    Empty,
    Demo,
}

/// A Kinde-compatible Management API server for demos and tests.
#[derive(Debug, Parser)]
#[command(name = "kinde-sandbox", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Starting data: `empty` (fixtures only) or `demo` (a believable business).
    #[arg(long, value_enum, default_value = "demo")]
    seed: SeedArg,
    /// Add N generated keys over generated orgs and users (scale tests).
    #[arg(long, default_value_t = 0)]
    keys: usize,
    /// Requests per minute per client; past it, 429 with RateLimit-Reset.
    #[arg(long)]
    rate_limit: Option<u32>,
    /// Added latency per request in ms (with ±50% jitter).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Extra latency in ms of `GET /api/v1/api_keys/{id}` only (slow details).
    #[arg(long, default_value_t = 0)]
    detail_latency_ms: u64,
    /// Fraction (0..=1) of requests answered 500/503 or dropped.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl: u64,
    /// Simulated key verifications per second.
    #[arg(long, default_value_t = 0.0)]
    traffic: f64,
    /// The M2M app with every scope.
    #[arg(long, default_value = ADMIN_CLIENT.0)]
    client_id: String,
    #[arg(long, default_value = ADMIN_CLIENT.1)]
    client_secret: String,
    /// Another read-only M2M app (besides sandbox_readonly), with only the `read:` scopes.
    #[arg(long, requires = "readonly_client_secret")]
    readonly_client_id: Option<String>,
    #[arg(long, requires = "readonly_client_id")]
    readonly_client_secret: Option<String>,
    /// Serve https with a self-signed certificate for 127.0.0.1 and localhost.
    #[arg(long)]
    tls: bool,
    /// Write the certificate's PEM here (with --tls).
    #[arg(long)]
    cert_out: Option<PathBuf>,
    /// Keep the data in this file across restarts (loaded at start, saved at exit).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Make the generated data and fault dice repeatable.
    #[arg(long)]
    rng_seed: Option<u64>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kinde-sandbox: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if !(0.0..=1.0).contains(&args.fault_rate) {
        anyhow::bail!(
            "--fault-rate must be between 0 and 1, got {}",
            args.fault_rate
        );
    }
    if args.cert_out.is_some() && !args.tls {
        anyhow::bail!("--cert-out needs --tls");
    }
    let config = Config {
        seed: match args.seed {
            SeedArg::Empty => Seed::Empty,
            SeedArg::Demo => Seed::Demo,
        },
        extra_keys: args.keys,
        rate_limit_per_min: args.rate_limit,
        latency_ms: args.latency_ms,
        detail_latency_ms: args.detail_latency_ms,
        fault_rate: args.fault_rate,
        token_ttl_secs: args.token_ttl,
        traffic_per_sec: args.traffic.max(0.0),
        client_id: args.client_id,
        client_secret: args.client_secret,
        rng_seed: args.rng_seed,
        tls: args.tls,
        state_file: args.state.clone(),
        script_step: std::time::Duration::from_secs(30),
        script_after_listings: 1,
    };
    let sb = kinde_sandbox::spawn(args.listen, config).await?;
    if let (Some(id), Some(secret)) = (&args.readonly_client_id, &args.readonly_client_secret) {
        sb.add_client(id, secret, &kinde_sandbox::read_scopes());
        println!("read-only app: {id} / {secret}");
    }
    if let (Some(path), Some(pem)) = (&args.cert_out, sb.cert_pem()) {
        std::fs::write(path, pem).with_context(|| format!("writing {}", path.display()))?;
        println!("certificate PEM written to {}", path.display());
    }
    println!("listening on {}", sb.base_url());
    println!("audience:      {}", sb.audience());
    println!("client id:     {}", sb.client_id());
    println!("client secret: {}", sb.client_secret());
    println!(
        "read-only app: {} / {}",
        READONLY_CLIENT.0, READONLY_CLIENT.1
    );
    if let Some(path) = &args.state {
        println!("state file:    {}", path.display());
    }
    wait_for_signal().await?;
    println!("shutting down");
    sb.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}
