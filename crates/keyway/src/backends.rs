//! Chooses the storage backend from the database URL, once, at start-up.

use anyhow::{Context, bail};
use keyway_store::{AnalyticsStore, Store};
use keyway_store_postgres::{DEFAULT_ANALYTICS_SCHEMA, PostgresAnalytics, PostgresStore};
use keyway_store_sqlite::{SqliteAnalytics, SqliteStore};
use std::sync::Arc;

// The database every command that opens one takes (no doc comment: clap would make it the
// help text of the commands that flatten it).
#[derive(Debug, clap::Args)]
pub struct DatabaseArg {
    /// `sqlite://PATH` (embedded, the default) or `postgres://…`.
    #[arg(long = "database", env = "KEYWAY_DATABASE_URL", default_value = "sqlite://keyway.db")]
    pub url: String,
}

/// Connects to the database named by `url` and applies its migrations.
pub async fn open(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let shown = redacted(url);
    if url.starts_with("sqlite:") {
        let store = SqliteStore::connect(url).await.with_context(|| format!("cannot open {shown}"))?;
        store.migrate().await.with_context(|| format!("cannot migrate {shown}"))?;
        Ok(Arc::new(store))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PostgresStore::connect(url).await.with_context(|| format!("cannot connect to {shown}"))?;
        store.migrate().await.with_context(|| format!("cannot migrate {shown}"))?;
        Ok(Arc::new(store))
    } else {
        bail!("unsupported database URL {shown}: use sqlite://PATH or postgres://…")
    }
}

/// Opens and migrates the analytics store that goes with the database at `url`: a SQLite file
/// beside the main one, or the `analytics` schema of the PostgreSQL database.
pub async fn open_analytics(url: &str) -> anyhow::Result<Arc<dyn AnalyticsStore>> {
    let shown = redacted(url);
    if url.starts_with("sqlite:") {
        SqliteAnalytics::open_store(url).await.with_context(|| format!("cannot open the analytics beside {shown}"))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        PostgresAnalytics::open_store(url, DEFAULT_ANALYTICS_SCHEMA)
            .await
            .with_context(|| format!("cannot open the analytics schema of {shown}"))
    } else {
        bail!("unsupported database URL {shown}: use sqlite://PATH or postgres://…")
    }
}

/// The URL without its password, for messages.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redacted("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redacted("sqlite://keyway.db"), "sqlite://keyway.db");
    }
}
