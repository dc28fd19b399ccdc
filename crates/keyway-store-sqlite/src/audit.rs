use crate::rows::{audit_event, limit_param, to_json};
use crate::{SqliteStore, Tx, db};
use async_trait::async_trait;
use keyway_store::{AuditEvent, AuditStore, StoreResult};

pub(crate) async fn insert(tx: &mut Tx, events: &[AuditEvent]) -> StoreResult<()> {
    for e in events {
        sqlx::query(
            "INSERT INTO audit_log (id, workspace_id, event, description, actor, targets, time, request_id)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.id)
        .bind(&e.workspace_id)
        .bind(&e.event)
        .bind(&e.description)
        .bind(to_json(&e.actor)?)
        .bind(to_json(&e.targets)?)
        .bind(e.time)
        .bind(&e.request_id)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn list_audit_events(&self, workspace_id: &str, limit: usize) -> StoreResult<Vec<AuditEvent>> {
        let rows = sqlx::query(
            "SELECT id, workspace_id, event, description, actor, targets, time, request_id
             FROM audit_log WHERE workspace_id = ? ORDER BY seq LIMIT ?",
        )
        .bind(workspace_id)
        .bind(limit_param(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter().map(audit_event).collect()
    }
}
