//! Where this adapter's RBAC statements find a key.

use crate::PostgresStore;
use keyway_store::{Key, StoreResult};
use sqlx::PgConnection;

/// A live key of the workspace; `lock` takes its row lock for a read-modify-write.
pub(crate) async fn live_key(
    conn: &mut PgConnection,
    workspace_id: &str,
    key_id: &str,
    lock: bool,
) -> StoreResult<Option<Key>> {
    keyway_store_sql::keys::live_key::<PostgresStore>(conn, workspace_id, key_id, lock).await
}
