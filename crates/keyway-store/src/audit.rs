//! Audit events: one row per mutation, written in the mutation's own transaction.

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
