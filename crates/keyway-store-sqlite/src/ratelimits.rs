//! Writes of the named rate limits of keys and identities. Reads come with their owner's row
//! (`rows::KEY_COLUMNS`, `rows::IDENTITY_SELECT`).

use crate::rows::to_json;
use crate::{Tx, db};
use keyway_domain::time::UnixMs;
use keyway_store::{RatelimitConfig, StoreResult};
use std::collections::BTreeMap;

/// Whose rate limits, by id.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Owner<'a> {
    Key(&'a str),
    Identity(&'a str),
}

impl<'a> Owner<'a> {
    /// The owner's column, which is also the first column of its `UNIQUE (…, name)` constraint.
    fn column(self) -> &'static str {
        match self {
            Owner::Key(_) => "key_id",
            Owner::Identity(_) => "identity_id",
        }
    }

    fn id(self) -> &'a str {
        match self {
            Owner::Key(id) | Owner::Identity(id) => id,
        }
    }
}

/// Inserts or updates each config by name: an existing name keeps its stored id and takes the
/// new values, a new name is inserted with the given id. Of several configs with one name the
/// last wins, so a list never trips the owner's unique names.
pub(crate) async fn upsert(
    tx: &mut Tx,
    owner: Owner<'_>,
    workspace_id: &str,
    configs: &[RatelimitConfig],
    now: UnixMs,
) -> StoreResult<()> {
    let column = owner.column();
    let sql = format!(
        "INSERT INTO ratelimits (id, workspace_id, {column}, name, \"limit\", duration, auto_apply, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT ({column}, name) DO UPDATE SET
             \"limit\" = excluded.\"limit\", duration = excluded.duration,
             auto_apply = excluded.auto_apply, updated_at = ?8"
    );
    for config in last_per_name(configs) {
        sqlx::query(&sql)
            .bind(&config.id)
            .bind(workspace_id)
            .bind(owner.id())
            .bind(&config.name)
            .bind(config.limit)
            .bind(config.duration)
            .bind(config.auto_apply)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// Makes `configs` the owner's whole set: names not listed are deleted, the rest upserted.
pub(crate) async fn replace(
    tx: &mut Tx,
    owner: Owner<'_>,
    workspace_id: &str,
    configs: &[RatelimitConfig],
    now: UnixMs,
) -> StoreResult<()> {
    let names: Vec<&str> = configs.iter().map(|c| c.name.as_str()).collect();
    sqlx::query(&format!(
        "DELETE FROM ratelimits WHERE {} = ? AND name NOT IN (SELECT value FROM json_each(?))",
        owner.column()
    ))
    .bind(owner.id())
    .bind(to_json(&names)?)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    upsert(tx, owner, workspace_id, configs, now).await
}

fn last_per_name(configs: &[RatelimitConfig]) -> impl Iterator<Item = &RatelimitConfig> {
    let mut by_name = BTreeMap::new();
    for config in configs {
        by_name.insert(config.name.as_str(), config);
    }
    by_name.into_values()
}
