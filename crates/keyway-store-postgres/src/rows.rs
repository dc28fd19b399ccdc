//! Row decoding and the column lists it expects, shared by every query that returns a resource.

use keyway_domain::credits::{Credits, Refill};
use keyway_domain::ip_allowlist::IpRanges;
use keyway_domain::key_material::{KeyFormat, KeyHash};
use keyway_domain::key_shape::KeyShape;
use keyway_store::{
    Api, AuditEvent, Identity, JsonObject, Key, Namespace, Override, Permission, RatelimitConfig, Role, RootKey,
    StoreError, StoreResult, Workspace,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{Decode, Postgres, Row, Type};

pub(crate) const WORKSPACE_COLUMNS: &str = "id, name, enabled, created_at";

pub(crate) const API_COLUMNS: &str =
    "id, workspace_id, name, keyspace_id, recoverable, created_at, deleted_at, ip_allowlist, key_format";

/// A JSON array of the rate limits whose `$owner` column equals `$id`, ordered by name, or NULL
/// when there are none. A subselect rather than a second query, so that a key (even the verify
/// lookup) or a page of keys comes back with all its configs in one round trip.
macro_rules! ratelimits_json {
    ($owner:literal, $id:literal) => {
        concat!(
            "(SELECT json_agg(json_build_object('id', r.id, 'name', r.name, 'limit', r.\"limit\", \
             'duration', r.duration, 'auto_apply', r.auto_apply) ORDER BY r.name)::text \
             FROM ratelimits r WHERE r.",
            $owner,
            " = ",
            $id,
            ")"
        )
    };
}

/// The columns of identity `i`, aliased so that they can sit beside a key's in one row.
macro_rules! identity_columns {
    () => {
        concat!(
            "i.id AS identity_id, i.workspace_id AS identity_workspace_id, \
             i.external_id AS identity_external_id, i.meta AS identity_meta, ",
            ratelimits_json!("identity_id", "i.id"),
            " AS identity_ratelimits"
        )
    };
}

/// A key with its rate limits, its identity, the slugs of its permissions (direct and through its
/// roles; distinct permissions have distinct slugs) and the names of its roles; pair with
/// [`KEY_FROM`]. Slugs and names are "C"-collated, so these arrays come in byte order.
pub(crate) const KEY_COLUMNS: &str = concat!(
    "k.id, k.workspace_id, k.api_id, k.keyspace_id, k.hash, \
     k.start, k.name, k.meta, k.enabled, k.expires, k.remaining, k.refill_amount, k.refill_day, \
     k.created_at, k.updated_at, k.last_used_at, k.prefix, k.byte_length, ",
    ratelimits_json!("key_id", "k.id"),
    " AS ratelimits, ",
    identity_columns!(),
    ", ARRAY(SELECT p.slug FROM permissions p \
             WHERE p.id IN (SELECT kp.permission_id FROM keys_permissions kp WHERE kp.key_id = k.id \
                            UNION SELECT rp.permission_id FROM keys_roles kr \
                            JOIN roles_permissions rp ON rp.role_id = kr.role_id WHERE kr.key_id = k.id) \
             ORDER BY p.slug) AS permission_slugs, \
     ARRAY(SELECT r.name FROM keys_roles kr JOIN roles r ON r.id = kr.role_id \
           WHERE kr.key_id = k.id ORDER BY r.name) AS role_names"
);

/// A deleted identity is no identity: the key keeps the link, but it is not shown.
pub(crate) const KEY_FROM: &str = "keys k LEFT JOIN identities i ON i.id = k.identity_id AND NOT i.deleted";

/// An identity on its own (`FROM identities i`), decoded by [`identity`].
pub(crate) const IDENTITY_COLUMNS: &str = identity_columns!();

pub(crate) const NAMESPACE_COLUMNS: &str = "id, workspace_id, name, created_at, deleted_at";

pub(crate) const OVERRIDE_COLUMNS: &str = "id, workspace_id, namespace_id, identifier, \"limit\", duration, created_at";

/// A permission of `permissions p`, decoded by [`permission`].
pub(crate) const PERMISSION_COLUMNS: &str = "p.id, p.workspace_id, p.name, p.slug, p.description, p.created_at";

/// A role of `roles r` with its permissions as a JSON array ordered by slug (NULL: none), decoded
/// by [`role`]. A subselect, so that a page of roles comes back in one round trip.
pub(crate) const ROLE_COLUMNS: &str = "r.id, r.workspace_id, r.name, r.description, r.created_at, \
     (SELECT json_agg(json_build_object('id', p.id, 'workspace_id', p.workspace_id, 'name', p.name, \
                                        'slug', p.slug, 'description', p.description, \
                                        'created_at', p.created_at) ORDER BY p.slug)::text \
      FROM roles_permissions rp JOIN permissions p ON p.id = rp.permission_id \
      WHERE rp.role_id = r.id) AS permissions";

pub(crate) const ROOT_KEY_COLUMNS: &str = "id, workspace_id, hash, start, \"end\", name, \
     permissions, enabled, expires, created_at, last_used_at";

pub(crate) const AUDIT_COLUMNS: &str = "id, workspace_id, event, description, actor, targets, time, request_id";

pub(crate) fn get<'r, T>(row: &'r PgRow, column: &str) -> StoreResult<T>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(column).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn from_json<T: DeserializeOwned>(text: &str, column: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn json_column<T: DeserializeOwned>(row: &PgRow, column: &str) -> StoreResult<T> {
    from_json(&get::<String>(row, column)?, column)
}

fn optional_json_column<T: DeserializeOwned>(row: &PgRow, column: &str) -> StoreResult<Option<T>> {
    get::<Option<String>>(row, column)?.map(|text| from_json(&text, column)).transpose()
}

/// JSON text for a TEXT column.
pub(crate) fn to_json(value: &impl Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn optional_json(value: Option<&JsonObject>) -> StoreResult<Option<String>> {
    value.map(to_json).transpose()
}

pub(crate) fn workspace(row: &PgRow) -> StoreResult<Workspace> {
    Ok(Workspace {
        id: get(row, "id")?,
        name: get(row, "name")?,
        enabled: get(row, "enabled")?,
        created_at: get(row, "created_at")?,
    })
}

pub(crate) fn api(row: &PgRow) -> StoreResult<Api> {
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
pub(crate) fn ip_allowlist(row: &PgRow) -> StoreResult<IpRanges> {
    IpRanges::from_stored(&get::<String>(row, "ip_allowlist")?)
        .map_err(|e| StoreError::Corrupt(format!("column ip_allowlist: {e}")))
}

/// One element of a [`ratelimits_json`] array.
#[derive(Deserialize)]
struct RatelimitJson {
    id: String,
    name: String,
    limit: i64,
    duration: i64,
    auto_apply: bool,
}

/// The rate limits aggregated into `column` (NULL: none).
fn ratelimits(row: &PgRow, column: &str) -> StoreResult<Vec<RatelimitConfig>> {
    let configs: Option<Vec<RatelimitJson>> = optional_json_column(row, column)?;
    Ok(configs
        .unwrap_or_default()
        .into_iter()
        .map(|r| RatelimitConfig {
            id: r.id,
            name: r.name,
            limit: r.limit,
            duration: r.duration,
            auto_apply: r.auto_apply,
        })
        .collect())
}

/// The identity columns of a row, `None` when the row has no (live) identity.
pub(crate) fn identity(row: &PgRow) -> StoreResult<Option<Identity>> {
    let Some(id) = get::<Option<String>>(row, "identity_id")? else {
        return Ok(None);
    };
    let meta: Option<JsonObject> = optional_json_column(row, "identity_meta")?;
    Ok(Some(Identity {
        id,
        workspace_id: get(row, "identity_workspace_id")?,
        external_id: get(row, "identity_external_id")?,
        meta: meta.filter(|m| !m.is_empty()),
        ratelimits: ratelimits(row, "identity_ratelimits")?,
    }))
}

/// Credits from their three columns.
pub(crate) fn credits(row: &PgRow) -> StoreResult<Credits> {
    let remaining: Option<i64> = get(row, "remaining")?;
    let amount: Option<i64> = get(row, "refill_amount")?;
    let day: Option<i16> = get(row, "refill_day")?;
    let refill = match (amount, day) {
        (None, None) => None,
        (Some(amount), day) => Some(Refill {
            amount,
            day: day
                .map(|d| u8::try_from(d).map_err(|_| StoreError::Corrupt(format!("refill_day out of range: {d}"))))
                .transpose()?,
        }),
        (None, Some(_)) => {
            return Err(StoreError::Corrupt("refill_day without refill_amount".into()));
        }
    };
    Ok(Credits { remaining, refill })
}

/// Credits as the values of `remaining`, `refill_amount`, `refill_day`.
pub(crate) fn credit_columns(credits: &Credits) -> (Option<i64>, Option<i64>, Option<i16>) {
    (credits.remaining, credits.refill.map(|r| r.amount), credits.refill.and_then(|r| r.day).map(i16::from))
}

/// The `prefix` and `byte_length` columns of a key; see [`KeyShape::stored`].
fn key_shape(row: &PgRow) -> StoreResult<KeyShape> {
    let byte_length: Option<i32> = get(row, "byte_length")?;
    let byte_length = byte_length
        .map(usize::try_from)
        .transpose()
        .map_err(|_| StoreError::Corrupt(format!("byte_length {byte_length:?}")))?;
    Ok(KeyShape::stored(get(row, "prefix")?, byte_length, &get::<String>(row, "start")?))
}

/// The `prefix` and `byte_length` columns to store for a key's shape.
pub(crate) fn shape_columns(shape: Option<&KeyShape>) -> (Option<&str>, Option<i32>) {
    match shape {
        Some(shape) => (shape.prefix.as_deref(), Some(i32::try_from(shape.byte_length).unwrap_or(i32::MAX))),
        None => (None, None),
    }
}

pub(crate) fn key(row: &PgRow) -> StoreResult<Key> {
    Ok(Key {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        api_id: get(row, "api_id")?,
        keyspace_id: get(row, "keyspace_id")?,
        hash: KeyHash::from_stored(get::<String>(row, "hash")?),
        start: get(row, "start")?,
        shape: key_shape(row)?,
        name: get(row, "name")?,
        meta: optional_json_column(row, "meta")?,
        identity: identity(row)?,
        enabled: get(row, "enabled")?,
        expires: get(row, "expires")?,
        credits: credits(row)?,
        ratelimits: ratelimits(row, "ratelimits")?,
        permissions: get(row, "permission_slugs")?,
        roles: get(row, "role_names")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        last_used_at: get(row, "last_used_at")?,
    })
}

pub(crate) fn permission(row: &PgRow) -> StoreResult<Permission> {
    Ok(Permission {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        name: get(row, "name")?,
        slug: get(row, "slug")?,
        description: get(row, "description")?,
        created_at: get(row, "created_at")?,
    })
}

/// One element of a role's `permissions` array.
#[derive(Deserialize)]
struct PermissionJson {
    id: String,
    workspace_id: String,
    name: String,
    slug: String,
    description: Option<String>,
    created_at: i64,
}

pub(crate) fn role(row: &PgRow) -> StoreResult<Role> {
    let permissions: Option<Vec<PermissionJson>> = optional_json_column(row, "permissions")?;
    Ok(Role {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        permissions: permissions
            .unwrap_or_default()
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

pub(crate) fn namespace(row: &PgRow) -> StoreResult<Namespace> {
    Ok(Namespace {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        name: get(row, "name")?,
        created_at: get(row, "created_at")?,
        deleted_at: get(row, "deleted_at")?,
    })
}

pub(crate) fn ratelimit_override(row: &PgRow) -> StoreResult<Override> {
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

pub(crate) fn root_key(row: &PgRow) -> StoreResult<RootKey> {
    Ok(RootKey {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        hash: KeyHash::from_stored(get::<String>(row, "hash")?),
        start: get(row, "start")?,
        end: get(row, "end")?,
        name: get(row, "name")?,
        permissions: json_column(row, "permissions")?,
        enabled: get(row, "enabled")?,
        expires: get(row, "expires")?,
        created_at: get(row, "created_at")?,
        last_used_at: get(row, "last_used_at")?,
    })
}

pub(crate) fn audit_event(row: &PgRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        event: get(row, "event")?,
        description: get(row, "description")?,
        actor: json_column(row, "actor")?,
        targets: json_column(row, "targets")?,
        time: get(row, "time")?,
        request_id: get(row, "request_id")?,
    })
}
