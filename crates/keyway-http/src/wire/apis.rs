use crate::validate::{Validate, Violations};
use keyway_domain::ip_allowlist::{IpRange, MAX_ENTRIES};
use keyway_domain::key_material::KeyFormat;
use keyway_store::Api;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiBody {
    pub name: String,
    /// Keyway's extension (Unkey sets it only from its dashboard): whether keys of this API may be
    /// created `recoverable`.
    #[serde(default)]
    pub recoverable: bool,
    /// Keyway extension: the format of the API's keys (`plain`, the default, or `checksummed`).
    #[serde(default)]
    pub key_format: KeyFormatWire,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyFormatWire {
    #[default]
    Plain,
    Checksummed,
}

impl From<KeyFormatWire> for KeyFormat {
    fn from(f: KeyFormatWire) -> Self {
        match f {
            KeyFormatWire::Plain => KeyFormat::Plain,
            KeyFormatWire::Checksummed => KeyFormat::Checksummed,
        }
    }
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
#[serde(rename_all = "camelCase")]
pub struct ApiData {
    pub id: String,
    pub name: String,
    /// Keyway extension, omitted when empty (no restriction).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_allowlist: Vec<String>,
    /// Keyway extension, omitted for Unkey's plain format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_format: Option<&'static str>,
}

impl From<Api> for ApiData {
    fn from(api: Api) -> Self {
        ApiData {
            ip_allowlist: api.ip_allowlist.entries(),
            key_format: (api.key_format != KeyFormat::Plain).then(|| api.key_format.as_str()),
            id: api.id,
            name: api.name,
        }
    }
}

/// `apis.setIpAllowlist`, a Keyway extension.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetIpAllowlistBody {
    pub api_id: String,
    /// Addresses and CIDR ranges; empty lifts the restriction.
    pub ip_allowlist: Vec<String>,
}

impl Validate for SetIpAllowlistBody {
    fn validate(&self, v: &mut Violations) {
        v.identifier("apiId", &self.api_id, 8);
        v.items_between("ipAllowlist", self.ip_allowlist.len(), 0, MAX_ENTRIES);
        for entry in &self.ip_allowlist {
            if let Err(e) = entry.trim().parse::<IpRange>() {
                v.push("ipAllowlist", "format", e.to_string());
            }
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetIpAllowlistData {
    /// The list as stored: canonical text, duplicates dropped; omitted when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_allowlist: Vec<String>,
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
