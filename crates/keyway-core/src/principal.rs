use crate::CoreError;
use keyway_domain::access::KeyTarget;
use keyway_domain::root_permissions::{Grants, Requirement};
use keyway_store::{Key, RootKey, RootKeyRecord};
use std::sync::Arc;

/// A cached root key with its parsed grants, so that authenticating a request parses nothing.
#[derive(Debug)]
pub(crate) struct RootKeyEntry {
    pub record: RootKeyRecord,
    pub grants: Grants,
}

impl From<RootKeyRecord> for RootKeyEntry {
    fn from(record: RootKeyRecord) -> Self {
        let grants = Grants::new(record.root_key.permissions.iter().cloned());
        RootKeyEntry { record, grants }
    }
}

/// The authenticated caller: a root key of one workspace.
#[derive(Debug, Clone)]
pub struct Principal {
    pub(crate) entry: Arc<RootKeyEntry>,
}

impl Principal {
    pub fn root_key(&self) -> &RootKey {
        &self.entry.record.root_key
    }

    pub fn workspace_id(&self) -> &str {
        &self.entry.record.root_key.workspace_id
    }

    pub fn allows(&self, requirement: &Requirement) -> bool {
        self.entry.grants.satisfies(requirement)
    }

    pub fn grants(&self) -> &Grants {
        &self.entry.grants
    }

    /// `Ok` if allowed, else 403 naming what is missing.
    pub fn require(&self, requirement: Requirement) -> Result<(), CoreError> {
        if self.allows(&requirement) { Ok(()) } else { Err(CoreError::InsufficientPermissions(requirement)) }
    }
}

/// Who is calling, within which request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub principal: Principal,
    pub request_id: String,
}

impl Ctx {
    /// What a key endpoint acts on, for the access table.
    pub(crate) fn key_target<'a>(&'a self, key: &'a Key) -> KeyTarget<'a> {
        KeyTarget {
            workspace_id: self.principal.workspace_id(),
            api_id: &key.api_id,
            keyspace_id: &key.keyspace_id,
            key_id: &key.id,
        }
    }
}
