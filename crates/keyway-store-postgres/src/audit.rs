//! The audit log: written by every mutation inside its own transaction, read oldest first.

use crate::rows::{self, AUDIT_COLUMNS};
use crate::{PostgresStore, db_err};
use async_trait::async_trait;
use keyway_store::{AuditEvent, AuditStore, StoreResult};
use sqlx::PgConnection;

/// Appends `events` in order, in the caller's transaction, as one statement.
pub(crate) async fn write(conn: &mut PgConnection, events: &[AuditEvent]) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(events.len());
    let mut workspaces = Vec::with_capacity(events.len());
    let mut names = Vec::with_capacity(events.len());
    let mut descriptions = Vec::with_capacity(events.len());
    let mut actors = Vec::with_capacity(events.len());
    let mut targets = Vec::with_capacity(events.len());
    let mut times = Vec::with_capacity(events.len());
    let mut request_ids = Vec::with_capacity(events.len());
    for e in events {
        ids.push(e.id.as_str());
        workspaces.push(e.workspace_id.as_str());
        names.push(e.event.as_str());
        descriptions.push(e.description.as_str());
        actors.push(rows::to_json(&e.actor)?);
        targets.push(rows::to_json(&e.targets)?);
        times.push(e.time);
        request_ids.push(e.request_id.as_str());
    }
    // `WITH ORDINALITY` keeps `seq` in the order the events were given.
    sqlx::query(&format!(
        "INSERT INTO audit_log ({AUDIT_COLUMNS}) \
         SELECT id, workspace_id, event, description, actor, targets, time, request_id \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                     $7::bigint[], $8::text[]) \
              WITH ORDINALITY AS e(id, workspace_id, event, description, actor, targets, time, \
                                   request_id, n) \
         ORDER BY n"
    ))
    .bind(ids)
    .bind(workspaces)
    .bind(names)
    .bind(descriptions)
    .bind(actors)
    .bind(targets)
    .bind(times)
    .bind(request_ids)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn list_audit_events(&self, workspace_id: &str, limit: usize) -> StoreResult<Vec<AuditEvent>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let found = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE workspace_id = $1 ORDER BY seq LIMIT $2"
        ))
        .bind(workspace_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        found.iter().map(rows::audit_event).collect()
    }
}
