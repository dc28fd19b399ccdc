use crate::vault::MasterKeyArg;
use crate::{backends, revoke, serve, vault};
use anyhow::Context;
use clap::{Parser, Subcommand};
use keyway_core::{Keyway, KeywayConfig, Running};
use keyway_domain::migration::MigrationAlgorithm;
use std::net::SocketAddr;

#[derive(Debug, Parser)]
#[command(name = "keyway", version, about = "API key management, wire-compatible with Unkey's v2 API")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
pub struct DatabaseArg {
    /// `sqlite://PATH` (embedded, the default) or `postgres://…`.
    #[arg(long = "database", env = "KEYWAY_DATABASE_URL", default_value = "sqlite://keyway.db")]
    pub url: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API. The first root key comes from KEYWAY_ROOT_KEY, or is generated and
    /// printed once when the database has none.
    Serve {
        #[arg(long, env = "KEYWAY_LISTEN", default_value = "127.0.0.1:7070")]
        listen: SocketAddr,
        #[command(flatten)]
        database: DatabaseArg,
        #[command(flatten)]
        master_key: MasterKeyArg,
    },
    /// Apply the database migrations and exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Manage workspaces.
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Settings of APIs that Unkey's API cannot change.
    Api {
        #[command(subcommand)]
        command: ApiCommand,
    },
    /// The master key that encrypts recoverable keys.
    MasterKey {
        #[command(subcommand)]
        command: MasterKeyCommand,
    },
    /// Act on customers' keys.
    Keys {
        #[command(subcommand)]
        command: revoke::KeysCommand,
    },
    /// Manage migrations of keys imported by hash (`keys.migrateKeys`).
    Migration {
        #[command(subcommand)]
        command: MigrationCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ApiCommand {
    /// Allow (or stop) creating recoverable keys in an API, and reading them back with `decrypt`.
    /// Prints `{"apiId": …, "recoverable": …}`.
    Recoverable {
        #[arg(long = "api")]
        api_id: String,
        #[arg(long, conflicts_with = "disable", required_unless_present = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Debug, Subcommand)]
enum MasterKeyCommand {
    /// Print a new random master key (base64 of 32 bytes).
    Generate,
    /// Rewrap every data key under a new master key. The current key comes from the usual
    /// configuration. Safe to rerun after an interruption; restart servers with the new key after.
    Rotate {
        /// The file holding the new master key.
        #[arg(long)]
        new_key_file: std::path::PathBuf,
        #[command(flatten)]
        database: DatabaseArg,
        #[command(flatten)]
        master_key: MasterKeyArg,
    },
}

#[derive(Debug, Subcommand)]
enum MigrationCommand {
    /// Create a migration and print `{"migrationId": …, "algorithm": …}`. Safe while a server runs
    /// on the same database.
    Create {
        #[arg(long)]
        workspace: String,
        /// sha256, github.com/seamapi/prefixed-api-key, bcrypt or argon2.
        #[arg(long)]
        algorithm: MigrationAlgorithm,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Debug, Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace and print `{"workspaceId": …, "rootKey": …}`: a root key with every
    /// permission in it. Safe while a server runs on the same database.
    Create {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

/// The service on `url` for one command; drop the `Keyway` and flush `Running` before exiting.
async fn start(url: &str) -> anyhow::Result<(std::sync::Arc<Keyway>, Running)> {
    let store = backends::open(url).await?;
    Keyway::start(store, KeywayConfig::default()).await.context("loading key hashes")
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { listen, database, master_key } => serve::run(listen, &database.url, &master_key).await,
        Command::Migrate { database } => {
            backends::open(&database.url).await?;
            eprintln!("keyway: migrations applied to {}", backends::redacted(&database.url));
            Ok(())
        }
        Command::Workspace { command: WorkspaceCommand::Create { name, database } } => {
            let (keyway, running) = start(&database.url).await?;
            let created = keyway.create_workspace(&name).await.context("creating the workspace")?;
            drop(keyway);
            running.flush().await;
            let out = serde_json::json!({ "workspaceId": created.workspace_id, "rootKey": created.root_key.expose() });
            println!("{out}");
            Ok(())
        }
        Command::Api { command: ApiCommand::Recoverable { api_id, enable, disable: _, database } } => {
            vault::set_api_recoverable(&database.url, &api_id, enable).await
        }
        Command::MasterKey { command: MasterKeyCommand::Generate } => {
            vault::generate();
            Ok(())
        }
        Command::MasterKey { command: MasterKeyCommand::Rotate { new_key_file, database, master_key } } => {
            vault::rotate(&database.url, &master_key, &new_key_file).await
        }
        Command::Keys { command } => revoke::run(command).await,
        Command::Migration { command: MigrationCommand::Create { workspace, algorithm, database } } => {
            let (keyway, running) = start(&database.url).await?;
            let migration_id =
                keyway.create_migration_as_operator(&workspace, algorithm).await.context("creating the migration")?;
            drop(keyway);
            running.flush().await;
            println!("{}", serde_json::json!({ "migrationId": migration_id, "algorithm": algorithm.as_str() }));
            Ok(())
        }
    }
}
