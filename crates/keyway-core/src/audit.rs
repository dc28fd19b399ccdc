use crate::{CoreResult, Ctx, Keyway, Page, now_ms};
use keyway_domain::access;
use keyway_store::{Actor, AuditEvent, AuditFilter, AuditPage, AuditTarget};

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

impl Keyway {
    /// auditLogs.list: one page of the caller's workspace's audit log.
    pub async fn read_audit_log(
        &self,
        ctx: &Ctx,
        filter: &AuditFilter,
        page: &AuditPage,
    ) -> CoreResult<Page<AuditEvent>> {
        let ws = ctx.principal.workspace_id();
        ctx.principal.require(access::read_audit_log(ws))?;
        Ok(audit_page(self.store.read_audit_events(ws, filter, page).await?, page.limit))
    }
}

/// A page of up to `limit + 1` events: the cursor, when more exist, is the last event kept, which
/// the next read starts strictly past.
fn audit_page(mut events: Vec<AuditEvent>, limit: usize) -> Page<AuditEvent> {
    let more = events.len() > limit;
    events.truncate(limit);
    let cursor = if more { events.last().map(|e| e.position().to_string()) } else { None };
    Page { items: events, cursor }
}
