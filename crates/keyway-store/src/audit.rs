//! Audit events: one row per mutation, written in the mutation's own transaction.

pub use keyway_domain::audit_cursor::AuditPosition;
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::time::UnixMs;
use serde::{Deserialize, Serialize};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `rootkey` or `system`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Actor {
    pub fn root_key(id: &str, name: Option<&str>) -> Self {
        Actor { kind: "rootkey".into(), id: id.into(), name: Some(name.unwrap_or("root key").into()) }
    }

    pub fn system(id: &str, name: &str) -> Self {
        Actor { kind: "system".into(), id: id.into(), name: Some(name.into()) }
    }
}

/// What a change touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditTarget {
    /// `api`, `key`, `keySpace`, `identity`, `workspace`, `rootKey`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
}

impl AuditTarget {
    pub fn new(kind: &str, id: &str) -> Self {
        AuditTarget { kind: kind.into(), id: id.into(), meta: None }
    }
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: String,
    pub workspace_id: String,
    /// e.g. `key.create`, `api.delete`.
    pub event: String,
    pub description: String,
    pub actor: Actor,
    pub targets: Vec<AuditTarget>,
    pub time: UnixMs,
    /// The request that made the change; empty for system jobs.
    pub request_id: String,
}

impl AuditEvent {
    pub fn new(
        workspace_id: &str,
        event: &str,
        description: impl Into<String>,
        actor: Actor,
        targets: Vec<AuditTarget>,
        time: UnixMs,
        request_id: &str,
    ) -> Self {
        AuditEvent {
            id: new_id(IdKind::AuditLog),
            workspace_id: workspace_id.into(),
            event: event.into(),
            description: description.into(),
            actor,
            targets,
            time,
            request_id: request_id.into(),
        }
    }
}

/// Which audit events a read returns; every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Any of these event names (`key.create`, …); empty matches every event.
    pub events: Vec<String>,
    /// The actor's id: a root key id, or a system job's.
    pub actor_id: Option<String>,
    /// The id of one of the event's targets.
    pub resource_id: Option<String>,
    /// Events at or after this time.
    pub since: Option<UnixMs>,
    /// Events at or before this time.
    pub until: Option<UnixMs>,
}

/// The order of a read, by `(time, id)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuditOrder {
    /// Newest first: browsing the log.
    #[default]
    NewestFirst,
    /// Oldest first: following the log as it grows.
    OldestFirst,
}

/// One page of an audit log read. Adapters return up to `limit + 1` events so the caller can tell
/// whether more exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditPage {
    /// The last event of the previous page: this page starts strictly past it, in `order`.
    pub after: Option<AuditPosition>,
    pub order: AuditOrder,
    pub limit: usize,
}

impl AuditEvent {
    /// Where this event sits in the log's read order.
    pub fn position(&self) -> AuditPosition {
        AuditPosition { time: self.time, id: self.id.clone() }
    }
}
