use super::common::{RatelimitBody, RefillBody, no_null, patch};
use crate::validate::{Validate, Violations};
use keyway_domain::Patch;
use keyway_domain::time::MAX_EXPIRES_MS;
use keyway_store::JsonObject;
use serde::{Deserialize, Serialize};

pub(super) fn external_id(v: &mut Violations, value: &str) {
    v.len_between("externalId", value, 1, 255);
    v.charset("externalId", value, "_.-", "^[a-zA-Z0-9_.-]+$");
}

pub(super) fn meta(v: &mut Violations, value: &JsonObject) {
    v.max_properties("meta", value.len(), 100);
}

/// `roles` (≤100 names) and `permissions` (≤1000 slugs) of createKey and updateKey.
pub(super) fn rbac(v: &mut Violations, roles: &Option<Vec<String>>, permissions: &Option<Vec<String>>) {
    if let Some(roles) = roles {
        v.items_between("roles", roles.len(), 0, 100);
        for role in roles {
            v.len_between("roles", role, 1, 128);
        }
    }
    if let Some(permissions) = permissions {
        v.items_between("permissions", permissions.len(), 0, 1000);
        for p in permissions {
            super::permissions::slug(v, "permissions", p);
        }
    }
}

/// `KeyCreditsData` in requests: `remaining` is required and nullable.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreditsBody {
    #[serde(deserialize_with = "patch")]
    pub remaining: Patch<i64>,
    pub refill: Option<RefillBody>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKeyBody {
    pub api_id: String,
    pub prefix: Option<String>,
    pub name: Option<String>,
    pub byte_length: Option<i64>,
    pub external_id: Option<String>,
    pub meta: Option<JsonObject>,
    pub roles: Option<Vec<String>>,
    pub permissions: Option<Vec<String>>,
    pub expires: Option<i64>,
    pub credits: Option<CreditsBody>,
    pub ratelimits: Option<Vec<RatelimitBody>>,
    pub enabled: Option<bool>,
    #[serde(default)]
    pub recoverable: bool,
}

impl Validate for CreateKeyBody {
    fn validate(&self, v: &mut Violations) {
        v.identifier("apiId", &self.api_id, 3);
        if let Some(prefix) = &self.prefix {
            v.len_between("prefix", prefix, 1, 16);
            v.charset("prefix", prefix, "_", "^[a-zA-Z0-9_]+$");
        }
        if let Some(name) = &self.name {
            v.len_between("name", name, 1, 255);
        }
        if let Some(len) = self.byte_length {
            v.int_between("byteLength", len, 16, 255);
        }
        if let Some(id) = &self.external_id {
            external_id(v, id);
        }
        if let Some(m) = &self.meta {
            meta(v, m);
        }
        if let Some(expires) = self.expires {
            v.int_between("expires", expires, 0, MAX_EXPIRES_MS);
        }
        if let Some(credits) = &self.credits {
            if let Patch::Set(r) = credits.remaining {
                v.int_between("credits.remaining", r, 0, i64::MAX);
            }
            if let Some(refill) = &credits.refill {
                refill.validate("credits.refill", v);
            }
        }
        rbac(v, &self.roles, &self.permissions);
        if let Some(ratelimits) = &self.ratelimits {
            RatelimitBody::validate_all(ratelimits, v);
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyData {
    pub key_id: String,
    pub key: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetKeyBody {
    pub key_id: String,
    #[serde(default)]
    pub decrypt: bool,
}

impl Validate for GetKeyBody {
    fn validate(&self, v: &mut Violations) {
        v.identifier("keyId", &self.key_id, 3);
    }
}

/// whoami and verifyKey carry the plaintext key.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WhoamiBody {
    pub key: String,
}

impl Validate for WhoamiBody {
    fn validate(&self, v: &mut Violations) {
        v.len_between("key", &self.key, 1, 512);
    }
}

/// `credits` of updateKey: each part three-state.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCreditsPart {
    #[serde(default, deserialize_with = "patch")]
    pub remaining: Patch<i64>,
    #[serde(default, deserialize_with = "patch")]
    pub refill: Patch<RefillBody>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateKeyBody {
    pub key_id: String,
    #[serde(default, deserialize_with = "patch")]
    pub name: Patch<String>,
    #[serde(default, deserialize_with = "patch")]
    pub external_id: Patch<String>,
    #[serde(default, deserialize_with = "patch")]
    pub meta: Patch<JsonObject>,
    #[serde(default, deserialize_with = "patch")]
    pub expires: Patch<i64>,
    #[serde(default, deserialize_with = "patch")]
    pub credits: Patch<UpdateCreditsPart>,
    // These four are not three-state: the schema refuses `null` for them (reference §3.5).
    #[serde(default, deserialize_with = "no_null")]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "no_null")]
    pub roles: Option<Vec<String>>,
    #[serde(default, deserialize_with = "no_null")]
    pub permissions: Option<Vec<String>>,
    #[serde(default, deserialize_with = "no_null")]
    pub ratelimits: Option<Vec<RatelimitBody>>,
}

impl Validate for UpdateKeyBody {
    fn validate(&self, v: &mut Violations) {
        v.identifier("keyId", &self.key_id, 3);
        if let Patch::Set(name) = &self.name {
            v.len_between("name", name, 1, 255);
        }
        if let Patch::Set(id) = &self.external_id {
            external_id(v, id);
        }
        if let Patch::Set(m) = &self.meta {
            meta(v, m);
        }
        if let Patch::Set(expires) = self.expires {
            v.int_between("expires", expires, 0, MAX_EXPIRES_MS);
        }
        if let Patch::Set(credits) = &self.credits {
            if let Patch::Set(r) = credits.remaining {
                v.int_between("credits.remaining", r, 0, i64::MAX);
            }
            if let Patch::Set(refill) = &credits.refill {
                refill.validate("credits.refill", v);
            }
        }
        rbac(v, &self.roles, &self.permissions);
        if let Some(ratelimits) = &self.ratelimits {
            RatelimitBody::validate_all(ratelimits, v);
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CreditsOp {
    Set,
    Increment,
    Decrement,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCreditsBody {
    pub key_id: String,
    pub operation: CreditsOp,
    #[serde(default, deserialize_with = "patch")]
    pub value: Patch<i64>,
}

impl Validate for UpdateCreditsBody {
    fn validate(&self, v: &mut Violations) {
        v.len_between("keyId", &self.key_id, 3, 255);
        if let Patch::Set(value) = self.value {
            v.int_between("value", value, 0, i64::MAX);
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteKeyBody {
    pub key_id: String,
    #[serde(default)]
    pub permanent: bool,
}

impl Validate for DeleteKeyBody {
    fn validate(&self, v: &mut Violations) {
        v.identifier("keyId", &self.key_id, 3);
    }
}
