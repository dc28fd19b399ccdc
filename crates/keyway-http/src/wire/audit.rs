//! `auditLogs.list`, a Keyway extension: the audit log, newest first, in the shape of the other
//! list endpoints.

use crate::validate::{Validate, Violations};
use keyway_domain::audit_cursor::AuditPosition;
use keyway_domain::time::UnixMs;
use keyway_store::{Actor, AuditEvent, AuditFilter, AuditPage, AuditTarget};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListAuditLogsBody {
    #[serde(default)]
    pub events: Vec<String>,
    pub actor_id: Option<String>,
    pub resource_id: Option<String>,
    /// Unix ms, inclusive.
    pub since: Option<UnixMs>,
    /// Unix ms, inclusive.
    pub until: Option<UnixMs>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl Validate for ListAuditLogsBody {
    fn validate(&self, v: &mut Violations) {
        v.items_between("events", self.events.len(), 0, 100);
        for event in &self.events {
            v.len_between("events", event, 1, 255);
        }
        for (field, id) in [("actorId", &self.actor_id), ("resourceId", &self.resource_id)] {
            if let Some(id) = id {
                v.len_between(field, id, 1, 255);
            }
        }
        for (field, time) in [("since", self.since), ("until", self.until)] {
            if let Some(time) = time {
                v.int_between(field, time, 0, i64::MAX);
            }
        }
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since > until
        {
            v.push("until", "minimum", format!("minimum: got {until}, want at least since ({since})"));
        }
        if let Some(limit) = self.limit {
            v.int_between("limit", limit, 1, 100);
        }
        if let Some(cursor) = &self.cursor
            && let Err(e) = cursor.parse::<AuditPosition>()
        {
            v.push("cursor", "pattern", e.to_string());
        }
    }
}

impl ListAuditLogsBody {
    pub fn filter(&self) -> AuditFilter {
        AuditFilter {
            events: self.events.clone(),
            actor_id: self.actor_id.clone(),
            resource_id: self.resource_id.clone(),
            since: self.since,
            until: self.until,
        }
    }

    /// Newest first, 100 events unless asked; the cursor was checked by [`Validate`].
    pub fn page(&self) -> AuditPage {
        AuditPage {
            after: self.cursor.as_deref().and_then(|c| c.parse().ok()),
            limit: self.limit.unwrap_or(100) as usize,
            ..AuditPage::default()
        }
    }
}

/// One audit event as `auditLogs.list` and `keyway audit` print it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogData {
    pub id: String,
    pub time: UnixMs,
    pub event: String,
    pub description: String,
    pub actor: Actor,
    pub resources: Vec<AuditTarget>,
    /// Empty for system jobs, and then omitted.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub request_id: String,
}

impl From<AuditEvent> for AuditLogData {
    fn from(e: AuditEvent) -> Self {
        AuditLogData {
            id: e.id,
            time: e.time,
            event: e.event,
            description: e.description,
            actor: e.actor,
            resources: e.targets,
            request_id: e.request_id,
        }
    }
}
