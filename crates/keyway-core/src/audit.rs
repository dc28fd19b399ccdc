use crate::{Ctx, now_ms};
use keyway_store::{Actor, AuditEvent, AuditTarget};

impl Ctx {
    /// An audit event of this request, by its root key.
    pub(crate) fn audit(&self, event: &str, description: impl Into<String>, targets: &[(&str, &str)]) -> AuditEvent {
        AuditEvent::new(
            self.principal.workspace_id(),
            event,
            description,
            Actor::root_key(&self.principal.root_key().id, self.principal.root_key().name.as_deref()),
            targets.iter().map(|(kind, id)| AuditTarget::new(kind, id)).collect(),
            now_ms(),
            &self.request_id,
        )
    }
}
