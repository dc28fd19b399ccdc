//! The rate-limit configs of keys and identities, written inside the transaction that creates or
//! updates their owner, after the owner's row is inserted or locked: the owner's row lock is what
//! serialises concurrent changes to its configs.

use crate::db_err;
use keyway_domain::time::UnixMs;
use keyway_store::{RatelimitConfig, StoreResult};
use sqlx::PgConnection;
use std::collections::BTreeMap;

/// Whose configs these are.
#[derive(Clone, Copy)]
pub(crate) enum Owner<'a> {
    Key(&'a str),
    Identity(&'a str),
}

impl<'a> Owner<'a> {
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

/// Inserts `configs` for `owner`; a name the owner already has is updated in place and keeps
/// its stored id. A name listed twice takes its last entry: one statement may not update a row
/// twice, and "last wins" is what a replace by name means.
pub(crate) async fn upsert(
    conn: &mut PgConnection,
    owner: Owner<'_>,
    workspace_id: &str,
    configs: &[RatelimitConfig],
    now: UnixMs,
) -> StoreResult<()> {
    let by_name: BTreeMap<&str, &RatelimitConfig> = configs.iter().map(|c| (c.name.as_str(), c)).collect();
    if by_name.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = by_name.values().map(|c| c.id.as_str()).collect();
    let names: Vec<&str> = by_name.keys().copied().collect();
    let limits: Vec<i64> = by_name.values().map(|c| c.limit).collect();
    let durations: Vec<i64> = by_name.values().map(|c| c.duration).collect();
    let auto_apply: Vec<bool> = by_name.values().map(|c| c.auto_apply).collect();
    let column = owner.column();
    sqlx::query(&format!(
        "INSERT INTO ratelimits (id, workspace_id, {column}, name, \"limit\", duration, auto_apply, \
                                 created_at) \
         SELECT c.id, $2, $1, c.name, c.lim, c.duration, c.auto_apply, $8 \
         FROM unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::boolean[]) \
              AS c(id, name, lim, duration, auto_apply) \
         ON CONFLICT ({column}, name) DO UPDATE \
         SET \"limit\" = EXCLUDED.\"limit\", duration = EXCLUDED.duration, \
             auto_apply = EXCLUDED.auto_apply, updated_at = $8"
    ))
    .bind(owner.id())
    .bind(workspace_id)
    .bind(ids)
    .bind(names)
    .bind(limits)
    .bind(durations)
    .bind(auto_apply)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Makes `configs` the owner's whole set, by name: names not listed are deleted, the rest are
/// upserted as by [`upsert`].
pub(crate) async fn replace(
    conn: &mut PgConnection,
    owner: Owner<'_>,
    workspace_id: &str,
    configs: &[RatelimitConfig],
    now: UnixMs,
) -> StoreResult<()> {
    let names: Vec<&str> = configs.iter().map(|c| c.name.as_str()).collect();
    // `<> ALL` of an empty array is true: `[]` deletes every config.
    sqlx::query(&format!("DELETE FROM ratelimits WHERE {} = $1 AND name <> ALL($2::text[])", owner.column()))
        .bind(owner.id())
        .bind(names)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    upsert(conn, owner, workspace_id, configs, now).await
}

/// Deletes every config of `owner`.
pub(crate) async fn delete_all(conn: &mut PgConnection, owner: Owner<'_>) -> StoreResult<()> {
    sqlx::query(&format!("DELETE FROM ratelimits WHERE {} = $1", owner.column()))
        .bind(owner.id())
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}
