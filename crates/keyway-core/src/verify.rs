//! `keys.verifyKey`, the hot path (reference §6). A cache hit costs a hash, a map lookup and the
//! pure decision; rate limits are in-memory counters, and only credits touch storage, through the
//! group-committing ledger.

use crate::usage::{Used, Verified};
use crate::{CoreError, CoreResult, Ctx, Keyway, now_ms};
use keyway_domain::credits::Spend;
use keyway_domain::key_material::{Checksum, KeyHash, check_checksum};
use keyway_domain::permission_query;
use keyway_domain::verify::{KeyState, VerifyCode, credit_cost, key_status, raw_outcome};
use keyway_domain::verify_ratelimits::{
    ConfiguredLimit, Owner, PlannedCheck, RequestedLimit, UnknownLimit, merge, plan,
};
use keyway_limits::{LimitKey, LimitRequest};
use keyway_store::{KeyRecord, RatelimitConfig};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// Checked first: most callers hold it, and it needs no per-key permission strings.
const VERIFY_ANY_KEY: &str = "api.*.verify_key";

/// The smallest window the limiter accepts; shorter inline limits are skipped, as Unkey does.
const MIN_DURATION_MS: i64 = 1000;

#[derive(Debug, Clone, Default)]
pub struct VerifyRequest {
    pub key: String,
    /// `credits.cost` of the request, if given.
    pub cost: Option<i64>,
    /// `ratelimits` of the request.
    pub ratelimits: Vec<RequestedLimit>,
    /// `permissions`: a query in the permission language (§6.5), not yet parsed.
    pub permissions: Option<String>,
    /// `migrationId`: where to look when the key is not found (§6.2 step 4).
    pub migration_id: Option<String>,
    /// The caller's client, for the API's IP allowlist (step 9.1); `None` when unknown, which an
    /// API with an allowlist refuses.
    pub client_ip: Option<IpAddr>,
    /// `tags`: recorded on the analytics event, no effect on the decision (§6.8).
    pub tags: Vec<String>,
}

/// One rate limit a verification checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedLimit {
    /// Empty for inline limits.
    pub id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub auto_apply: bool,
    pub exceeded: bool,
    pub remaining: i64,
    pub reset: i64,
}

/// The answer of a verification.
#[derive(Debug, Clone)]
pub struct Verification {
    pub code: VerifyCode,
    /// The key, when it was found and the caller may see it.
    pub record: Option<Arc<KeyRecord>>,
    /// The remaining credits, for keys with limited credits.
    pub credits: Option<i64>,
    /// The rate limits checked, when the key got that far.
    pub ratelimits: Vec<AppliedLimit>,
}

impl Verification {
    fn not_found() -> Self {
        Verification { code: VerifyCode::NotFound, record: None, credits: None, ratelimits: Vec::new() }
    }
}

fn configured(configs: &[RatelimitConfig], owner: Owner) -> Vec<ConfiguredLimit> {
    configs
        .iter()
        .map(|c| ConfiguredLimit {
            id: c.id.clone(),
            name: c.name.clone(),
            limit: c.limit,
            duration: c.duration,
            auto_apply: c.auto_apply,
            owner,
        })
        .collect()
}

impl Keyway {
    pub async fn verify_key(&self, ctx: &Ctx, request: &VerifyRequest) -> CoreResult<Verification> {
        // A checksummed key that fails its checksum cannot have been issued: it is answered
        // before hashing, so typos and made-up keys cost neither the cache nor the database.
        if check_checksum(&request.key) == Checksum::Invalid {
            return Ok(Verification::not_found());
        }
        // §6.9: an event's latency counts from the start of the key load.
        let started = self.usage.analytics_on().then(Instant::now);
        let hash = KeyHash::of(&request.key);
        let load = || self.store.find_key_by_hash(&hash);
        let found = self.keys.get_or_load_known(&self.known_keys, &hash, load).await?;
        let record = match (found, &request.migration_id) {
            (Some(record), _) => record,
            (None, Some(migration_id)) => match self.migrate_on_verify(ctx, migration_id, &request.key).await? {
                Some(record) => record,
                None => return Ok(Verification::not_found()),
            },
            (None, None) => return Ok(Verification::not_found()),
        };
        let key = &record.key;
        // Steps 5–7: a key the caller may not see is indistinguishable from an unknown one.
        if key.workspace_id != ctx.principal.workspace_id()
            || record.api_deleted
            || !(ctx.principal.grants().grants(VERIFY_ANY_KEY)
                || ctx.principal.allows(&self.key_requirement(ctx, key, "verify_key")))
        {
            return Ok(Verification::not_found());
        }
        // Step 8: only now, so a key the caller may not see never reveals a bad query; disabled and
        // expired keys still do, as in Unkey.
        let query = match &request.permissions {
            Some(text) => Some(permission_query::parse(text).map_err(|e| CoreError::PermissionQuerySyntax(e.message))?),
            None => None,
        };
        let now = now_ms();
        let state = KeyState {
            workspace_enabled: record.workspace_enabled,
            api_deleted: record.api_deleted,
            enabled: key.enabled,
            expires: key.expires,
        };
        let mut code = key_status(state, now);
        // Step 9.1, before anything that spends rate-limit tokens or credits.
        if code.is_valid() && !record.ip_allowlist.admits(request.client_ip) {
            code = VerifyCode::Forbidden;
        }
        // Step 9.2: slugs are compared exactly; `key.permissions` is sorted for this search.
        if code.is_valid()
            && let Some(query) = &query
            && !query.evaluate(&|p| key.permissions.binary_search_by(|held| held.as_str().cmp(p)).is_ok())
        {
            code = VerifyCode::InsufficientPermissions;
        }
        let mut ratelimits = Vec::new();
        if code.is_valid() {
            ratelimits = self.apply_ratelimits(ctx, &record, &request.ratelimits, now).await?;
            if ratelimits.iter().any(|r| r.exceeded) {
                code = VerifyCode::RateLimited;
            }
        }
        let mut credits = None;
        let mut spent_credits = 0;
        if key.credits.is_limited() {
            if code.is_valid() {
                let cost = credit_cost(request.cost, true).unwrap_or(1);
                match self.ledger.spend(&key.id, cost).await? {
                    Some(Spend::Spent { remaining }) => {
                        credits = Some(remaining);
                        spent_credits = cost;
                    }
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
        match started {
            Some(started) => self.usage.record_verification(Verified {
                record: record.clone(),
                request_id: ctx.request_id.clone(),
                time: now,
                outcome: raw_outcome(code, state),
                tags: request.tags.clone(),
                spent_credits,
                latency: started.elapsed().as_secs_f64() * 1000.0,
            }),
            None => self.usage.record(Used::Key, &key.id, now),
        }
        Ok(Verification { code, record: Some(record), credits, ratelimits })
    }

    /// Step 9.3 of §6.2: every auto-applied and requested limit, decided all or nothing.
    async fn apply_ratelimits(
        &self,
        ctx: &Ctx,
        record: &KeyRecord,
        requested: &[RequestedLimit],
        now: i64,
    ) -> CoreResult<Vec<AppliedLimit>> {
        let key = &record.key;
        let identity_limits = key.identity.as_ref().map_or(&[][..], |i| &i.ratelimits[..]);
        if key.ratelimits.is_empty() && identity_limits.is_empty() && requested.is_empty() {
            return Ok(Vec::new());
        }
        let merged = merge(configured(&key.ratelimits, Owner::Key), configured(identity_limits, Owner::Identity));
        let checks: Vec<PlannedCheck> = plan(&merged, requested)
            .map_err(|UnknownLimit(name)| {
                let identity = match &key.identity {
                    Some(i) => format!("nor identity: '{}' external ID: '{}'", i.id, i.external_id),
                    None => "and there is no identity connected.".to_string(),
                };
                CoreError::PreconditionFailed(format!(
                    "ratelimit '{name}' was requested but does not exist for key '{}' {identity}",
                    key.id
                ))
            })?
            .into_iter()
            .filter(|c| c.duration >= MIN_DURATION_MS)
            .collect();
        let requests: Vec<LimitRequest> = checks
            .iter()
            .map(|c| LimitRequest {
                key: LimitKey {
                    workspace_id: ctx.principal.workspace_id().to_string(),
                    namespace: c.name.clone(),
                    identifier: match (c.owner, &key.identity) {
                        (Owner::Identity, Some(identity)) => identity.id.clone(),
                        _ => key.id.clone(),
                    },
                    duration: c.duration,
                },
                limit: c.limit,
                cost: c.cost,
            })
            .collect();
        let decisions = self.limiter.limit_many(&requests, now).await;
        Ok(checks
            .into_iter()
            .zip(decisions)
            .map(|(c, d)| AppliedLimit {
                id: c.id,
                name: c.name,
                limit: c.limit,
                duration: c.duration,
                auto_apply: c.auto_apply,
                exceeded: !d.passed,
                remaining: d.remaining,
                reset: d.reset,
            })
            .collect())
    }
}
