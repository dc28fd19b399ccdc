use crate::AppState;
use crate::error::ApiError;
use crate::extract::Call;
use crate::wire::audit::{AuditLogData, ListAuditLogsBody};
use crate::wire::common::Paginated;
use axum::extract::State;
use keyway_core::Page;

pub async fn list_audit_logs(
    State(app): State<AppState>,
    call: Call<ListAuditLogsBody>,
) -> Result<Paginated<AuditLogData>, ApiError> {
    let b = call.body;
    let found = app.read_audit_log(&call.ctx, &b.filter(), &b.page()).await?;
    Ok(Paginated(Page { items: found.items.into_iter().map(AuditLogData::from).collect(), cursor: found.cursor }))
}
