use crate::args::seconds;
use crate::backends::DatabaseArg;
use crate::vault::MasterKeyArg;
use crate::{analytics_seed, audit, backends, revoke, serve, vault};
use anyhow::Context;
use clap::{Parser, Subcommand};
use keyway_core::{AnalyticsRetention, ExpirySweep, Keyway, KeywayConfig, Running};
use keyway_domain::expiry::Retention;
use keyway_domain::ip_allowlist::IpRanges;
use keyway_domain::key_material::KeyFormat;
use keyway_domain::migration::MigrationAlgorithm;
use keyway_http::{ConnectionLimits, HttpConfig};
use keyway_limits::Ports;
use keyway_store::AnalyticsTable;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "keyway", version, about = "API key management, wire-compatible with Unkey's v2 API")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
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
        /// Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed, comma
        /// separated. None by default: the client is the socket's peer.
        #[arg(long, env = "KEYWAY_TRUSTED_PROXIES", value_delimiter = ',')]
        trusted_proxies: Vec<String>,
        /// Days an expired key is kept (verifying as EXPIRED, listed) before it is deleted.
        #[arg(long, env = "KEYWAY_EXPIRED_KEY_RETENTION_DAYS", default_value_t = Retention::DEFAULT.as_days())]
        expired_key_retention_days: u32,
        /// Seconds between two sweeps for keys past that retention.
        #[arg(long, env = "KEYWAY_EXPIRED_KEY_SWEEP_SECONDS", default_value_t = 60,
              value_parser = clap::value_parser!(u64).range(1..))]
        expired_key_sweep_seconds: u64,
        /// Days analytics tables keep their rows, as TABLE=DAYS pairs with the public table names,
        /// comma separated (e.g. `key_verifications_v1=30,ratelimits_v1=7`). Other tables keep
        /// the reference's defaults; rows past it are deleted hourly.
        #[arg(long, env = "KEYWAY_ANALYTICS_RETENTION", value_delimiter = ',', value_parser = table_days)]
        analytics_retention: Vec<(AnalyticsTable, u32)>,
        #[command(flatten)]
        connections: ConnectionArgs,
        /// This node's region, recorded in every verification event (`region`); empty by default.
        #[arg(long, env = "KEYWAY_REGION", default_value = "")]
        region: String,
        /// Record verification and rate-limit events (`off` keeps last-used times only).
        #[arg(long, env = "KEYWAY_ANALYTICS", value_enum, default_value_t = Switch::On)]
        analytics: Switch,
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
    /// Change an API's Keyway settings. Safe while a server runs on the same database; that
    /// server sees the change within its cache lifetime (10 s).
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
    /// The analytics store (verification and rate-limit events).
    Analytics {
        #[command(subcommand)]
        command: AnalyticsCommand,
    },
    /// Print a workspace's audit log as JSON lines, newest first (`--follow`: oldest first, then
    /// new events as they are written). Safe while a server runs on the same database.
    Audit(audit::AuditArgs),
}

#[derive(Debug, Subcommand)]
enum AnalyticsCommand {
    /// Fill the analytics store with generated verification events, with progress, and print
    /// `{"events": …, "seconds": …, "eventsPerSecond": …}`.
    Seed {
        #[command(flatten)]
        seed: analytics_seed::SeedArgs,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Switch {
    On,
    Off,
}

/// Limits on slow, stalled and too many clients.
#[derive(Debug, clap::Args)]
struct ConnectionArgs {
    /// Seconds a connection gets to send a complete request head, counted from when it opens and
    /// from each answer on a keep-alive connection (so it also closes idle keep-alive connections).
    #[arg(long, env = "KEYWAY_HEADER_TIMEOUT", default_value = "10", value_parser = seconds)]
    header_timeout: Duration,
    /// Seconds a request gets to send its whole body once its head is in; then 408.
    #[arg(long, env = "KEYWAY_BODY_TIMEOUT", default_value = "30", value_parser = seconds)]
    body_timeout: Duration,
    /// Connections open at once; more wait in the listen backlog. Keep it below the process's
    /// file-descriptor limit (`ulimit -n`).
    #[arg(long, env = "KEYWAY_MAX_CONNECTIONS", default_value = "10000", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
}

impl ConnectionArgs {
    fn limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            max_connections: self.max_connections as usize,
        }
    }
}

/// `TABLE=DAYS`: a public analytics table name and a number of days above 0.
fn table_days(value: &str) -> Result<(AnalyticsTable, u32), String> {
    let (name, days) = value.split_once('=').ok_or_else(|| format!("'{value}' is not TABLE=DAYS"))?;
    let table = AnalyticsTable::from_public_name(name.trim()).ok_or_else(|| {
        let names: Vec<&str> = AnalyticsTable::ALL.iter().map(|t| t.public_name()).collect();
        format!("'{name}' is not an analytics table; one of {}", names.join(", "))
    })?;
    match days.trim().parse::<u32>() {
        Ok(days) if days > 0 => Ok((table, days)),
        _ => Err(format!("'{days}' is not a number of days above 0")),
    }
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
    /// Set or clear the API's IP allowlist and print `{"apiId": …, "ipAllowlist": […]}`. Keys of
    /// an API with an allowlist verify as FORBIDDEN from any other client address.
    Allowlist {
        /// The API's id (`api_…`), in any workspace.
        #[arg(long = "api")]
        api_id: String,
        /// Addresses and CIDR ranges (IPv4 or IPv6), e.g. `10.0.0.0/8 2001:db8::/32 203.0.113.7`.
        #[arg(long, num_args = 1.., value_delimiter = ',', required_unless_present = "clear", conflicts_with = "clear")]
        set: Vec<String>,
        /// Remove the allowlist: any client address may use the keys.
        #[arg(long)]
        clear: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Choose the format of the API's new keys and print `{"apiId": …, "keyFormat": …}`. Keys
    /// issued before keep working.
    KeyFormat {
        /// The API's id (`api_…`), in any workspace.
        #[arg(long = "api")]
        api_id: String,
        #[arg(value_parser = ["plain", "checksummed"])]
        format: String,
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

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            listen,
            database,
            master_key,
            trusted_proxies,
            expired_key_retention_days,
            expired_key_sweep_seconds,
            analytics_retention,
            connections,
            region,
            analytics,
        } => {
            let trusted_proxies = IpRanges::parse(&trusted_proxies).context("--trusted-proxies")?;
            let http = HttpConfig { trusted_proxies, connections: connections.limits() };
            let sweep = ExpirySweep {
                retention: Retention::days(expired_key_retention_days),
                interval: Duration::from_secs(expired_key_sweep_seconds),
            };
            let mut retention = AnalyticsRetention::default();
            for (table, days) in analytics_retention {
                retention.set(table, days);
            }
            let capture = serve::Capture { record: analytics == Switch::On, region };
            serve::run(listen, &database.url, &master_key, http, sweep, retention, capture).await
        }
        Command::Migrate { database } => {
            backends::open(&database.url).await?;
            eprintln!("keyway: migrations applied to {}", backends::redacted(&database.url));
            Ok(())
        }
        Command::Workspace { command: WorkspaceCommand::Create { name, database } } => {
            let (keyway, running) = open(&database).await?;
            let created = keyway.create_workspace(&name).await.context("creating the workspace");
            finish(keyway, running).await;
            let created = created?;
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
        Command::Analytics { command: AnalyticsCommand::Seed { seed, database } } => {
            let store = backends::open_analytics(&database.url).await?;
            analytics_seed::run(store.as_ref(), seed).await
        }
        Command::Audit(args) => audit::run(args).await,
        Command::Migration { command: MigrationCommand::Create { workspace, algorithm, database } } => {
            let (keyway, running) = open(&database).await?;
            let created = keyway.create_migration_as_operator(&workspace, algorithm).await;
            finish(keyway, running).await;
            let migration_id = created.context("creating the migration")?;
            println!("{}", serde_json::json!({ "migrationId": migration_id, "algorithm": algorithm.as_str() }));
            Ok(())
        }
        Command::Api { command: ApiCommand::Allowlist { api_id, set, clear: _, database } } => {
            let (keyway, running) = open(&database).await?;
            let stored = keyway.operator_set_ip_allowlist(&api_id, &set).await;
            finish(keyway, running).await;
            let stored = stored.with_context(|| format!("setting the IP allowlist of {api_id}"))?;
            println!("{}", serde_json::json!({ "apiId": api_id, "ipAllowlist": stored.entries() }));
            Ok(())
        }
        Command::Api { command: ApiCommand::KeyFormat { api_id, format, database } } => {
            let key_format = KeyFormat::parse(&format).context("unknown key format")?;
            let (keyway, running) = open(&database).await?;
            let done = keyway.operator_set_key_format(&api_id, key_format).await;
            finish(keyway, running).await;
            done.with_context(|| format!("setting the key format of {api_id}"))?;
            println!("{}", serde_json::json!({ "apiId": api_id, "keyFormat": key_format.as_str() }));
            Ok(())
        }
    }
}

/// The service for a one-shot operator command on `database`.
async fn open(database: &DatabaseArg) -> anyhow::Result<(Arc<Keyway>, Running)> {
    let store = backends::open(&database.url).await?;
    Keyway::start(store.clone(), Ports::local(store), None, KeywayConfig::default()).await.context("loading key hashes")
}

/// Lets the command's queued writes reach the database before the process exits.
async fn finish(keyway: Arc<Keyway>, running: Running) {
    drop(keyway);
    running.flush().await;
}
