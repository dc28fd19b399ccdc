use super::common::{IdentityData, non_empty};
use crate::validate::{Validate, Violations};
use keyway_core::Verification;
use keyway_domain::verify::VerifyCode;
use keyway_store::JsonObject;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyCredits {
    pub cost: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyKeyBody {
    pub key: String,
    /// Free-form analytics labels; they never affect the decision.
    pub tags: Option<Vec<String>>,
    pub permissions: Option<String>,
    pub credits: Option<VerifyCredits>,
    pub ratelimits: Option<Vec<serde_json::Value>>,
    pub migration_id: Option<String>,
}

impl Validate for VerifyKeyBody {
    fn validate(&self, v: &mut Violations) {
        v.len_between("key", &self.key, 1, 512);
        if let Some(tags) = &self.tags {
            if tags.len() > 20 {
                v.push("tags", "maxItems", format!("maxItems: got {}, want 20", tags.len()));
            }
            for tag in tags {
                v.len_between("tags", tag, 1, 512);
            }
        }
        if let Some(credits) = &self.credits {
            v.int_between("credits.cost", credits.cost, 0, 1_000_000_000_000);
        }
        if let Some(id) = &self.migration_id {
            v.len_between("migrationId", id, 1, 256);
        }
        v.unsupported("permissions", self.permissions.is_some());
        v.unsupported("ratelimits", self.ratelimits.as_ref().is_some_and(|r| !r.is_empty()));
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyKeyData {
    pub valid: bool,
    pub code: VerifyCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<JsonObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityData>,
}

impl From<Verification> for VerifyKeyData {
    fn from(v: Verification) -> Self {
        let key = v.record.as_ref().map(|r| &r.key);
        VerifyKeyData {
            valid: v.code.is_valid(),
            code: v.code,
            key_id: key.map(|k| k.id.clone()),
            name: key.and_then(|k| k.name.clone()).filter(|n| !n.is_empty()),
            meta: non_empty(key.and_then(|k| k.meta.clone())),
            expires: key.and_then(|k| k.expires),
            credits: v.credits,
            enabled: key.map(|k| k.enabled),
            identity: key.and_then(|k| k.identity.as_ref()).map(IdentityData::from),
        }
    }
}
