use crate::{SqliteStore, db};
use async_trait::async_trait;
use keyway_domain::key_material::KeyHash;
use keyway_store::{HashCursor, HashEntry, HashIndexStore, HashSource, StoreResult};
use sqlx::Row;

#[async_trait]
impl HashIndexStore for SqliteStore {
    async fn hashes_after(&self, source: HashSource, after: &HashCursor, limit: usize) -> StoreResult<Vec<HashEntry>> {
        let table = match source {
            HashSource::Keys => "keys",
            HashSource::RootKeys => "root_keys",
        };
        let rows = sqlx::query(&format!(
            "SELECT created_at, id, hash FROM {table}
             WHERE (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?"
        ))
        .bind(after.created_at)
        .bind(&after.id)
        .bind(limit as i64)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(HashEntry {
                    created_at: r.try_get("created_at").map_err(db)?,
                    id: r.try_get("id").map_err(db)?,
                    hash: KeyHash::from_stored(r.try_get::<String, _>("hash").map_err(db)?),
                })
            })
            .collect()
    }
}
