//! `keyward profile add|list|update|remove|test`: the connection profiles.

use clap::Subcommand;
use keyward_core::Result;
use keyward_core::config::Environment;
use keyward_core::profiles::{ProfileInput, ProfileUpdate, SecretSource};
use keyward_core::secret::Secret;

use keyward_core::profiles;

use super::doctor::print_report;
use crate::app::{App, read_stdin_secret};
use crate::output::{Table, errln, outln};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, list, remove and test connection profiles.
    #[command(subcommand)]
    Profile(ProfileCmd),
}

#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Add a profile: a Kinde business (--domain, --client-id; the client secret goes to the OS
    /// keyring, never to a file), or a team's Keyward Server (--server URL --token-stdin; your
    /// personal access token goes to the OS keyring).
    Add {
        /// A short name, e.g. `prod`.
        name: String,
        /// Your Kinde domain: `mybiz.kinde.com` or `https://mybiz.kinde.com`.
        #[arg(long, required_unless_present = "server", conflicts_with = "server")]
        domain: Option<String>,
        /// The Client ID of your machine-to-machine app.
        #[arg(long, required_unless_present = "server", conflicts_with = "server")]
        client_id: Option<String>,
        /// Read the Client secret from standard input and store it in the OS keyring.
        #[arg(long, conflicts_with = "server")]
        client_secret_stdin: bool,
        /// A team profile: the Keyward Server's address (`https://keyward.example.com`;
        /// http only on this machine's loopback).
        #[arg(long)]
        server: Option<String>,
        /// Read your personal access token (kwp_…, from `keyward-server member add`) from
        /// standard input and store it in the OS keyring.
        #[arg(long, requires = "server")]
        token_stdin: bool,
        /// Do not check the token with the server before saving the profile.
        #[arg(long, requires = "server")]
        no_check: bool,
        /// production, staging, development or demo (the app colours its badge by it).
        #[arg(long, default_value = "production")]
        environment: String,
    },
    /// List profiles.
    List,
    /// Edit a profile in one step: its domain, client id, environment and, with
    /// --secret-stdin, its client secret (to the OS keyring). What is not given stays.
    Update {
        name: String,
        /// Your Kinde domain: `mybiz.kinde.com` or `https://mybiz.kinde.com`.
        #[arg(long)]
        domain: Option<String>,
        /// The Client ID of your machine-to-machine app.
        #[arg(long)]
        client_id: Option<String>,
        /// production, staging, development or demo.
        #[arg(long)]
        environment: Option<String>,
        /// Read a new Client secret from standard input and store it in the OS keyring.
        #[arg(long)]
        secret_stdin: bool,
    },
    /// Remove a profile and its keyring entry (the local database is kept).
    Remove { name: String },
    /// Test the selected profile's connection (the connection doctor).
    Test,
}

pub async fn run(cmd: Command, app: &App) -> Result<i32> {
    let Command::Profile(cmd) = cmd;
    match cmd {
        ProfileCmd::Add {
            name,
            server: Some(server),
            token_stdin,
            no_check,
            environment,
            ..
        } => {
            let environment: Environment = environment.parse()?;
            keyward_core::config::Profile::team(&name, &server, environment)?;
            // Without --token-stdin, KEYWARD_TOKEN is used and never stored.
            let token = if token_stdin {
                Some(Secret::new(read_stdin_secret("personal access token")?))
            } else {
                None
            };
            let (added, me) = profiles::add_team(
                &app.ctx,
                &name,
                &server,
                token,
                Some(environment),
                !no_check,
            )
            .await?;
            let out = serde_json::json!({ "profile": added, "member": me });
            app.emit(&out, |_| {
                let p = &added.info.profile;
                let where_ = match added.secret {
                    SecretSource::Keyring => "token stored in the OS keyring",
                    _ => "token taken from KEYWARD_TOKEN (not stored)",
                };
                match &me {
                    Some(m) => outln!(
                        "Added team profile {} on {} as {} ({}); {where_}.",
                        p.name,
                        p.server.as_deref().unwrap_or_default(),
                        m.name,
                        m.role
                    ),
                    None => outln!(
                        "Added team profile {} on {}; {where_}.",
                        p.name,
                        p.server.as_deref().unwrap_or_default()
                    ),
                }
                if let Some(w) = &added.warning {
                    errln!("warning: {w}");
                }
            })?;
            Ok(0)
        }
        ProfileCmd::Add {
            name,
            domain,
            client_id,
            client_secret_stdin,
            environment,
            ..
        } => {
            let environment: Environment = environment.parse()?;
            let input = ProfileInput {
                name,
                domain: domain.unwrap_or_default(),
                client_id: client_id.unwrap_or_default(),
                environment: Some(environment),
            };
            // Check the fields before asking for a secret.
            keyward_core::config::Profile::new(
                &input.name,
                &input.domain,
                &input.client_id,
                environment,
            )?;
            let secret = if client_secret_stdin {
                Some(Secret::new(read_stdin_secret("client secret")?))
            } else {
                None
            };
            let added = profiles::add(&app.ctx, input, secret).await?;
            app.emit(&added, |a| {
                let p = &a.info.profile;
                let where_ = match a.secret {
                    SecretSource::Keyring => "secret stored in the OS keyring",
                    SecretSource::Env => "secret taken from KEYWARD_CLIENT_SECRET (not stored)",
                    SecretSource::Missing => "no secret stored",
                };
                outln!(
                    "Added profile {} ({}, {}): {where_}.",
                    p.name,
                    p.domain,
                    p.environment.as_str()
                );
                if let Some(w) = &a.warning {
                    errln!("warning: {w}");
                }
                errln!("Check it with: keyward --profile {} profile test", p.name);
            })?;
            Ok(0)
        }
        ProfileCmd::List => {
            let list = profiles::list(&app.ctx).await?;
            app.emit(&list, |list| {
                if list.is_empty() {
                    errln!("No profiles yet. Add one with `keyward profile add NAME --domain mybiz.kinde.com --client-id ID --client-secret-stdin`.");
                    return;
                }
                let mut t = Table::new(&["", "NAME", "DOMAIN", "CLIENT ID", "ENVIRONMENT", "DEFAULT"]);
                for p in list {
                    t.row(vec![
                        if p.selected { "*" } else { "" }.into(),
                        p.profile.name.clone(),
                        match &p.profile.server {
                            Some(s) => format!("team: {s}"),
                            None => p.profile.domain.clone(),
                        },
                        p.profile.client_id.clone(),
                        p.profile.environment.as_str().into(),
                        if p.is_default { "yes" } else { "" }.into(),
                    ]);
                }
                t.print();
            })?;
            Ok(0)
        }
        ProfileCmd::Update {
            name,
            domain,
            client_id,
            environment,
            secret_stdin,
        } => {
            let environment: Option<Environment> = match environment {
                Some(e) => Some(e.parse()?),
                None => None,
            };
            let client_secret = if secret_stdin {
                Some(Secret::new(read_stdin_secret("client secret")?))
            } else {
                None
            };
            let upd = ProfileUpdate {
                domain,
                client_id,
                environment,
                client_secret,
            };
            let info = profiles::update(&app.ctx, &name, upd).await?;
            app.emit(&info, |i| {
                let p = &i.profile;
                outln!(
                    "Updated profile {} ({}, {}){}.",
                    p.name,
                    p.domain,
                    p.client_id,
                    if i.is_default { ", the default" } else { "" }
                );
            })?;
            Ok(0)
        }
        ProfileCmd::Remove { name } => {
            let removed = profiles::remove(&app.ctx, &name).await?;
            app.emit(&removed, |r| {
                outln!("Removed profile {}.", r.name);
                if let Some(to) = &r.archived_to {
                    outln!(
                        "Its local data (cached keys, history, alerts, audit log) was moved to {to}; \
                         a profile added again as {} starts empty.",
                        r.name
                    );
                }
                if let Some(w) = &r.warning {
                    errln!("warning: {w}");
                }
            })?;
            Ok(0)
        }
        ProfileCmd::Test => {
            let report = profiles::test(&app.ctx, None).await?;
            app.emit(&report, print_report)?;
            Ok(if report.healthy { 0 } else { 1 })
        }
    }
}
