//! The analytics retention job, run by `serve`: every table's rows older than its retention are
//! deleted, by default hourly. Several nodes may sweep at once; a delete is idempotent.

use crate::{CoreResult, now_ms};
use keyway_domain::time::UnixMs;
use keyway_store::{AnalyticsStore, AnalyticsTable};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

const DAY_MS: i64 = 86_400_000;

/// How long each analytics table keeps its rows, and how often the job runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsRetention {
    overrides: HashMap<AnalyticsTable, u32>,
    /// Time between the end of one pass and the start of the next.
    pub interval: Duration,
}

impl Default for AnalyticsRetention {
    fn default() -> Self {
        AnalyticsRetention { overrides: HashMap::new(), interval: Duration::from_secs(3600) }
    }
}

impl AnalyticsRetention {
    /// Keeps `table`'s rows `days` days instead of its default.
    pub fn set(&mut self, table: AnalyticsTable, days: u32) {
        self.overrides.insert(table, days);
    }

    pub fn days(&self, table: AnalyticsTable) -> u32 {
        self.overrides.get(&table).copied().unwrap_or_else(|| table.default_retention_days())
    }

    /// One pass over every table at `now`; how many rows were deleted.
    pub async fn sweep(&self, store: &dyn AnalyticsStore, now: UnixMs) -> CoreResult<u64> {
        let mut deleted = 0;
        for table in AnalyticsTable::ALL {
            let cutoff = now.saturating_sub(i64::from(self.days(table)) * DAY_MS);
            deleted += store.delete_before(table, cutoff).await?;
        }
        Ok(deleted)
    }
}

/// Sweeps at once and then every `retention.interval`, until the task is aborted.
pub fn spawn_analytics_retention(store: Arc<dyn AnalyticsStore>, retention: AnalyticsRetention) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match retention.sweep(store.as_ref(), now_ms()).await {
                Ok(0) => {}
                Ok(rows) => tracing::info!(rows, "analytics rows past their retention deleted"),
                Err(e) => tracing::error!(error = %e, "analytics retention sweep failed"),
            }
            tokio::time::sleep(retention.interval).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyway_domain::analytics::Granularity;
    use keyway_store::{RatelimitEvent, StoreResult, VerificationEvent};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(AnalyticsTable, UnixMs)>>);

    #[async_trait::async_trait]
    impl AnalyticsStore for Recorder {
        async fn write_events(&self, _: &[VerificationEvent], _: &[RatelimitEvent]) -> StoreResult<()> {
            unreachable!("the sweep only deletes")
        }
        async fn delete_before(&self, table: AnalyticsTable, cutoff: UnixMs) -> StoreResult<u64> {
            self.0.lock().unwrap().push((table, cutoff));
            Ok(1)
        }
    }

    #[tokio::test]
    async fn sweeps_every_table_at_its_retention() {
        let mut retention = AnalyticsRetention::default();
        let day = AnalyticsTable::Verifications(Some(Granularity::Day));
        retention.set(day, 7);
        let store = Recorder::default();
        let now = 1_000 * DAY_MS;
        assert_eq!(retention.sweep(&store, now).await.unwrap(), 10);
        let calls = store.0.into_inner().unwrap();
        assert_eq!(calls.len(), AnalyticsTable::ALL.len());
        assert!(calls.contains(&(day, now - 7 * DAY_MS)));
        assert!(calls.contains(&(AnalyticsTable::Verifications(None), now - 90 * DAY_MS)));
        assert!(calls.contains(&(AnalyticsTable::Verifications(Some(Granularity::Month)), now - 1095 * DAY_MS)));
    }
}
