//! `keys.verifyKey`, the hot path (reference §6). A cache hit costs a hash, a map lookup and the
//! pure decision; only credits touch storage, through the group-committing ledger.

use crate::usage::Used;
use crate::{CoreResult, Ctx, Keyway, now_ms};
use keyway_domain::credits::Spend;
use keyway_domain::key_material::KeyHash;
use keyway_domain::verify::{KeyState, VerifyCode, credit_cost, key_status};
use keyway_store::KeyRecord;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct VerifyRequest {
    pub key: String,
    /// `credits.cost` of the request, if given.
    pub cost: Option<i64>,
}

/// The answer of a verification.
#[derive(Debug, Clone)]
pub struct Verification {
    pub code: VerifyCode,
    /// The key, when it was found and the caller may see it.
    pub record: Option<Arc<KeyRecord>>,
    /// The remaining credits, for keys with limited credits.
    pub credits: Option<i64>,
}

impl Verification {
    fn not_found() -> Self {
        Verification { code: VerifyCode::NotFound, record: None, credits: None }
    }
}

impl Keyway {
    pub async fn verify_key(&self, ctx: &Ctx, request: &VerifyRequest) -> CoreResult<Verification> {
        let hash = KeyHash::of(&request.key);
        let load = || self.store.find_key_by_hash(&hash);
        let Some(record) = self.keys.get_or_load_known(&self.known_keys, &hash, load).await? else {
            return Ok(Verification::not_found());
        };
        let key = &record.key;
        // Steps 5–7: a key the caller may not see is indistinguishable from an unknown one.
        if key.workspace_id != ctx.principal.workspace_id()
            || record.api_deleted
            || !ctx.principal.allows(&self.key_requirement(ctx, key, "verify_key"))
        {
            return Ok(Verification::not_found());
        }
        let now = now_ms();
        let state = KeyState {
            workspace_enabled: record.workspace_enabled,
            api_deleted: record.api_deleted,
            enabled: key.enabled,
            expires: key.expires,
        };
        let mut code = key_status(state, now);
        let mut credits = None;
        if key.credits.is_limited() {
            if code.is_valid() {
                let cost = credit_cost(request.cost, true).unwrap_or(1);
                match self.ledger.spend(&key.id, cost).await? {
                    Some(Spend::Spent { remaining }) => credits = Some(remaining),
                    Some(Spend::Insufficient { remaining }) => {
                        code = VerifyCode::UsageExceeded;
                        credits = Some(remaining);
                    }
                    // The key became unlimited since it was cached.
                    None => {}
                }
            } else {
                // The cached balance may be stale; an invalid key is rare enough to read it.
                credits = self.store.get_credits(&key.id).await?.and_then(|c| c.remaining);
            }
        }
        self.usage.record(Used::Key, &key.id, now);
        Ok(Verification { code, record: Some(record), credits })
    }
}
