use crate::AppState;
use crate::error::ApiError;
use crate::extract::Call;
use crate::metrics_header::Metrics;
use crate::wire::common::{Data, Empty, Paginated};
use crate::wire::ratelimit::{
    LimitBody, LimitData, ListOverridesBody, MultiLimitData, MultiLimitItem, OverrideData, OverrideRefBody,
    SetOverrideBody, SetOverrideData,
};
use axum::extract::State;
use keyway_core::{Page, SetOverride};
use keyway_store::PageRequest;

/// Unkey's listOverrides defaults to 50 items, unlike the other lists.
const OVERRIDES_PAGE: i64 = 50;

pub async fn limit(
    State(app): State<AppState>,
    Metrics(events): Metrics,
    call: Call<LimitBody>,
) -> Result<Data<LimitData>, ApiError> {
    let mut outcomes = app.ratelimit(&call.ctx, vec![call.body.call()], events).await?;
    Ok(Data(outcomes.remove(0).into()))
}

pub async fn multi_limit(
    State(app): State<AppState>,
    call: Call<Vec<LimitBody>>,
) -> Result<Data<MultiLimitData>, ApiError> {
    let calls = call.body.into_iter().map(LimitBody::call).collect();
    // The metrics header is not consulted here: Unkey honours it on `ratelimit.limit` only.
    let outcomes = app.ratelimit(&call.ctx, calls, true).await?;
    let passed = outcomes.iter().all(|o| o.passed);
    Ok(Data(MultiLimitData { passed, limits: outcomes.into_iter().map(MultiLimitItem::from).collect() }))
}

pub async fn set_override(
    State(app): State<AppState>,
    call: Call<SetOverrideBody>,
) -> Result<Data<SetOverrideData>, ApiError> {
    let b = call.body;
    let request =
        SetOverride { namespace: b.namespace, identifier: b.identifier, limit: b.limit, duration: b.duration };
    let override_id = app.set_override(&call.ctx, request).await?;
    Ok(Data(SetOverrideData { override_id }))
}

pub async fn get_override(
    State(app): State<AppState>,
    call: Call<OverrideRefBody>,
) -> Result<Data<OverrideData>, ApiError> {
    let found = app.get_override(&call.ctx, &call.body.namespace, &call.body.identifier).await?;
    Ok(Data(found.into()))
}

pub async fn list_overrides(
    State(app): State<AppState>,
    call: Call<ListOverridesBody>,
) -> Result<Paginated<OverrideData>, ApiError> {
    let b = call.body;
    let page = PageRequest { cursor: b.cursor.unwrap_or_default(), limit: b.limit.unwrap_or(OVERRIDES_PAGE) as usize };
    let found = app.list_overrides(&call.ctx, &b.namespace, page).await?;
    Ok(Paginated(Page { items: found.items.into_iter().map(OverrideData::from).collect(), cursor: found.cursor }))
}

pub async fn delete_override(
    State(app): State<AppState>,
    call: Call<OverrideRefBody>,
) -> Result<Data<Empty>, ApiError> {
    app.delete_override(&call.ctx, &call.body.namespace, &call.body.identifier).await?;
    Ok(Data(Empty {}))
}
