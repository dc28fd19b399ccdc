//! Row decoding and the column encodings shared by every table: one place that knows how a model
//! is laid out in SQLite.

use keyway_domain::credits::{Credits, Refill};
use keyway_domain::ip_allowlist::IpRanges;
use keyway_domain::key_material::{KeyFormat, KeyHash};
use keyway_domain::key_shape::KeyShape;
use keyway_store::{
    Api, AuditEvent, Identity, JsonObject, Key, Namespace, Override, PageRequest, Permission, RatelimitConfig, Role,
    RootKey, StoreError, StoreResult, Workspace,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Row, Sqlite, Type};

/// An owner's rate limits as one JSON array in name order, read in the owner's own row: a key
/// comes back with its limits and its identity's from one query, and a page of keys from one.
/// (`ORDER BY` inside an aggregate needs SQLite 3.44; sqlx bundles a newer one.)
macro_rules! ratelimits_json {
    ($owner:literal) => {
        concat!(
            "(SELECT json_group_array(json_object('id', r.id, 'name', r.name, 'limit', r.\"limit\", \
             'duration', r.duration, 'auto_apply', r.auto_apply) ORDER BY r.name) \
             FROM ratelimits r WHERE r.",
            $owner,
            ")"
        )
    };
}

/// The columns [`identity`] decodes, from `identities` aliased `i`.
macro_rules! identity_columns {
    () => {
        concat!(
            "i.id AS identity_id, i.workspace_id AS identity_workspace_id, \
             i.external_id AS identity_external_id, i.meta AS identity_meta, ",
            ratelimits_json!("identity_id = i.id"),
            " AS identity_ratelimits"
        )
    };
}

/// A key with its live identity, aliased so [`identity`] decodes both this join and a plain
/// identity row ([`IDENTITY_SELECT`]). Its permission slugs (direct and through its roles, each
/// once) and role names come as JSON arrays in byte order (SQLite's default `BINARY` collation).
pub(crate) const KEY_COLUMNS: &str = concat!(
    "k.id, k.workspace_id, k.api_id, k.keyspace_id, k.hash, \
     k.start, k.name, k.meta, k.enabled, k.expires, k.remaining, k.refill_amount, k.refill_day, \
     k.created_at, k.updated_at, k.last_used_at, k.prefix, k.byte_length, ",
    ratelimits_json!("key_id = k.id"),
    " AS key_ratelimits, \
     (SELECT json_group_array(p.slug ORDER BY p.slug) FROM permissions p \
      WHERE p.id IN (SELECT kp.permission_id FROM keys_permissions kp WHERE kp.key_id = k.id) \
         OR p.id IN (SELECT rp.permission_id FROM keys_roles kr \
                     JOIN roles_permissions rp ON rp.role_id = kr.role_id WHERE kr.key_id = k.id)) \
     AS key_permissions, \
     (SELECT json_group_array(r.name ORDER BY r.name) FROM keys_roles kr JOIN roles r ON r.id = kr.role_id \
      WHERE kr.key_id = k.id) AS key_roles, ",
    identity_columns!()
);
pub(crate) const KEY_FROM: &str = "keys k LEFT JOIN identities i ON i.id = k.identity_id AND i.deleted = 0";

pub(crate) const IDENTITY_SELECT: &str = concat!("SELECT ", identity_columns!(), " FROM identities i");

pub(crate) const ROOT_KEY_COLUMNS: &str = "id, workspace_id, hash, start, \"end\", name, \
     permissions, enabled, expires, created_at, last_used_at";

pub(crate) const API_SELECT: &str = "SELECT id, workspace_id, name, keyspace_id, recoverable, created_at, deleted_at, ip_allowlist, key_format FROM apis";

pub(crate) const WORKSPACE_SELECT: &str = "SELECT id, name, enabled, created_at FROM workspaces";

pub(crate) const NAMESPACE_SELECT: &str =
    "SELECT id, workspace_id, name, created_at, deleted_at FROM ratelimit_namespaces";

pub(crate) const PERMISSION_SELECT: &str =
    "SELECT id, workspace_id, name, slug, description, created_at FROM permissions";

/// A role with its permissions as one JSON array in slug order, so a page of roles is one query.
pub(crate) const ROLE_SELECT: &str = "SELECT r.id, r.workspace_id, r.name, r.description, r.created_at, \
     (SELECT json_group_array(json_object('id', p.id, 'workspace_id', p.workspace_id, 'name', p.name, \
             'slug', p.slug, 'description', p.description, 'created_at', p.created_at) ORDER BY p.slug) \
      FROM roles_permissions rp JOIN permissions p ON p.id = rp.permission_id WHERE rp.role_id = r.id) \
     AS role_permissions \
     FROM roles r";

pub(crate) const OVERRIDE_COLUMNS: &str = "id, workspace_id, namespace_id, identifier, \"limit\", duration, created_at";

pub(crate) fn get<'r, T>(row: &'r SqliteRow, column: &str) -> StoreResult<T>
where
    T: Decode<'r, Sqlite> + Type<Sqlite>,
{
    row.try_get(column).map_err(|e| StoreError::Corrupt(format!("column {column}: {e}")))
}

pub(crate) fn to_json(value: &impl Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: DeserializeOwned>(text: &str, column: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("column {column}: {e}")))
}

fn json_column<T: DeserializeOwned>(row: &SqliteRow, column: &str) -> StoreResult<Option<T>> {
    get::<Option<String>>(row, column)?.map(|text| from_json(&text, column)).transpose()
}

pub(crate) fn meta_text(meta: Option<&JsonObject>) -> StoreResult<Option<String>> {
    meta.map(to_json).transpose()
}

/// `LIMIT` for a page: one row more than asked, so the caller can tell whether more exist.
pub(crate) fn page_limit(page: &PageRequest) -> i64 {
    limit_param(page.limit.saturating_add(1))
}

/// SQLite binds integers as i64; a limit beyond that is "no limit" in practice.
pub(crate) fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The `remaining`, `refill_amount`, `refill_day` columns of some credits.
pub(crate) fn credit_columns(credits: &Credits) -> (Option<i64>, Option<i64>, Option<i64>) {
    (credits.remaining, credits.refill.map(|r| r.amount), credits.refill.and_then(|r| r.day).map(i64::from))
}

pub(crate) fn credits(row: &SqliteRow) -> StoreResult<Credits> {
    let remaining = get(row, "remaining")?;
    let amount: Option<i64> = get(row, "refill_amount")?;
    let day: Option<i64> = get(row, "refill_day")?;
    let refill = match (amount, day) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(StoreError::Corrupt("refill_day without refill_amount".into()));
        }
        (Some(amount), day) => Some(Refill {
            amount,
            day: day.map(u8::try_from).transpose().map_err(|_| StoreError::Corrupt(format!("refill_day {day:?}")))?,
        }),
    };
    Ok(Credits { remaining, refill })
}

/// The identity columns of [`KEY_COLUMNS`] or [`IDENTITY_SELECT`]; `None` when there is none.
pub(crate) fn identity(row: &SqliteRow) -> StoreResult<Option<Identity>> {
    let Some(id) = get::<Option<String>>(row, "identity_id")? else {
        return Ok(None);
    };
    let meta: Option<JsonObject> = json_column(row, "identity_meta")?;
    Ok(Some(Identity {
        id,
        workspace_id: get(row, "identity_workspace_id")?,
        external_id: get(row, "identity_external_id")?,
        meta: meta.filter(|m| !m.is_empty()),
        ratelimits: ratelimits(row, "identity_ratelimits")?,
    }))
}

/// One element of a [`ratelimits_json`] array.
#[derive(Deserialize)]
struct RatelimitJson {
    id: String,
    name: String,
    limit: i64,
    duration: i64,
    auto_apply: i64,
}

fn ratelimits(row: &SqliteRow, column: &str) -> StoreResult<Vec<RatelimitConfig>> {
    let configs: Vec<RatelimitJson> = from_json(&get::<String>(row, column)?, column)?;
    Ok(configs
        .into_iter()
        .map(|c| RatelimitConfig {
            id: c.id,
            name: c.name,
            limit: c.limit,
            duration: c.duration,
            auto_apply: c.auto_apply != 0,
        })
        .collect())
}

/// The `prefix` and `byte_length` columns of a key; see [`KeyShape::stored`].
fn key_shape(row: &SqliteRow) -> StoreResult<KeyShape> {
    let byte_length: Option<i64> = get(row, "byte_length")?;
    let byte_length = byte_length
        .map(usize::try_from)
        .transpose()
        .map_err(|_| StoreError::Corrupt(format!("byte_length {byte_length:?}")))?;
    Ok(KeyShape::stored(get(row, "prefix")?, byte_length, &get::<String>(row, "start")?))
}

/// The `prefix` and `byte_length` columns to store for a key's shape.
pub(crate) fn shape_columns(shape: Option<&KeyShape>) -> (Option<&str>, Option<i64>) {
    match shape {
        Some(shape) => (shape.prefix.as_deref(), Some(i64::try_from(shape.byte_length).unwrap_or(i64::MAX))),
        None => (None, None),
    }
}

pub(crate) fn key(row: &SqliteRow) -> StoreResult<Key> {
    Ok(Key {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        api_id: get(row, "api_id")?,
        keyspace_id: get(row, "keyspace_id")?,
        hash: KeyHash::from_stored(get::<String>(row, "hash")?),
        start: get(row, "start")?,
        shape: key_shape(row)?,
        name: get(row, "name")?,
        meta: json_column(row, "meta")?,
        identity: identity(row)?,
        enabled: get(row, "enabled")?,
        expires: get(row, "expires")?,
        credits: credits(row)?,
        ratelimits: ratelimits(row, "key_ratelimits")?,
        permissions: from_json(&get::<String>(row, "key_permissions")?, "key_permissions")?,
        roles: from_json(&get::<String>(row, "key_roles")?, "key_roles")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        last_used_at: get(row, "last_used_at")?,
    })
}

pub(crate) fn permission(row: &SqliteRow) -> StoreResult<Permission> {
    Ok(Permission {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        name: get(row, "name")?,
        slug: get(row, "slug")?,
        description: get(row, "description")?,
        created_at: get(row, "created_at")?,
    })
}

/// One element of [`ROLE_SELECT`]'s permissions array.
#[derive(Deserialize)]
struct PermissionJson {
    id: String,
    workspace_id: String,
    name: String,
    slug: String,
    description: Option<String>,
    created_at: i64,
}

pub(crate) fn role(row: &SqliteRow) -> StoreResult<Role> {
    let permissions: Vec<PermissionJson> = from_json(&get::<String>(row, "role_permissions")?, "role_permissions")?;
    Ok(Role {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        permissions: permissions
            .into_iter()
            .map(|p| Permission {
                id: p.id,
                workspace_id: p.workspace_id,
                name: p.name,
                slug: p.slug,
                description: p.description,
                created_at: p.created_at,
            })
            .collect(),
        created_at: get(row, "created_at")?,
    })
}

pub(crate) fn root_key(row: &SqliteRow) -> StoreResult<RootKey> {
    Ok(RootKey {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        hash: KeyHash::from_stored(get::<String>(row, "hash")?),
        start: get(row, "start")?,
        end: get(row, "end")?,
        name: get(row, "name")?,
        permissions: from_json(&get::<String>(row, "permissions")?, "permissions")?,
        enabled: get(row, "enabled")?,
        expires: get(row, "expires")?,
        created_at: get(row, "created_at")?,
        last_used_at: get(row, "last_used_at")?,
    })
}

pub(crate) fn api(row: &SqliteRow) -> StoreResult<Api> {
    Ok(Api {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        name: get(row, "name")?,
        keyspace_id: get(row, "keyspace_id")?,
        recoverable: get(row, "recoverable")?,
        created_at: get(row, "created_at")?,
        deleted_at: get(row, "deleted_at")?,
        ip_allowlist: ip_allowlist(row)?,
        key_format: KeyFormat::parse(&get::<String>(row, "key_format")?)
            .ok_or_else(|| StoreError::Corrupt("column key_format".into()))?,
    })
}

/// The `ip_allowlist` column of `apis` (also selected under that name with a key).
pub(crate) fn ip_allowlist(row: &SqliteRow) -> StoreResult<IpRanges> {
    IpRanges::from_stored(&get::<String>(row, "ip_allowlist")?)
        .map_err(|e| StoreError::Corrupt(format!("column ip_allowlist: {e}")))
}

pub(crate) fn namespace(row: &SqliteRow) -> StoreResult<Namespace> {
    Ok(Namespace {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        name: get(row, "name")?,
        created_at: get(row, "created_at")?,
        deleted_at: get(row, "deleted_at")?,
    })
}

pub(crate) fn limit_override(row: &SqliteRow) -> StoreResult<Override> {
    Ok(Override {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        namespace_id: get(row, "namespace_id")?,
        identifier: get(row, "identifier")?,
        limit: get(row, "limit")?,
        duration: get(row, "duration")?,
        created_at: get(row, "created_at")?,
    })
}

pub(crate) fn workspace(row: &SqliteRow) -> StoreResult<Workspace> {
    Ok(Workspace {
        id: get(row, "id")?,
        name: get(row, "name")?,
        enabled: get(row, "enabled")?,
        created_at: get(row, "created_at")?,
    })
}

pub(crate) fn audit_event(row: &SqliteRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        event: get(row, "event")?,
        description: get(row, "description")?,
        actor: from_json(&get::<String>(row, "actor")?, "actor")?,
        targets: from_json(&get::<String>(row, "targets")?, "targets")?,
        time: get(row, "time")?,
        request_id: get(row, "request_id")?,
    })
}
