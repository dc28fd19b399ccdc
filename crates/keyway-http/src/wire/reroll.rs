//! `keys.rerollKey` (reference §3.8). Its answer has createKey's shape ([`super::keys::CreateKeyData`]).

use crate::validate::{Validate, Violations};
use keyway_domain::time::MAX_EXPIRES_MS;
use serde::Deserialize;

/// Unlike most bodies, unknown fields are accepted: the reference's schema does not restrict them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RerollKeyBody {
    pub key_id: String,
    pub expiration: i64,
}

impl Validate for RerollKeyBody {
    fn validate(&self, v: &mut Violations) {
        v.identifier("keyId", &self.key_id, 3);
        v.int_between("expiration", self.expiration, 0, MAX_EXPIRES_MS);
    }
}
