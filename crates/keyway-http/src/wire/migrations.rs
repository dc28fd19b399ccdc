//! `keys.migrateKeys` (reference §3.9) and Keyway's `migrations.createMigration`.

use super::common::RatelimitBody;
use super::keys::{CreditsBody, external_id, meta, rbac};
use crate::validate::{Validate, Violations};
use keyway_core::MAX_KEYS_PER_MIGRATION_CALL;
use keyway_domain::Patch;
use keyway_domain::migration::MigrationAlgorithm;
use keyway_domain::time::MAX_EXPIRES_MS;
use keyway_store::JsonObject;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateMigrationBody {
    pub algorithm: String,
}

impl Validate for CreateMigrationBody {
    fn validate(&self, v: &mut Violations) {
        if let Err(e) = self.algorithm.parse::<MigrationAlgorithm>() {
            v.push("algorithm", "enum", e.to_string());
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateMigrationData {
    pub migration_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MigrateKeysBody {
    pub migration_id: String,
    pub api_id: String,
    pub keys: Vec<MigrateKeyBody>,
}

/// One key to import. `start` is Keyway's extension: the visible beginning of the key, which
/// bcrypt and argon2 migrations need to find the key on its first verification.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MigrateKeyBody {
    pub hash: String,
    pub start: Option<String>,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub meta: Option<JsonObject>,
    pub roles: Option<Vec<String>>,
    pub permissions: Option<Vec<String>>,
    pub expires: Option<i64>,
    pub enabled: Option<bool>,
    pub credits: Option<CreditsBody>,
    pub ratelimits: Option<Vec<RatelimitBody>>,
}

impl Validate for MigrateKeysBody {
    fn validate(&self, v: &mut Violations) {
        v.len_between("migrationId", &self.migration_id, 3, 255);
        v.len_between("apiId", &self.api_id, 3, 255);
        v.items_between("keys", self.keys.len(), 1, MAX_KEYS_PER_MIGRATION_CALL);
        for key in &self.keys {
            v.len_between("keys.hash", &key.hash, 3, 1024);
            if let Some(name) = &key.name {
                v.len_between("keys.name", name, 1, 255);
            }
            if let Some(id) = &key.external_id {
                external_id(v, id);
            }
            if let Some(m) = &key.meta {
                meta(v, m);
            }
            if let Some(expires) = key.expires {
                v.int_between("keys.expires", expires, 0, MAX_EXPIRES_MS);
            }
            if let Some(credits) = &key.credits {
                if let Patch::Set(r) = credits.remaining {
                    v.int_between("keys.credits.remaining", r, 0, i64::MAX);
                }
                if let Some(refill) = &credits.refill {
                    refill.validate("keys.credits.refill", v);
                }
            }
            rbac(v, &key.roles, &key.permissions);
            if let Some(ratelimits) = &key.ratelimits {
                RatelimitBody::validate_all(ratelimits, v);
            }
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigratedKeyData {
    pub hash: String,
    pub key_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrateKeysData {
    pub migrated: Vec<MigratedKeyData>,
    /// `[]` when nothing failed: Unkey answers `null` there, which its own SDKs refuse.
    pub failed: Vec<String>,
}
