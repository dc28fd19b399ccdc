use super::common::{no_null, patch};
use crate::validate::{Validate, Violations};
use keyway_domain::Patch;
use keyway_store::RootKey;
use serde::{Deserialize, Serialize};

fn permissions(v: &mut Violations, permissions: &[String]) {
    if permissions.len() > 1000 {
        v.push("permissions", "maxItems", format!("maxItems: got {}, want 1000", permissions.len()));
    }
    for p in permissions {
        v.len_between("permissions", p, 1, 512);
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRootKeyBody {
    pub permissions: Vec<String>,
    pub name: Option<String>,
    pub expires: Option<i64>,
}

impl Validate for CreateRootKeyBody {
    fn validate(&self, v: &mut Violations) {
        permissions(v, &self.permissions);
        if let Some(name) = &self.name {
            v.len_between("name", name, 1, 255);
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListRootKeysBody {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl Validate for ListRootKeysBody {
    fn validate(&self, v: &mut Violations) {
        if let Some(limit) = self.limit {
            v.int_between("limit", limit, 1, 100);
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RootKeyData {
    pub key_id: String,
    pub name: Option<String>,
    pub start: String,
    pub end: String,
    pub enabled: bool,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires: Option<i64>,
    pub permissions: Vec<String>,
}

impl From<RootKey> for RootKeyData {
    fn from(k: RootKey) -> Self {
        RootKeyData {
            key_id: k.id,
            name: k.name,
            start: k.start,
            end: k.end,
            enabled: k.enabled,
            created_at: k.created_at,
            last_used_at: k.last_used_at.unwrap_or(0),
            expires: k.expires,
            permissions: k.permissions,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateRootKeyBody {
    pub key_id: String,
    #[serde(default, deserialize_with = "patch")]
    pub name: Patch<String>,
    #[serde(default, deserialize_with = "no_null")]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "no_null")]
    pub permissions: Option<Vec<String>>,
}

impl Validate for UpdateRootKeyBody {
    fn validate(&self, v: &mut Violations) {
        v.identifier("keyId", &self.key_id, 3);
        if let Patch::Set(name) = &self.name {
            v.len_between("name", name, 1, 255);
        }
        if let Some(p) = &self.permissions {
            permissions(v, p);
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RerollRootKeyBody {
    pub key_id: String,
    /// Required, nullable: `null` keeps the original key's expiry.
    #[serde(deserialize_with = "patch")]
    pub expiration: Patch<i64>,
}

impl Validate for RerollRootKeyBody {
    fn validate(&self, v: &mut Violations) {
        v.identifier("keyId", &self.key_id, 3);
        if let Patch::Set(ms) = self.expiration {
            v.int_between("expiration", ms, 0, 4_102_444_800_000);
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RootKeyIdBody {
    pub key_id: String,
}

impl Validate for RootKeyIdBody {
    fn validate(&self, v: &mut Violations) {
        v.identifier("keyId", &self.key_id, 3);
    }
}
