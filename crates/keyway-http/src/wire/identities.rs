use super::common::RatelimitBody;
use crate::MAX_BODY_BYTES;
use crate::validate::{Validate, Violations};
use keyway_store::JsonObject;
use serde::{Deserialize, Serialize};

fn external_id(v: &mut Violations, value: &str) {
    v.len_between("externalId", value, 1, 255);
    v.charset("externalId", value, "_.-", "^[a-zA-Z0-9_.-]+$");
}

fn meta_and_limits(v: &mut Violations, meta: &Option<JsonObject>, ratelimits: &Option<Vec<RatelimitBody>>) {
    if let Some(meta) = meta {
        v.max_properties("meta", meta.len(), 100);
    }
    if let Some(ratelimits) = ratelimits {
        RatelimitBody::validate_all(ratelimits, v);
    }
}

/// Unlike most bodies, createIdentity accepts unknown fields (reference §1.4).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIdentityBody {
    pub external_id: String,
    pub meta: Option<JsonObject>,
    pub ratelimits: Option<Vec<RatelimitBody>>,
}

impl Validate for CreateIdentityBody {
    fn validate(&self, v: &mut Violations) {
        external_id(v, &self.external_id);
        meta_and_limits(v, &self.meta, &self.ratelimits);
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIdentityData {
    pub identity_id: String,
}

/// getIdentity and deleteIdentity: the identity by id or external id.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityRefBody {
    pub identity: String,
}

/// An identity lookup (id or external id) has no maximum length in the reference (§5.1): one that
/// matches nothing is a 404 however long, so only the body-size limit bounds it.
fn identity_ref(v: &mut Violations, value: &str) {
    v.len_between("identity", value, 1, MAX_BODY_BYTES);
}

impl Validate for IdentityRefBody {
    fn validate(&self, v: &mut Violations) {
        identity_ref(v, &self.identity);
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListIdentitiesBody {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub search: Option<String>,
}

impl Validate for ListIdentitiesBody {
    fn validate(&self, v: &mut Violations) {
        if let Some(limit) = self.limit {
            v.int_between("limit", limit, 1, 100);
        }
        if let Some(search) = &self.search {
            v.len_between("search", search, 0, 256);
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateIdentityBody {
    pub identity: String,
    #[serde(default, deserialize_with = "super::common::no_null")]
    pub meta: Option<JsonObject>,
    #[serde(default, deserialize_with = "super::common::no_null")]
    pub ratelimits: Option<Vec<RatelimitBody>>,
}

impl Validate for UpdateIdentityBody {
    fn validate(&self, v: &mut Violations) {
        identity_ref(v, &self.identity);
        meta_and_limits(v, &self.meta, &self.ratelimits);
    }
}
