//! `keys.rerollKey` (reference §3.8), where Keyway differs from Unkey: the successor keeps the
//! whole prefix and the byte length of the key it replaces, the old key's expiry is exact (not
//! rounded up to a minute), and its cached record is dropped before the answer, so the very next
//! verification sees the new expiry.

use crate::keys::CREATE_ATTEMPTS;
use crate::{CoreError, CoreResult, Ctx, Keyway, now_ms};
use keyway_domain::access;
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::Secret;
use keyway_store::{RerolledKey, StoreError};

/// `keys.rerollKey`, validated for shape by the caller.
#[derive(Debug, Clone)]
pub struct RerollKey {
    pub key_id: String,
    /// Milliseconds from now until the original key expires; 0 retires it at once.
    pub expiration: i64,
}

impl Keyway {
    /// Issues a successor of a key with all its configuration and sets the old key to expire;
    /// returns the new key's id and plaintext.
    pub async fn reroll_key(&self, ctx: &Ctx, request: RerollKey) -> CoreResult<(String, Secret)> {
        let mut old = self.live_key(ctx, &request.key_id).await?;
        let ws = ctx.principal.workspace_id();
        ctx.principal.require(access::create_key(ws, &old.api_id, &old.keyspace_id))?;
        let api = self.live_api(ctx, &old.api_id).await?;
        // A recoverable key's successor is recoverable too, which takes `encrypt_key` (403).
        let recoverable = !self.store.encrypted_keys(ws, std::slice::from_ref(&old.id)).await?.is_empty();
        if recoverable {
            ctx.principal.require(access::keyspace_keys(ws, &old.api_id, &old.keyspace_id, "encrypt_key"))?;
        }
        for _ in 0..CREATE_ATTEMPTS {
            let now = now_ms();
            // A stored key has no format of its own: the successor takes the API's current one.
            let generated = old.shape.generate(api.key_format);
            let id = new_id(IdKind::Key);
            let encrypted = match recoverable {
                true => Some(self.seal_key(&api, &id, &generated.secret).await?),
                false => None,
            };
            let new = RerolledKey {
                id,
                hash: generated.hash.clone(),
                start: generated.start.clone(),
                shape: old.shape.clone(),
                encrypted,
                ratelimit_ids: old.ratelimits.iter().map(|r| (r.id.clone(), new_id(IdKind::Ratelimit))).collect(),
                created_at: now,
            };
            let audit = ctx.audit(
                "key.reroll",
                format!("Rerolled key ({}) to ({})", old.id, new.id),
                &[("key", &new.id), ("key", &old.id), ("api", &old.api_id)],
            );
            let old_expires = now.saturating_add(request.expiration);
            match self.store.reroll_key(ws, &old.id, old_expires, &new, &[audit]).await {
                Ok(Some(_)) => {
                    self.known_keys.insert(&new.hash);
                    self.keys.invalidate(&old.hash);
                    // The new hash may have been looked up (and cached as unknown) before it existed.
                    self.keys.invalidate(&new.hash);
                    return Ok((new.id, generated.secret));
                }
                Ok(None) => return Err(CoreError::key_not_found()),
                // A taken hash, or rate limits changed since `old` was read: the retry reads again.
                Err(StoreError::Conflict(_)) => old = self.live_key(ctx, &request.key_id).await?,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Internal("could not generate a unique key".into()))
    }
}
