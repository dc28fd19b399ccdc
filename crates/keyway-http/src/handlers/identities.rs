use super::page;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::Call;
use crate::wire::common::{Data, IdentityData, MetaOnly, Paginated, RatelimitBody};
use crate::wire::identities::{
    CreateIdentityBody, CreateIdentityData, IdentityRefBody, ListIdentitiesBody, UpdateIdentityBody,
};
use axum::extract::State;
use keyway_core::{CreateIdentity, Page, UpdateIdentity};

pub async fn create_identity(
    State(app): State<AppState>,
    call: Call<CreateIdentityBody>,
) -> Result<Data<CreateIdentityData>, ApiError> {
    let b = call.body;
    let request = CreateIdentity {
        external_id: b.external_id,
        meta: b.meta,
        ratelimits: b.ratelimits.unwrap_or_default().into_iter().map(RatelimitBody::input).collect(),
    };
    let identity_id = app.create_identity(&call.ctx, request).await?;
    Ok(Data(CreateIdentityData { identity_id }))
}

pub async fn get_identity(
    State(app): State<AppState>,
    call: Call<IdentityRefBody>,
) -> Result<Data<IdentityData>, ApiError> {
    Ok(Data(IdentityData::from(&app.get_identity(&call.ctx, &call.body.identity).await?)))
}

pub async fn list_identities(
    State(app): State<AppState>,
    call: Call<ListIdentitiesBody>,
) -> Result<Paginated<IdentityData>, ApiError> {
    let b = call.body;
    let found = app.list_identities(&call.ctx, b.search, page(b.cursor, b.limit)).await?;
    Ok(Paginated(Page { items: found.items.iter().map(IdentityData::from).collect(), cursor: found.cursor }))
}

pub async fn update_identity(
    State(app): State<AppState>,
    call: Call<UpdateIdentityBody>,
) -> Result<Data<IdentityData>, ApiError> {
    let b = call.body;
    let request = UpdateIdentity {
        identity: b.identity,
        meta: b.meta,
        ratelimits: b.ratelimits.map(|r| r.into_iter().map(RatelimitBody::input).collect()),
    };
    Ok(Data(IdentityData::from(&app.update_identity(&call.ctx, request).await?)))
}

/// The reference's response has no `data`.
pub async fn delete_identity(State(app): State<AppState>, call: Call<IdentityRefBody>) -> Result<MetaOnly, ApiError> {
    app.delete_identity(&call.ctx, &call.body.identity).await?;
    Ok(MetaOnly)
}
