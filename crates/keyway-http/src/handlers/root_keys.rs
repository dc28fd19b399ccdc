use super::page;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::Call;
use crate::wire::common::{Data, Empty, Paginated};
use crate::wire::keys::CreateKeyData;
use crate::wire::root_keys::{
    CreateRootKeyBody, ListRootKeysBody, RerollRootKeyBody, RootKeyData, RootKeyIdBody, UpdateRootKeyBody,
};
use axum::extract::State;
use keyway_core::{CreateRootKey, Page, RerollRootKey};
use keyway_domain::Patch;
use keyway_store::RootKeyUpdate;

pub async fn create_key(
    State(app): State<AppState>,
    call: Call<CreateRootKeyBody>,
) -> Result<Data<CreateKeyData>, ApiError> {
    let b = call.body;
    let request = CreateRootKey { permissions: b.permissions, name: b.name, expires: b.expires };
    let (key_id, secret) = app.create_root_key(&call.ctx, request).await?;
    Ok(Data(CreateKeyData { key_id, key: secret.expose().to_string() }))
}

pub async fn list_keys(
    State(app): State<AppState>,
    call: Call<ListRootKeysBody>,
) -> Result<Paginated<RootKeyData>, ApiError> {
    let keys = app.list_root_keys(&call.ctx, page(call.body.cursor, call.body.limit)).await?;
    Ok(Paginated(Page { items: keys.items.into_iter().map(RootKeyData::from).collect(), cursor: keys.cursor }))
}

pub async fn update_key(State(app): State<AppState>, call: Call<UpdateRootKeyBody>) -> Result<Data<Empty>, ApiError> {
    let b = call.body;
    let update = RootKeyUpdate { name: b.name, enabled: b.enabled, permissions: b.permissions };
    app.update_root_key(&call.ctx, &b.key_id, update).await?;
    Ok(Data(Empty {}))
}

pub async fn reroll_key(
    State(app): State<AppState>,
    call: Call<RerollRootKeyBody>,
) -> Result<Data<CreateKeyData>, ApiError> {
    let b = call.body;
    let expiration = match b.expiration {
        Patch::Set(ms) => Some(ms),
        _ => None,
    };
    let (key_id, secret) = app.reroll_root_key(&call.ctx, RerollRootKey { key_id: b.key_id, expiration }).await?;
    Ok(Data(CreateKeyData { key_id, key: secret.expose().to_string() }))
}

pub async fn delete_key(State(app): State<AppState>, call: Call<RootKeyIdBody>) -> Result<Data<Empty>, ApiError> {
    app.delete_root_key(&call.ctx, &call.body.key_id).await?;
    Ok(Data(Empty {}))
}
