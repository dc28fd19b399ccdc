//! Last-used times, flushed in batches by core.

use crate::sql::Backend;
use keyway_domain::time::UnixMs;
use keyway_store::StoreResult;
use std::collections::BTreeMap;

/// Records a batch of last-used times in `table`: each id once, at its latest time, in id order
/// (the order spend batches lock rows in, so the two cannot deadlock).
pub async fn record_usage<B: Backend>(b: &B, table: &'static str, usage: &[(String, UnixMs)]) -> StoreResult<()> {
    let mut latest: BTreeMap<&str, UnixMs> = BTreeMap::new();
    for (id, at) in usage {
        let entry = latest.entry(id.as_str()).or_insert(*at);
        *entry = (*entry).max(*at);
    }
    if latest.is_empty() {
        return Ok(());
    }
    let latest: Vec<(&str, UnixMs)> = latest.into_iter().collect();
    b.record_usage(table, &latest).await
}
