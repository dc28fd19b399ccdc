//! Row decoding and the column lists it expects, shared by every query that returns a resource.

use crate::columns::{Column, Columns};
use keyway_domain::credits::{Credits, Refill};
use keyway_domain::ip_allowlist::IpRanges;
use keyway_domain::key_material::{KeyFormat, KeyHash};
use keyway_domain::key_shape::KeyShape;
use keyway_store::{
    Api, AuditEvent, Identity, JsonObject, Key, Namespace, Override, Permission, RatelimitConfig, Role, RootKey,
    StoreError, StoreResult, Workspace,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// The column lists that aggregate child rows into JSON text, for a dialect whose JSON array
/// aggregate is `$array` (taking `ORDER BY`), whose object constructor is `$object`, and whose
/// aggregate becomes text with the suffix `$text`. Expands to [`crate::Backend`]'s constants; `@role` alone to the role columns.
/// An aggregate over no rows may be NULL or `[]`: the decoders take both as empty. Subselects
/// rather than second queries, so a key (even the verify lookup) or a page of keys or roles comes
/// back in one round trip.
#[macro_export]
macro_rules! json_columns {
    (@role $array:literal, $object:literal, $text:literal) => {
        concat!(
            "r.id, r.workspace_id, r.name, r.description, r.created_at, (SELECT ",
            $array,
            "(",
            $object,
            "('id', p.id, 'workspace_id', p.workspace_id, 'name', p.name, 'slug', p.slug, \
              'description', p.description, 'created_at', p.created_at) ORDER BY p.slug)",
            $text,
            " FROM roles_permissions rp JOIN permissions p ON p.id = rp.permission_id WHERE rp.role_id = r.id) \
             AS role_permissions"
        )
    };
    (@identity $array:literal, $object:literal, $text:literal) => {
        concat!(
            "i.id AS identity_id, i.workspace_id AS identity_workspace_id, \
             i.external_id AS identity_external_id, i.meta AS identity_meta, ",
            $crate::json_columns!(@ratelimits $array, $object, $text, "identity_id = i.id"),
            " AS identity_ratelimits"
        )
    };
    (@ratelimits $array:literal, $object:literal, $text:literal, $owner:literal) => {
        concat!(
            "(SELECT ",
            $array,
            "(",
            $object,
            "('id', r.id, 'name', r.name, 'limit', r.\"limit\", 'duration', r.duration, \
              'auto_apply', r.auto_apply) ORDER BY r.name)",
            $text,
            " FROM ratelimits r WHERE r.",
            $owner,
            ")"
        )
    };
    ($array:literal, $object:literal, $text:literal) => {
        const KEY_COLUMNS: &'static str = concat!(
            "k.id, k.workspace_id, k.api_id, k.keyspace_id, k.hash, \
             k.start, k.name, k.meta, k.enabled, k.expires, k.remaining, k.refill_amount, k.refill_day, \
             k.created_at, k.updated_at, k.last_used_at, k.prefix, k.byte_length, ",
            $crate::json_columns!(@ratelimits $array, $object, $text, "key_id = k.id"),
            " AS key_ratelimits, (SELECT ",
            $array,
            "(p.slug ORDER BY p.slug)",
            $text,
            " FROM permissions p \
              WHERE p.id IN (SELECT kp.permission_id FROM keys_permissions kp WHERE kp.key_id = k.id \
                             UNION SELECT rp.permission_id FROM keys_roles kr \
                             JOIN roles_permissions rp ON rp.role_id = kr.role_id WHERE kr.key_id = k.id)) \
             AS key_permissions, (SELECT ",
            $array,
            "(r.name ORDER BY r.name)",
            $text,
            " FROM keys_roles kr JOIN roles r ON r.id = kr.role_id WHERE kr.key_id = k.id) AS key_roles, ",
            $crate::json_columns!(@identity $array, $object, $text)
        );
        const IDENTITY_COLUMNS: &'static str = $crate::json_columns!(@identity $array, $object, $text);
        const ROLE_COLUMNS: &'static str = $crate::json_columns!(@role $array, $object, $text);
    };
}

/// A key's table with its live identity: a deleted identity is no identity (the key keeps the
/// link, but it is not shown).
pub const KEY_FROM: &str = "keys k LEFT JOIN identities i ON i.id = k.identity_id AND NOT i.deleted";

pub const WORKSPACE_COLUMNS: &str = "id, name, enabled, created_at";

pub const API_COLUMNS: &str =
    "id, workspace_id, name, keyspace_id, recoverable, created_at, deleted_at, ip_allowlist, key_format";

pub const NAMESPACE_COLUMNS: &str = "id, workspace_id, name, created_at, deleted_at";

pub const OVERRIDE_COLUMNS: &str = "id, workspace_id, namespace_id, identifier, \"limit\", duration, created_at";

/// A permission of `permissions p`, decoded by [`permission`].
pub const PERMISSION_COLUMNS: &str = "p.id, p.workspace_id, p.name, p.slug, p.description, p.created_at";

pub const ROOT_KEY_COLUMNS: &str = "id, workspace_id, hash, start, \"end\", name, \
     permissions, enabled, expires, created_at, last_used_at";

pub const AUDIT_COLUMNS: &str = "id, workspace_id, event, description, actor, targets, time, request_id";

/// One column of a row, as `T` (`Option<T>` where it may be NULL).
pub fn get<T: Column>(row: &(impl Columns + ?Sized), column: &str) -> StoreResult<T> {
    T::get(row, column)
}

/// JSON text for a TEXT column.
pub fn to_json(value: &impl Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub fn optional_json(value: Option<&JsonObject>) -> StoreResult<Option<String>> {
    value.map(to_json).transpose()
}

fn json_column<T: DeserializeOwned>(row: &impl Columns, column: &str) -> StoreResult<Option<T>> {
    get::<Option<String>>(row, column)?
        .map(|text| serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("column {column}: {e}"))))
        .transpose()
}

/// A JSON array aggregated by [`json_columns`]: NULL (PostgreSQL, over no rows) is empty too.
fn json_array<T: DeserializeOwned>(row: &impl Columns, column: &str) -> StoreResult<Vec<T>> {
    Ok(json_column(row, column)?.unwrap_or_default())
}

/// A page's `LIMIT`: one row more than asked, so the caller can tell whether more exist.
pub fn page_limit(limit: usize) -> i64 {
    limit_param(limit).saturating_add(1)
}

/// Integers bind as i64; a limit beyond that is "no limit" in practice.
pub fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// A `LIKE` pattern matching `search` anywhere, with `\`, `%` and `_` taken literally (the
/// queries say `ESCAPE '\'`).
pub fn contains_pattern(search: &str) -> String {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for c in search.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Credits from their `remaining`, `refill_amount`, `refill_day` columns.
pub fn credits(row: &impl Columns) -> StoreResult<Credits> {
    let remaining = get(row, "remaining")?;
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
pub fn credit_columns(credits: &Credits) -> (Option<i64>, Option<i64>, Option<i16>) {
    (credits.remaining, credits.refill.map(|r| r.amount), credits.refill.and_then(|r| r.day).map(i16::from))
}

/// The `prefix` and `byte_length` columns of a key; see [`KeyShape::stored`].
fn key_shape(row: &impl Columns) -> StoreResult<KeyShape> {
    let byte_length: Option<i32> = get(row, "byte_length")?;
    let byte_length = byte_length
        .map(usize::try_from)
        .transpose()
        .map_err(|_| StoreError::Corrupt(format!("byte_length {byte_length:?}")))?;
    Ok(KeyShape::stored(get(row, "prefix")?, byte_length, &get::<String>(row, "start")?))
}

/// The `prefix` and `byte_length` columns to store for a key's shape.
pub fn shape_columns(shape: Option<&KeyShape>) -> (Option<&str>, Option<i32>) {
    match shape {
        Some(shape) => (shape.prefix.as_deref(), Some(i32::try_from(shape.byte_length).unwrap_or(i32::MAX))),
        None => (None, None),
    }
}

/// JSON booleans: SQLite's JSON functions write a boolean column as 0 or 1.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Int(i64),
    }
    Ok(match Flag::deserialize(d)? {
        Flag::Bool(b) => b,
        Flag::Int(i) => i != 0,
    })
}

/// One element of a rate limits array of [`json_columns`].
#[derive(Deserialize)]
struct RatelimitJson {
    id: String,
    name: String,
    limit: i64,
    duration: i64,
    #[serde(deserialize_with = "flag")]
    auto_apply: bool,
}

fn ratelimits(row: &impl Columns, column: &str) -> StoreResult<Vec<RatelimitConfig>> {
    let configs: Vec<RatelimitJson> = json_array(row, column)?;
    Ok(configs
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
pub fn identity(row: &impl Columns) -> StoreResult<Option<Identity>> {
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

pub fn key(row: &impl Columns) -> StoreResult<Key> {
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
        permissions: json_array(row, "key_permissions")?,
        roles: json_array(row, "key_roles")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        last_used_at: get(row, "last_used_at")?,
    })
}

pub fn permission(row: &impl Columns) -> StoreResult<Permission> {
    Ok(Permission {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        name: get(row, "name")?,
        slug: get(row, "slug")?,
        description: get(row, "description")?,
        created_at: get(row, "created_at")?,
    })
}

/// One element of a role's permissions array.
#[derive(Deserialize)]
struct PermissionJson {
    id: String,
    workspace_id: String,
    name: String,
    slug: String,
    description: Option<String>,
    created_at: i64,
}

pub fn role(row: &impl Columns) -> StoreResult<Role> {
    let permissions: Vec<PermissionJson> = json_array(row, "role_permissions")?;
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

pub fn root_key(row: &impl Columns) -> StoreResult<RootKey> {
    Ok(RootKey {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        hash: KeyHash::from_stored(get::<String>(row, "hash")?),
        start: get(row, "start")?,
        end: get(row, "end")?,
        name: get(row, "name")?,
        permissions: json_column(row, "permissions")?.unwrap_or_default(),
        enabled: get(row, "enabled")?,
        expires: get(row, "expires")?,
        created_at: get(row, "created_at")?,
        last_used_at: get(row, "last_used_at")?,
    })
}

pub fn api(row: &impl Columns) -> StoreResult<Api> {
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
pub fn ip_allowlist(row: &impl Columns) -> StoreResult<IpRanges> {
    IpRanges::from_stored(&get::<String>(row, "ip_allowlist")?)
        .map_err(|e| StoreError::Corrupt(format!("column ip_allowlist: {e}")))
}

pub fn namespace(row: &impl Columns) -> StoreResult<Namespace> {
    Ok(Namespace {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        name: get(row, "name")?,
        created_at: get(row, "created_at")?,
        deleted_at: get(row, "deleted_at")?,
    })
}

pub fn ratelimit_override(row: &impl Columns) -> StoreResult<Override> {
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

pub fn workspace(row: &impl Columns) -> StoreResult<Workspace> {
    Ok(Workspace {
        id: get(row, "id")?,
        name: get(row, "name")?,
        enabled: get(row, "enabled")?,
        created_at: get(row, "created_at")?,
    })
}

pub fn audit_event(row: &impl Columns) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        event: get(row, "event")?,
        description: get(row, "description")?,
        actor: json_column(row, "actor")?.ok_or_else(|| StoreError::Corrupt("column actor: NULL".into()))?,
        targets: json_array(row, "targets")?,
        time: get(row, "time")?,
        request_id: get(row, "request_id")?,
    })
}
