//! The rate-limit configs of keys and identities, written inside the transaction that creates or
//! updates their owner, after the owner's row is inserted or locked: the owner's row lock is what
//! serialises concurrent changes to its configs. Reads come with the owner's row
//! ([`crate::Backend::KEY_COLUMNS`], [`crate::Backend::IDENTITY_COLUMNS`]).

use crate::sql::{Backend, Bind, Conn, Run};
use keyway_domain::time::UnixMs;
use keyway_store::{RatelimitConfig, StoreResult};
use std::collections::BTreeMap;

/// Whose configs these are.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
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
pub async fn upsert<B: Backend>(
    c: &mut Conn<B>,
    owner: Owner<'_>,
    workspace_id: &str,
    configs: &[RatelimitConfig],
    now: UnixMs,
) -> StoreResult<()> {
    let column = owner.column();
    let sql = format!(
        "INSERT INTO ratelimits (id, workspace_id, {column}, name, \"limit\", duration, auto_apply, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT ({column}, name) DO UPDATE \
         SET \"limit\" = EXCLUDED.\"limit\", duration = EXCLUDED.duration, \
             auto_apply = EXCLUDED.auto_apply, updated_at = $8"
    );
    let by_name: BTreeMap<&str, &RatelimitConfig> = configs.iter().map(|c| (c.name.as_str(), c)).collect();
    for config in by_name.into_values() {
        sqlx::query::<B::Db>(&sql)
            .arg(&config.id)
            .arg(workspace_id)
            .arg(owner.id())
            .arg(&config.name)
            .arg(config.limit)
            .arg(config.duration)
            .arg(config.auto_apply)
            .arg(now)
            .run(&mut *c)
            .await?;
    }
    Ok(())
}

/// Makes `configs` the owner's whole set, by name: names not listed are deleted, the rest are
/// upserted as by [`upsert`].
pub async fn replace<B: Backend>(
    c: &mut Conn<B>,
    owner: Owner<'_>,
    workspace_id: &str,
    configs: &[RatelimitConfig],
    now: UnixMs,
) -> StoreResult<()> {
    let column = owner.column();
    let kept: Vec<String> = (2..configs.len() + 2).map(|n| format!("${n}")).collect();
    // `NOT IN ()` is no SQL: with no names, every config goes.
    let unlisted = if kept.is_empty() { String::new() } else { format!(" AND name NOT IN ({})", kept.join(", ")) };
    let sql = format!("DELETE FROM ratelimits WHERE {column} = $1{unlisted}");
    let mut delete = sqlx::query::<B::Db>(&sql).arg(owner.id());
    for config in configs {
        delete = delete.arg(&config.name);
    }
    delete.run(&mut *c).await?;
    upsert::<B>(c, owner, workspace_id, configs, now).await
}

/// Deletes every config of `owner`.
pub async fn delete_all<B: Backend>(c: &mut Conn<B>, owner: Owner<'_>) -> StoreResult<()> {
    sqlx::query::<B::Db>(&format!("DELETE FROM ratelimits WHERE {} = $1", owner.column()))
        .arg(owner.id())
        .run(c)
        .await?;
    Ok(())
}
