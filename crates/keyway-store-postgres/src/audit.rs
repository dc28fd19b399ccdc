//! The audit log's writer, for statements that write in a transaction of their own making.

use keyway_store::{AuditEvent, StoreResult};
use sqlx::{PgConnection, Postgres};

/// Appends `events` in order, in the caller's transaction.
pub(crate) async fn write(conn: &mut PgConnection, events: &[AuditEvent]) -> StoreResult<()> {
    keyway_store_sql::audit::insert::<Postgres>(conn, events).await
}
