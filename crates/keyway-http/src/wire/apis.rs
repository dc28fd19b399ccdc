use crate::validate::{Validate, Violations};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiBody {
    pub name: String,
    /// Keyway's extension (Unkey sets it only from its dashboard): whether keys of this API may be
    /// created `recoverable`.
    #[serde(default)]
    pub recoverable: bool,
}

impl Validate for CreateApiBody {
    fn validate(&self, v: &mut Violations) {
        v.len_between("name", &self.name, 3, 256);
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiData {
    pub api_id: String,
}

/// getApi and deleteApi.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiIdBody {
    pub api_id: String,
}

impl Validate for ApiIdBody {
    fn validate(&self, v: &mut Violations) {
        v.identifier("apiId", &self.api_id, 8);
    }
}

#[derive(Debug, Serialize)]
pub struct ApiData {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListKeysBody {
    pub api_id: String,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub external_id: Option<String>,
    #[serde(default)]
    pub decrypt: bool,
    /// Accepted and ignored, as in Unkey: listings always read storage.
    #[serde(default, rename = "revalidateKeysCache")]
    pub _revalidate_keys_cache: bool,
}

impl Validate for ListKeysBody {
    fn validate(&self, v: &mut Violations) {
        v.len_between("apiId", &self.api_id, 1, 255);
        if let Some(limit) = self.limit {
            v.int_between("limit", limit, 1, 100);
        }
        if let Some(external_id) = &self.external_id {
            v.len_between("externalId", external_id, 1, 255);
        }
    }
}
