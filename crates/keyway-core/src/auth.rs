//! Root-key authentication (reference §1.2).

use crate::principal::RootKeyEntry;
use crate::usage::Used;
use crate::{CoreError, CoreResult, Keyway, NotFound, Principal, now_ms};
use keyway_domain::key_material::KeyHash;

impl Keyway {
    /// Resolves a bearer token to its principal.
    pub async fn authenticate(&self, token: &str) -> CoreResult<Principal> {
        let hash = KeyHash::of(token);
        let entry = self
            .root_keys
            .get_or_load_known(&self.known_root_keys, &hash, || async {
                Ok(self.store.find_root_key_by_hash(&hash).await?.map(RootKeyEntry::from))
            })
            .await?;
        let Some(entry) = entry else {
            return Err(CoreError::RootKeyNotFound(
                "The provided root key is invalid. We could not find the requested key.",
            ));
        };
        let key = &entry.record.root_key;
        let now = now_ms();
        match entry.record.workspace_enabled {
            None => {
                return Err(CoreError::NotFound {
                    what: NotFound::Workspace,
                    detail: "The provided root key is invalid. The requested workspace does not exist.".into(),
                });
            }
            Some(false) => return Err(CoreError::WorkspaceDisabled),
            Some(true) => {}
        }
        if !key.enabled {
            return Err(CoreError::RootKeyDisabled);
        }
        if key.expires.is_some_and(|e| now > e) {
            return Err(CoreError::Forbidden("The provided root key is invalid. The key has expired.".into()));
        }
        self.usage.record(Used::RootKey, &key.id, now);
        Ok(Principal { entry })
    }
}
