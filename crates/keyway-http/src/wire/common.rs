use crate::error::Meta;
use crate::request_meta;
use crate::validate::Violations;
use axum::Json;
use axum::response::{IntoResponse, Response};
use keyway_core::Page;
use keyway_core::RatelimitInput;
use keyway_domain::Patch;
use keyway_domain::credits::{Credits, RefillInterval, RefillSpec};
use keyway_domain::key_material::Secret;
use keyway_store::{Identity, JsonObject, Key, RatelimitConfig};
use serde::{Deserialize, Deserializer, Serialize};

/// `{meta, data}`.
pub struct Data<T>(pub T);

/// `{meta, data, pagination}`.
pub struct Paginated<T>(pub Page<T>);

/// `{meta}` alone, for the operations whose response has no `data`.
pub struct MetaOnly;

impl IntoResponse for MetaOnly {
    fn into_response(self) -> Response {
        Json(serde_json::json!({ "meta": meta() })).into_response()
    }
}

/// `{}`, the data of operations that return nothing.
#[derive(Serialize)]
pub struct Empty {}

#[derive(Serialize)]
struct DataEnvelope<T> {
    meta: Meta,
    data: T,
}

#[derive(Serialize)]
struct PageEnvelope<T> {
    meta: Meta,
    data: Vec<T>,
    pagination: Pagination,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pagination {
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
    has_more: bool,
}

fn meta() -> Meta {
    Meta { request_id: request_meta::current().request_id }
}

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        Json(DataEnvelope { meta: meta(), data: self.0 }).into_response()
    }
}

impl<T: Serialize> IntoResponse for Paginated<T> {
    fn into_response(self) -> Response {
        let Page { items, cursor } = self.0;
        let pagination = Pagination { has_more: cursor.is_some(), cursor };
        Json(PageEnvelope { meta: meta(), data: items, pagination }).into_response()
    }
}

/// A three-state field: absent → `Keep` (via `#[serde(default)]`), `null` → `Clear`, value → `Set`.
pub fn patch<'de, D, T>(d: D) -> Result<Patch<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Patch::from)
}

/// A field that may be absent or a value, but not `null`.
pub fn no_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefillBody {
    pub interval: RefillInterval,
    pub amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refill_day: Option<u8>,
}

impl RefillBody {
    pub fn spec(&self) -> RefillSpec {
        RefillSpec { interval: self.interval, amount: self.amount, refill_day: self.refill_day }
    }

    pub fn validate(&self, field: &str, v: &mut Violations) {
        v.int_between(&format!("{field}.amount"), self.amount, 1, i64::MAX);
        if let Some(day) = self.refill_day {
            v.int_between(&format!("{field}.refillDay"), day.into(), 1, 31);
        }
    }
}

/// `KeyCreditsData`: `remaining` is required and `null` means unlimited.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditsData {
    pub remaining: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refill: Option<RefillBody>,
}

impl From<Credits> for CreditsData {
    fn from(c: Credits) -> Self {
        CreditsData {
            remaining: c.remaining,
            refill: c.refill.map(|r| RefillBody { interval: r.interval(), amount: r.amount, refill_day: r.day }),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityData {
    pub id: String,
    pub external_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<JsonObject>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ratelimits: Vec<RatelimitData>,
}

impl From<&Identity> for IdentityData {
    fn from(i: &Identity) -> Self {
        IdentityData {
            id: i.id.clone(),
            external_id: i.external_id.clone(),
            meta: non_empty(i.meta.clone()),
            ratelimits: i.ratelimits.iter().map(RatelimitData::from).collect(),
        }
    }
}

/// The largest `limit` of a rate limit configured on a key or an identity.
pub const MAX_CONFIGURED_LIMIT: i64 = 1_000_000;
/// The longest `duration` (ms, 30 days) of any rate limit (reference §2, §5.3).
pub const MAX_RATELIMIT_DURATION: i64 = 2_592_000_000;

/// `RatelimitRequest`: a limit configured on a key or an identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RatelimitBody {
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub auto_apply: bool,
}

impl RatelimitBody {
    pub fn validate_all(items: &[RatelimitBody], v: &mut Violations) {
        if items.len() > 50 {
            v.push("ratelimits", "maxItems", format!("maxItems: got {}, want 50", items.len()));
        }
        for r in items {
            v.len_between("ratelimits.name", &r.name, 3, 128);
            // The bounds that `RatelimitResponse` promises (reference §2): what is stored here
            // is answered by getKey, getIdentity and updateIdentity, so it must fit that schema.
            v.int_between("ratelimits.limit", r.limit, 1, MAX_CONFIGURED_LIMIT);
            v.int_between("ratelimits.duration", r.duration, 1000, MAX_RATELIMIT_DURATION);
        }
    }

    pub fn input(self) -> RatelimitInput {
        RatelimitInput { name: self.name, limit: self.limit, duration: self.duration, auto_apply: self.auto_apply }
    }
}

/// `RatelimitResponse`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RatelimitData {
    pub id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub auto_apply: bool,
}

impl From<&RatelimitConfig> for RatelimitData {
    fn from(r: &RatelimitConfig) -> Self {
        RatelimitData {
            id: r.id.clone(),
            name: r.name.clone(),
            limit: r.limit,
            duration: r.duration,
            auto_apply: r.auto_apply,
        }
    }
}

/// `KeyResponseData` (getKey, whoami, listKeys items).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyData {
    pub key_id: String,
    pub start: String,
    pub enabled: bool,
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<JsonObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<CreditsData>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityData>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ratelimits: Vec<RatelimitData>,
    /// Only with `decrypt`, for a recoverable key whose encrypted copy decrypts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<String>,
}

impl From<Key> for KeyData {
    fn from(k: Key) -> Self {
        KeyData {
            key_id: k.id,
            start: k.start,
            enabled: k.enabled,
            created_at: k.created_at,
            name: k.name.filter(|n| !n.is_empty()),
            meta: non_empty(k.meta),
            updated_at: k.updated_at.filter(|t| *t > 0),
            last_used_at: k.last_used_at.filter(|t| *t > 0),
            expires: k.expires,
            credits: k.credits.is_limited().then(|| k.credits.into()),
            identity: k.identity.as_ref().map(IdentityData::from),
            ratelimits: k.ratelimits.iter().map(RatelimitData::from).collect(),
            permissions: k.permissions,
            roles: k.roles,
            plaintext: None,
        }
    }
}

impl KeyData {
    /// The key as getKey and listKeys return it with `decrypt`.
    pub fn with_plaintext((key, plaintext): (Key, Option<Secret>)) -> Self {
        KeyData { plaintext: plaintext.map(|s| s.expose().to_string()), ..KeyData::from(key) }
    }
}

pub fn non_empty(meta: Option<JsonObject>) -> Option<JsonObject> {
    meta.filter(|m| !m.is_empty())
}
