use super::keys::create_credits;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::Call;
use crate::wire::common::{Data, RatelimitBody};
use crate::wire::migrations::{
    CreateMigrationBody, CreateMigrationData, MigrateKeysBody, MigrateKeysData, MigratedKeyData,
};
use axum::extract::State;
use keyway_core::{CoreError, ImportKey, MigrateKeys};
use keyway_domain::migration::MigrationAlgorithm;

pub async fn create_migration(
    State(app): State<AppState>,
    call: Call<CreateMigrationBody>,
) -> Result<Data<CreateMigrationData>, ApiError> {
    let algorithm =
        call.body.algorithm.parse::<MigrationAlgorithm>().map_err(|e| CoreError::InvalidInput(e.to_string()))?;
    let migration_id = app.create_migration(&call.ctx, algorithm).await?;
    Ok(Data(CreateMigrationData { migration_id }))
}

pub async fn migrate_keys(
    State(app): State<AppState>,
    call: Call<MigrateKeysBody>,
) -> Result<Data<MigrateKeysData>, ApiError> {
    let b = call.body;
    let keys = b
        .keys
        .into_iter()
        .map(|k| {
            Ok(ImportKey {
                hash: k.hash,
                start: k.start,
                name: k.name,
                meta: k.meta,
                external_id: k.external_id,
                expires: k.expires,
                credits: create_credits(k.credits)?,
                enabled: k.enabled.unwrap_or(true),
                ratelimits: k.ratelimits.unwrap_or_default().into_iter().map(RatelimitBody::input).collect(),
                permissions: k.permissions.unwrap_or_default(),
                roles: k.roles.unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, CoreError>>()?;
    let request = MigrateKeys { migration_id: b.migration_id, api_id: b.api_id, keys };
    let outcome = app.migrate_keys(&call.ctx, request).await?;
    Ok(Data(MigrateKeysData {
        migrated: outcome.migrated.into_iter().map(|(hash, key_id)| MigratedKeyData { hash, key_id }).collect(),
        failed: outcome.failed,
    }))
}
