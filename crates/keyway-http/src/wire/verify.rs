use super::common::{IdentityData, non_empty};
use crate::validate::{Validate, Violations};
use keyway_core::{AppliedLimit, Verification};
use keyway_domain::verify::VerifyCode;
use keyway_domain::verify_ratelimits::RequestedLimit;
use keyway_store::JsonObject;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyCredits {
    pub cost: i64,
}

/// A limit named in a verification: configured (by name) or inline (with limit and duration).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyRatelimit {
    pub name: String,
    pub cost: Option<i64>,
    pub limit: Option<i64>,
    pub duration: Option<i64>,
}

impl VerifyRatelimit {
    pub fn requested(self) -> RequestedLimit {
        RequestedLimit { name: self.name, cost: self.cost, limit: self.limit, duration: self.duration }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyKeyBody {
    pub key: String,
    /// Free-form analytics labels; they never affect the decision.
    pub tags: Option<Vec<String>>,
    pub permissions: Option<String>,
    pub credits: Option<VerifyCredits>,
    pub ratelimits: Option<Vec<VerifyRatelimit>>,
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
        if let Some(query) = &self.permissions {
            v.len_between("permissions", query, 1, 1000);
        }
        for r in self.ratelimits.iter().flatten() {
            v.len_between("ratelimits.name", &r.name, 3, 255);
            for (field, value) in
                [("ratelimits.cost", r.cost), ("ratelimits.limit", r.limit), ("ratelimits.duration", r.duration)]
            {
                if let Some(value) = value {
                    v.int_between(field, value, 0, i64::MAX);
                }
            }
        }
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityData>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ratelimits: Vec<VerifyRatelimitData>,
}

/// `VerifyKeyRatelimitData`: `reset` is the Unix ms at which the current window ends.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRatelimitData {
    pub id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub reset: i64,
    pub remaining: i64,
    pub exceeded: bool,
    pub auto_apply: bool,
}

impl From<AppliedLimit> for VerifyRatelimitData {
    fn from(a: AppliedLimit) -> Self {
        VerifyRatelimitData {
            id: a.id,
            name: a.name,
            limit: a.limit,
            duration: a.duration,
            reset: a.reset,
            remaining: a.remaining,
            exceeded: a.exceeded,
            auto_apply: a.auto_apply,
        }
    }
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
            permissions: key.map(|k| k.permissions.clone()).unwrap_or_default(),
            roles: key.map(|k| k.roles.clone()).unwrap_or_default(),
            identity: key.and_then(|k| k.identity.as_ref()).map(|identity| {
                // An identity's limit shows only where the key has none of the same name.
                let mut data = IdentityData::from(identity);
                let own = &key.map_or(&[][..], |k| &k.ratelimits[..]);
                data.ratelimits.retain(|r| !own.iter().any(|k| k.name == r.name));
                data
            }),
            ratelimits: v.ratelimits.into_iter().map(VerifyRatelimitData::from).collect(),
        }
    }
}
