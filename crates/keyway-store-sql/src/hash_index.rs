//! The hash index's source: every stored hash, in creation order.

use crate::rows::{get, limit_param};
use crate::sql::{Backend, Bind, Run};
use keyway_domain::key_material::KeyHash;
use keyway_store::{HashCursor, HashEntry, HashSource, StoreResult};

pub async fn hashes_after<B: Backend>(
    b: &B,
    source: HashSource,
    after: &HashCursor,
    limit: usize,
) -> StoreResult<Vec<HashEntry>> {
    let table = match source {
        HashSource::Keys => "keys",
        HashSource::RootKeys => "root_keys",
    };
    let rows = sqlx::query::<B::Db>(&format!(
        "SELECT created_at, id, hash FROM {table} WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3"
    ))
    .arg(after.created_at)
    .arg(&after.id)
    .arg(limit_param(limit))
    .all(&mut *b.read_conn().await?)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(HashEntry {
                created_at: get(r, "created_at")?,
                id: get(r, "id")?,
                hash: KeyHash::from_stored(get::<String>(r, "hash")?),
            })
        })
        .collect()
}

/// `HashIndexStore` for a [`Backend`].
#[macro_export]
macro_rules! hash_index_store {
    ($store:ty) => {
        const _: () = {
            use $crate::reexport::keyway_store::{HashCursor, HashEntry, HashIndexStore, HashSource, StoreResult};
            #[$crate::reexport::async_trait]
            impl HashIndexStore for $store {
                async fn hashes_after(
                    &self,
                    source: HashSource,
                    after: &HashCursor,
                    limit: usize,
                ) -> StoreResult<Vec<HashEntry>> {
                    $crate::hash_index::hashes_after(self, source, after, limit).await
                }
            }
        };
    };
}
