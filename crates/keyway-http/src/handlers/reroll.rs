use crate::AppState;
use crate::error::ApiError;
use crate::extract::Call;
use crate::wire::common::Data;
use crate::wire::keys::CreateKeyData;
use crate::wire::reroll::RerollKeyBody;
use axum::extract::State;
use keyway_core::RerollKey;

pub async fn reroll_key(
    State(app): State<AppState>,
    call: Call<RerollKeyBody>,
) -> Result<Data<CreateKeyData>, ApiError> {
    let request = RerollKey { key_id: call.body.key_id, expiration: call.body.expiration };
    let (key_id, secret) = app.reroll_key(&call.ctx, request).await?;
    Ok(Data(CreateKeyData { key_id, key: secret.expose().to_string() }))
}
