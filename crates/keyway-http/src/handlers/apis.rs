use super::page;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::Call;
use crate::wire::apis::{
    ApiData, ApiIdBody, CreateApiBody, CreateApiData, ListKeysBody, SetIpAllowlistBody, SetIpAllowlistData,
};
use crate::wire::common::{Data, Empty, KeyData, Paginated};
use axum::extract::State;
use keyway_core::{ListKeysQuery, Page};

pub async fn create_api(
    State(app): State<AppState>,
    call: Call<CreateApiBody>,
) -> Result<Data<CreateApiData>, ApiError> {
    let b = call.body;
    let api_id = app.create_api(&call.ctx, b.name, b.recoverable, b.key_format.into()).await?;
    Ok(Data(CreateApiData { api_id }))
}

pub async fn get_api(State(app): State<AppState>, call: Call<ApiIdBody>) -> Result<Data<ApiData>, ApiError> {
    Ok(Data(app.get_api(&call.ctx, &call.body.api_id).await?.into()))
}

pub async fn set_ip_allowlist(
    State(app): State<AppState>,
    call: Call<SetIpAllowlistBody>,
) -> Result<Data<SetIpAllowlistData>, ApiError> {
    let stored = app.set_ip_allowlist(&call.ctx, &call.body.api_id, &call.body.ip_allowlist).await?;
    Ok(Data(SetIpAllowlistData { ip_allowlist: stored.entries() }))
}

pub async fn delete_api(State(app): State<AppState>, call: Call<ApiIdBody>) -> Result<Data<Empty>, ApiError> {
    app.delete_api(&call.ctx, &call.body.api_id).await?;
    Ok(Data(Empty {}))
}

pub async fn list_keys(State(app): State<AppState>, call: Call<ListKeysBody>) -> Result<Paginated<KeyData>, ApiError> {
    let body = call.body;
    let query =
        ListKeysQuery { api_id: body.api_id, page: page(body.cursor, body.limit), external_id: body.external_id };
    Ok(Paginated(match body.decrypt {
        true => {
            let keys = app.list_keys_decrypted(&call.ctx, query).await?;
            Page { items: keys.items.into_iter().map(KeyData::with_plaintext).collect(), cursor: keys.cursor }
        }
        false => {
            let keys = app.list_keys(&call.ctx, query).await?;
            Page { items: keys.items.into_iter().map(KeyData::from).collect(), cursor: keys.cursor }
        }
    }))
}
