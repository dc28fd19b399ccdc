use crate::AppState;
use crate::client_addr::ClientIp;
use crate::error::ApiError;
use crate::extract::Call;
use crate::wire::common::{CreditsData, Data, Empty, KeyData, RatelimitBody};
use crate::wire::keys::{
    CreateKeyBody, CreateKeyData, CreditsBody, CreditsOp, DeleteKeyBody, GetKeyBody, UpdateCreditsBody, UpdateKeyBody,
    WhoamiBody,
};
use crate::wire::verify::{VerifyKeyBody, VerifyKeyData};
use axum::Extension;
use axum::extract::State;
use keyway_core::{CoreError, CreateKey, UpdateKey, VerifyRequest};
use keyway_domain::Patch;
use keyway_domain::credits::{Credits, CreditsError, CreditsOperation, CreditsPatch, DailyDayRule, credits_for_create};

pub async fn create_key(
    State(app): State<AppState>,
    call: Call<CreateKeyBody>,
) -> Result<Data<CreateKeyData>, ApiError> {
    let b = call.body;
    let credits = create_credits(b.credits)?;
    let request = CreateKey {
        api_id: b.api_id,
        prefix: b.prefix,
        byte_length: b.byte_length.map(|l| l as usize),
        name: b.name,
        meta: b.meta,
        external_id: b.external_id,
        expires: b.expires,
        credits,
        enabled: b.enabled.unwrap_or(true),
        recoverable: b.recoverable,
        ratelimits: b.ratelimits.unwrap_or_default().into_iter().map(RatelimitBody::input).collect(),
        permissions: b.permissions.unwrap_or_default(),
        roles: b.roles.unwrap_or_default(),
    };
    let (key_id, secret) = app.create_key(&call.ctx, request).await?;
    Ok(Data(CreateKeyData { key_id, key: secret.expose().to_string() }))
}

/// The credits of a key being created (createKey, migrateKeys).
pub(super) fn create_credits(body: Option<CreditsBody>) -> Result<Credits, CoreError> {
    let Some(c) = body else {
        return Ok(Credits::default());
    };
    let remaining = match c.remaining {
        Patch::Set(r) => Some(r),
        _ => None,
    };
    Ok(credits_for_create(remaining, c.refill.map(|r| r.spec()))?)
}

pub async fn get_key(State(app): State<AppState>, call: Call<GetKeyBody>) -> Result<Data<KeyData>, ApiError> {
    let key_id = &call.body.key_id;
    Ok(Data(match call.body.decrypt {
        true => KeyData::with_plaintext(app.get_key_decrypted(&call.ctx, key_id).await?),
        false => app.get_key(&call.ctx, key_id).await?.into(),
    }))
}

pub async fn whoami(State(app): State<AppState>, call: Call<WhoamiBody>) -> Result<Data<KeyData>, ApiError> {
    Ok(Data(app.whoami(&call.ctx, &call.body.key).await?.into()))
}

pub async fn update_key(State(app): State<AppState>, call: Call<UpdateKeyBody>) -> Result<Data<Empty>, ApiError> {
    let b = call.body;
    let credits = match b.credits {
        Patch::Keep => None,
        Patch::Clear => Some(CreditsPatch::UNLIMITED),
        Patch::Set(c) => Some(CreditsPatch {
            remaining: c.remaining,
            refill: match c.refill {
                Patch::Keep => Patch::Keep,
                Patch::Clear => Patch::Clear,
                Patch::Set(r) => Patch::Set(r.spec().resolve(DailyDayRule::Reject).map_err(CoreError::from)?),
            },
        }),
    };
    let request = UpdateKey {
        name: b.name,
        external_id: b.external_id,
        meta: b.meta,
        expires: b.expires,
        enabled: b.enabled,
        credits,
        ratelimits: b.ratelimits.map(|r| r.into_iter().map(RatelimitBody::input).collect()),
        permissions: b.permissions,
        roles: b.roles,
    };
    app.update_key(&call.ctx, &b.key_id, request).await?;
    Ok(Data(Empty {}))
}

pub async fn update_credits(
    State(app): State<AppState>,
    call: Call<UpdateCreditsBody>,
) -> Result<Data<CreditsData>, ApiError> {
    let b = call.body;
    let operation = match (b.operation, b.value) {
        (CreditsOp::Set, Patch::Set(v)) => CreditsOperation::Set { value: Some(v), clear_refill: false },
        (CreditsOp::Set, Patch::Clear) => CreditsOperation::Set { value: None, clear_refill: true },
        (CreditsOp::Set, Patch::Keep) => CreditsOperation::Set { value: None, clear_refill: false },
        (CreditsOp::Increment, Patch::Set(v)) => CreditsOperation::Increment(v),
        (CreditsOp::Decrement, Patch::Set(v)) => CreditsOperation::Decrement(v),
        _ => return Err(CoreError::from(CreditsError::MissingValue).into()),
    };
    let credits = app.update_credits(&call.ctx, &b.key_id, operation).await?;
    Ok(Data(credits.into()))
}

pub async fn delete_key(State(app): State<AppState>, call: Call<DeleteKeyBody>) -> Result<Data<Empty>, ApiError> {
    app.delete_key(&call.ctx, &call.body.key_id, call.body.permanent).await?;
    Ok(Data(Empty {}))
}

pub async fn verify_key(
    State(app): State<AppState>,
    Extension(ClientIp(client_ip)): Extension<ClientIp>,
    call: Call<VerifyKeyBody>,
) -> Result<Data<VerifyKeyData>, ApiError> {
    let b = call.body;
    let request = VerifyRequest {
        key: b.key,
        cost: b.credits.map(|c| c.cost),
        ratelimits: b.ratelimits.unwrap_or_default().into_iter().map(|r| r.requested()).collect(),
        permissions: b.permissions,
        migration_id: b.migration_id,
        client_ip,
        tags: b.tags.unwrap_or_default(),
    };
    Ok(Data(app.verify_key(&call.ctx, &request).await?.into()))
}
