//! `keyward apis|orgs|users [list] [--search TEXT]`: the directory of APIs, organizations and
//! users that keys belong to.

use clap::{Args, Subcommand};
use keyward_core::{Result, directory};

use crate::app::App;
use crate::output::{Table, opt};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The APIs registered in Kinde, with their scopes.
    Apis(DirArgs),
    /// Organizations (owners of organization keys).
    Orgs(DirArgs),
    /// Users (owners of user keys).
    Users(DirArgs),
}

pub async fn run(cmd: Command, app: &App) -> Result<i32> {
    match cmd {
        Command::Apis(a) => apis(a, app).await,
        Command::Orgs(a) => orgs(a, app).await,
        Command::Users(a) => users(a, app).await,
    }
}

#[derive(Debug, Args)]
pub struct DirArgs {
    #[command(subcommand)]
    cmd: Option<DirCmd>,
    /// Case-insensitive search (APIs: id, name and audience; orgs: code and name; users: id,
    /// email and names).
    #[arg(long, value_name = "TEXT")]
    search: Option<String>,
}

#[derive(Debug, Subcommand)]
enum DirCmd {
    /// List them (the default).
    List {
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
    },
}

impl DirArgs {
    fn search(self) -> Option<String> {
        let inner = match self.cmd {
            Some(DirCmd::List { search }) => search,
            None => None,
        };
        inner.or(self.search).filter(|s| !s.trim().is_empty())
    }
}

async fn apis(args: DirArgs, app: &App) -> Result<i32> {
    let list = directory::apis_matching(&app.ctx, args.search().as_deref()).await?;
    app.emit(&list, |list| {
        let mut t = Table::new(&["ID", "NAME", "AUDIENCE", "SCOPES"]);
        for a in list {
            let scopes: Vec<String> = a
                .scopes
                .iter()
                .map(|s| format!("{} ({})", s.key, s.id))
                .collect();
            t.row(vec![
                a.id.clone(),
                a.name.clone(),
                a.audience.clone(),
                scopes.join(", "),
            ]);
        }
        t.print();
    })?;
    Ok(0)
}

async fn orgs(args: DirArgs, app: &App) -> Result<i32> {
    let list = directory::orgs(&app.ctx, args.search().as_deref()).await?;
    app.emit(&list, |list| {
        let mut t = Table::new(&["CODE", "NAME"]);
        for o in list {
            t.row(vec![o.code.clone(), o.name.clone()]);
        }
        t.print();
    })?;
    Ok(0)
}

async fn users(args: DirArgs, app: &App) -> Result<i32> {
    let list = directory::users(&app.ctx, args.search().as_deref()).await?;
    app.emit(&list, |list| {
        let mut t = Table::new(&["ID", "NAME", "EMAIL"]);
        for u in list {
            t.row(vec![
                u.id.clone(),
                u.display_name(),
                opt(u.email.as_deref()),
            ]);
        }
        t.print();
    })?;
    Ok(0)
}
