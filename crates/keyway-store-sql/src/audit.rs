//! The audit log: written by every mutation inside its own transaction, read oldest first.

use crate::rows::{AUDIT_COLUMNS, audit_event, limit_param, to_json};
use crate::sql::{Backend, Bind, Run, Sql};
use keyway_store::{AuditEvent, StoreResult};
use sqlx::Transaction;
use std::fmt::Write;

/// Appends `events` in order, in the caller's transaction, as one statement.
pub async fn insert<DB: Sql>(c: &mut DB::Connection, events: &[AuditEvent]) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut statement = format!("INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ");
    for n in 0..events.len() {
        let p = n * 8;
        let sep = if n == 0 { "" } else { ", " };
        let _ = write!(
            statement,
            "{sep}(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5,
            p + 6,
            p + 7,
            p + 8
        );
    }
    let mut query = sqlx::query::<DB>(&statement);
    for e in events {
        query = query
            .arg(&e.id)
            .arg(&e.workspace_id)
            .arg(&e.event)
            .arg(&e.description)
            .arg(to_json(&e.actor)?)
            .arg(to_json(&e.targets)?)
            .arg(e.time)
            .arg(&e.request_id);
    }
    query.run(c).await?;
    Ok(())
}

/// Writes a mutation's audit events and commits it with them.
pub async fn commit<DB: Sql>(mut tx: Transaction<'static, DB>, events: &[AuditEvent]) -> StoreResult<()> {
    insert::<DB>(&mut tx, events).await?;
    tx.commit().await.map_err(crate::db)
}

/// Commits a mutation that changed `changed` rows with its audit events; one that changed none
/// is rolled back (nothing to audit) and reported as `false`.
pub async fn commit_if_changed<DB: Sql>(
    tx: Transaction<'static, DB>,
    changed: u64,
    events: &[AuditEvent],
) -> StoreResult<bool> {
    if changed == 0 {
        return Ok(false);
    }
    commit(tx, events).await?;
    Ok(true)
}

pub async fn list_audit_events<B: Backend>(b: &B, workspace_id: &str, limit: usize) -> StoreResult<Vec<AuditEvent>> {
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE workspace_id = $1 ORDER BY seq LIMIT $2"
    ))
    .arg(workspace_id)
    .arg(limit_param(limit))
    .all(&mut *b.read_conn().await?)
    .await?;
    found.iter().map(audit_event).collect()
}

/// `AuditStore` for a [`Backend`].
#[macro_export]
macro_rules! audit_store {
    ($store:ty) => {
        const _: () = {
            use $crate::reexport::keyway_store::{AuditEvent, AuditStore, StoreResult};
            #[$crate::reexport::async_trait]
            impl AuditStore for $store {
                async fn list_audit_events(&self, workspace_id: &str, limit: usize) -> StoreResult<Vec<AuditEvent>> {
                    $crate::audit::list_audit_events(self, workspace_id, limit).await
                }
            }
        };
    };
}
