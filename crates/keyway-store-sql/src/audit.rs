//! The audit log: written by every mutation inside its own transaction; read oldest first by
//! insertion, or filtered and paged by `(time, id)`.

use crate::rows::{AUDIT_COLUMNS, audit_event, limit_param, page_limit, to_json};
use crate::sql::{Backend, Bind, Run, Sql};
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, AuditFilter, AuditOrder, AuditPage, StoreResult};
use sqlx::Transaction;
use std::fmt::Write;

/// Appends `events` in order, in the caller's transaction: one statement for the events, one for
/// their targets (which the reads filter by resource id).
pub async fn insert<DB: Sql>(c: &mut DB::Connection, events: &[AuditEvent]) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut statement = format!("INSERT INTO audit_log ({AUDIT_COLUMNS}, actor_id) VALUES ");
    push_placeholders(&mut statement, events.len(), 9);
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
            .arg(&e.request_id)
            .arg(&e.actor.id);
    }
    query.run(c).await?;
    insert_targets::<DB>(c, events).await
}

/// Rows of `audit_log_targets` per statement: far below either database's limit on parameters.
const TARGETS_PER_STATEMENT: usize = 1000;

async fn insert_targets<DB: Sql>(c: &mut DB::Connection, events: &[AuditEvent]) -> StoreResult<()> {
    let targets: Vec<(&AuditEvent, &str)> =
        events.iter().flat_map(|e| e.targets.iter().map(move |t| (e, t.id.as_str()))).collect();
    for chunk in targets.chunks(TARGETS_PER_STATEMENT) {
        let mut statement = "INSERT INTO audit_log_targets (workspace_id, target_id, audit_id) VALUES ".to_string();
        push_placeholders(&mut statement, chunk.len(), 3);
        let mut query = sqlx::query::<DB>(&statement);
        for (e, target_id) in chunk {
            query = query.arg(&e.workspace_id).arg(*target_id).arg(&e.id);
        }
        query.run(c).await?;
    }
    Ok(())
}

/// `($1, …, $width), ($width+1, …)`: `rows` tuples of `width` numbered parameters.
fn push_placeholders(statement: &mut String, rows: usize, width: usize) {
    for row in 0..rows {
        statement.push_str(if row == 0 { "(" } else { ", (" });
        for column in 1..=width {
            let sep = if column == 1 { "" } else { ", " };
            let _ = write!(statement, "{sep}${}", row * width + column);
        }
        statement.push(')');
    }
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

/// A read of the log: the filter's conditions and the page's keyset condition, with the values they
/// bind in parameter order. Built once here so both databases run the same statement.
struct AuditRead<'a> {
    conditions: Vec<String>,
    values: Vec<ReadValue<'a>>,
}

enum ReadValue<'a> {
    Text(&'a str),
    Time(UnixMs),
}

impl<'a> AuditRead<'a> {
    fn new(workspace_id: &'a str) -> Self {
        let mut read = AuditRead { conditions: Vec::new(), values: Vec::new() };
        let p = read.param(ReadValue::Text(workspace_id));
        read.conditions.push(format!("a.workspace_id = {p}"));
        read
    }

    /// The next parameter, `$n`, bound to `value`.
    fn param(&mut self, value: ReadValue<'a>) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    fn filter(&mut self, filter: &'a AuditFilter, workspace_id: &'a str) {
        if !filter.events.is_empty() {
            let names: Vec<String> = filter.events.iter().map(|e| self.param(ReadValue::Text(e))).collect();
            self.conditions.push(format!("a.event IN ({})", names.join(", ")));
        }
        if let Some(actor) = &filter.actor_id {
            let p = self.param(ReadValue::Text(actor));
            self.conditions.push(format!("a.actor_id = {p}"));
        }
        if let Some(resource) = &filter.resource_id {
            let ws = self.param(ReadValue::Text(workspace_id));
            let p = self.param(ReadValue::Text(resource));
            self.conditions.push(format!(
                "a.id IN (SELECT t.audit_id FROM audit_log_targets t WHERE t.workspace_id = {ws} AND t.target_id = {p})"
            ));
        }
        if let Some(since) = filter.since {
            let p = self.param(ReadValue::Time(since));
            self.conditions.push(format!("a.time >= {p}"));
        }
        if let Some(until) = filter.until {
            let p = self.param(ReadValue::Time(until));
            self.conditions.push(format!("a.time <= {p}"));
        }
    }

    /// Strictly past `after` in the read order; returns that order's `ORDER BY` direction.
    fn page(&mut self, page: &'a AuditPage) -> &'static str {
        let (op, direction) = match page.order {
            AuditOrder::NewestFirst => ("<", "DESC"),
            AuditOrder::OldestFirst => (">", "ASC"),
        };
        if let Some(after) = &page.after {
            let time = self.param(ReadValue::Time(after.time));
            let id = self.param(ReadValue::Text(&after.id));
            self.conditions.push(format!("(a.time {op} {time} OR (a.time = {time} AND a.id {op} {id}))"));
        }
        direction
    }
}

pub async fn read_audit_events<B: Backend>(
    b: &B,
    workspace_id: &str,
    filter: &AuditFilter,
    page: &AuditPage,
) -> StoreResult<Vec<AuditEvent>> {
    let mut read = AuditRead::new(workspace_id);
    read.filter(filter, workspace_id);
    let direction = read.page(page);
    let limit = read.param(ReadValue::Time(page_limit(page.limit)));
    let statement = format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log a WHERE {} ORDER BY a.time {direction}, a.id {direction} LIMIT {limit}",
        read.conditions.join(" AND ")
    );
    let mut query = sqlx::query::<B::Db>(&statement);
    for value in read.values {
        query = match value {
            ReadValue::Text(text) => query.arg(text),
            ReadValue::Time(time) => query.arg(time),
        };
    }
    let found = query.all(&mut *b.read_conn().await?).await?;
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
                async fn read_audit_events(
                    &self,
                    workspace_id: &str,
                    filter: &$crate::reexport::keyway_store::AuditFilter,
                    page: &$crate::reexport::keyway_store::AuditPage,
                ) -> StoreResult<Vec<AuditEvent>> {
                    $crate::audit::read_audit_events(self, workspace_id, filter, page).await
                }
            }
        };
    };
}
