use super::common::MAX_RATELIMIT_DURATION;
use crate::validate::{Validate, Violations};
use keyway_core::{LimitCall, LimitOutcome};
use keyway_store::Override;
use serde::{Deserialize, Serialize};

fn namespace_and_identifier(v: &mut Violations, namespace: &str, identifier: &str) {
    v.len_between("namespace", namespace, 1, 512);
    v.len_between("identifier", identifier, 1, 512);
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitBody {
    pub namespace: String,
    pub identifier: String,
    pub limit: i64,
    pub duration: i64,
    pub cost: Option<i64>,
}

impl Validate for LimitBody {
    fn validate(&self, v: &mut Violations) {
        namespace_and_identifier(v, &self.namespace, &self.identifier);
        v.int_between("limit", self.limit, 1, i64::MAX);
        v.int_between("duration", self.duration, 1000, MAX_RATELIMIT_DURATION);
        if let Some(cost) = self.cost {
            v.int_between("cost", cost, 0, i64::MAX);
        }
    }
}

impl LimitBody {
    pub fn call(self) -> LimitCall {
        LimitCall {
            namespace: self.namespace,
            identifier: self.identifier,
            limit: self.limit,
            duration: self.duration,
            cost: self.cost.unwrap_or(1),
        }
    }
}

/// `ratelimit.multiLimit` takes a bare JSON array.
impl Validate for Vec<LimitBody> {
    fn validate(&self, v: &mut Violations) {
        if self.is_empty() || self.len() > 100 {
            let keyword = if self.is_empty() { "minItems" } else { "maxItems" };
            v.push("", keyword, format!("{keyword}: got {}, want 1..100", self.len()));
        }
        for item in self {
            item.validate(v);
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitData {
    pub limit: i64,
    pub remaining: i64,
    pub reset: i64,
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_id: Option<String>,
}

impl From<LimitOutcome> for LimitData {
    fn from(o: LimitOutcome) -> Self {
        LimitData {
            limit: o.limit,
            remaining: o.remaining,
            reset: o.reset,
            success: o.passed,
            override_id: o.override_id,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MultiLimitItem {
    pub namespace: String,
    pub identifier: String,
    pub limit: i64,
    pub remaining: i64,
    pub reset: i64,
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_id: Option<String>,
}

impl From<LimitOutcome> for MultiLimitItem {
    fn from(o: LimitOutcome) -> Self {
        MultiLimitItem {
            namespace: o.namespace,
            identifier: o.identifier,
            limit: o.limit,
            remaining: o.remaining,
            reset: o.reset,
            passed: o.passed,
            override_id: o.override_id,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct MultiLimitData {
    pub passed: bool,
    pub limits: Vec<MultiLimitItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetOverrideBody {
    pub namespace: String,
    pub identifier: String,
    pub limit: i64,
    pub duration: i64,
}

impl Validate for SetOverrideBody {
    fn validate(&self, v: &mut Violations) {
        // Requests may name identifiers of up to 512 characters, but `RatelimitOverride`, which
        // getOverride and listOverrides answer with, allows 255: a stored override must fit it.
        v.len_between("namespace", &self.namespace, 1, 512);
        v.len_between("identifier", &self.identifier, 1, 255);
        v.int_between("limit", self.limit, 0, i64::MAX);
        v.int_between("duration", self.duration, 1000, i64::MAX);
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetOverrideData {
    pub override_id: String,
}

/// getOverride and deleteOverride.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OverrideRefBody {
    pub namespace: String,
    pub identifier: String,
}

impl Validate for OverrideRefBody {
    fn validate(&self, v: &mut Violations) {
        namespace_and_identifier(v, &self.namespace, &self.identifier);
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListOverridesBody {
    pub namespace: String,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

impl Validate for ListOverridesBody {
    fn validate(&self, v: &mut Violations) {
        v.len_between("namespace", &self.namespace, 1, 512);
        if let Some(limit) = self.limit {
            v.int_between("limit", limit, 1, 100);
        }
    }
}

/// `RatelimitOverride`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OverrideData {
    pub override_id: String,
    pub identifier: String,
    pub limit: i64,
    pub duration: i64,
}

impl From<Override> for OverrideData {
    fn from(o: Override) -> Self {
        OverrideData { override_id: o.id, identifier: o.identifier, limit: o.limit, duration: o.duration }
    }
}
