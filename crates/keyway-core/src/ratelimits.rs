//! The standalone rate-limit API (reference §5.3, §9.5): namespaces created on first use,
//! overrides matched exact-first then by the most specific wildcard.

use crate::namespaces::NamespaceEntry;
use crate::{CoreError, CoreResult, Ctx, Keyway, NotFound, Page, now_ms};
use keyway_domain::access;
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::ratelimit::best_override;
use keyway_limits::{LimitKey, LimitRequest};
use keyway_store::{Namespace, Override, PageRequest, RatelimitEvent};
use std::sync::Arc;
use std::time::Instant;

/// One `ratelimit.limit` check.
#[derive(Debug, Clone)]
pub struct LimitCall {
    pub namespace: String,
    pub identifier: String,
    pub limit: i64,
    pub duration: i64,
    pub cost: i64,
}

#[derive(Debug, Clone)]
pub struct LimitOutcome {
    /// As the caller named it.
    pub namespace: String,
    pub identifier: String,
    pub limit: i64,
    pub remaining: i64,
    pub reset: i64,
    pub passed: bool,
    pub override_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SetOverride {
    pub namespace: String,
    pub identifier: String,
    pub limit: i64,
    pub duration: i64,
}

fn namespace_not_found() -> CoreError {
    CoreError::NotFound { what: NotFound::Namespace, detail: "This namespace does not exist.".into() }
}

fn override_not_found() -> CoreError {
    CoreError::NotFound { what: NotFound::Override, detail: "This override does not exist.".into() }
}

impl Keyway {
    /// `ratelimit.limit` (one call) and `ratelimit.multiLimit` (several, all or nothing). One
    /// analytics event per check (§8.2) unless `events` is false (`X-Unkey-Metrics: disabled`).
    pub async fn ratelimit(&self, ctx: &Ctx, calls: Vec<LimitCall>, events: bool) -> CoreResult<Vec<LimitOutcome>> {
        let ws = ctx.principal.workspace_id();
        let mut entries: Vec<Arc<NamespaceEntry>> = Vec::with_capacity(calls.len());
        for call in &calls {
            let entry =
                match entries.iter().find(|e| e.namespace.id == call.namespace || e.namespace.name == call.namespace) {
                    Some(known) => known.clone(),
                    None => self.namespace_for_limit(ctx, &call.namespace).await?,
                };
            entries.push(entry);
        }
        let mut distinct: Vec<&str> = entries.iter().map(|e| e.namespace.id.as_str()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        ctx.principal.require(access::limit(&distinct))?;

        let now = now_ms();
        let mut overrides = Vec::with_capacity(calls.len());
        let requests: Vec<LimitRequest> = calls
            .iter()
            .zip(&entries)
            .map(|(call, entry)| {
                let matched = best_override(&entry.overrides, &call.identifier, |o| o.identifier.as_str());
                overrides.push(matched.map(|o| o.id.clone()));
                let (limit, duration) = matched.map_or((call.limit, call.duration), |o| (o.limit, o.duration));
                LimitRequest {
                    key: LimitKey {
                        workspace_id: ws.to_string(),
                        namespace: entry.namespace.id.clone(),
                        identifier: call.identifier.clone(),
                        duration,
                    },
                    limit,
                    cost: call.cost,
                }
            })
            .collect();
        let started = Instant::now();
        let decisions = self.limiter.limit_many(&requests, now).await;
        // §8.2: a multiLimit's checks share the request's time, each the average.
        let latency = started.elapsed().as_secs_f64() * 1000.0 / requests.len().max(1) as f64;
        let outcomes: Vec<LimitOutcome> = calls
            .into_iter()
            .zip(decisions)
            .zip(overrides)
            .map(|((call, d), override_id)| LimitOutcome {
                namespace: call.namespace,
                identifier: call.identifier,
                limit: d.limit,
                remaining: d.remaining,
                reset: d.reset,
                passed: d.passed,
                override_id,
            })
            .collect();
        if !(events && self.usage.analytics_on()) {
            return Ok(outcomes);
        }
        for ((outcome, request), entry) in outcomes.iter().zip(&requests).zip(&entries) {
            self.usage.record_ratelimit(RatelimitEvent {
                request_id: ctx.request_id.clone(),
                time: now,
                workspace_id: ws.to_string(),
                namespace_id: entry.namespace.id.clone(),
                identifier: outcome.identifier.clone(),
                passed: outcome.passed,
                override_id: outcome.override_id.clone().unwrap_or_default(),
                limit: outcome.limit,
                remaining: outcome.remaining,
                reset_at: outcome.reset,
                tokens: request.cost,
                latency,
            });
        }
        Ok(outcomes)
    }

    /// The namespace a limit call names, created on first use (which needs `create_namespace`).
    async fn namespace_for_limit(&self, ctx: &Ctx, name_or_id: &str) -> CoreResult<Arc<NamespaceEntry>> {
        let ws = ctx.principal.workspace_id();
        let entry = match self.cached_namespace(ws, name_or_id).await? {
            Some(entry) => entry,
            None => {
                ctx.principal.require(access::create_namespace())?;
                let candidate = Namespace {
                    id: new_id(IdKind::Namespace),
                    workspace_id: ws.to_string(),
                    name: name_or_id.to_string(),
                    created_at: now_ms(),
                    deleted_at: None,
                };
                let audit = ctx.audit(
                    "ratelimitNamespace.create",
                    format!("Created ratelimit namespace {}", candidate.id),
                    &[("ratelimitNamespace", &candidate.id)],
                );
                let namespace = self.store.create_namespace(&candidate, &[audit]).await?;
                self.namespaces.invalidate_all();
                let overrides = self.store.namespace_overrides(&namespace.id).await?;
                Arc::new(NamespaceEntry { namespace, overrides })
            }
        };
        if entry.namespace.deleted_at.is_some() {
            return Err(CoreError::Gone("This namespace has been deleted. Contact support to restore.".into()));
        }
        Ok(entry)
    }

    async fn cached_namespace(&self, ws: &str, name_or_id: &str) -> CoreResult<Option<Arc<NamespaceEntry>>> {
        let load = || async {
            let Some(namespace) = self.store.find_namespace(ws, name_or_id).await? else { return Ok(None) };
            let overrides = self.store.namespace_overrides(&namespace.id).await?;
            Ok(Some(NamespaceEntry { namespace, overrides }))
        };
        Ok(self.namespaces.get_or_load(ws, name_or_id, load).await?)
    }

    /// A live namespace for the override endpoints, else 404.
    async fn live_namespace(&self, ctx: &Ctx, name_or_id: &str) -> CoreResult<Arc<NamespaceEntry>> {
        match self.cached_namespace(ctx.principal.workspace_id(), name_or_id).await? {
            Some(entry) if entry.namespace.deleted_at.is_none() => Ok(entry),
            _ => Err(namespace_not_found()),
        }
    }

    pub async fn set_override(&self, ctx: &Ctx, request: SetOverride) -> CoreResult<String> {
        let entry = self.live_namespace(ctx, &request.namespace).await?;
        let ns = &entry.namespace;
        ctx.principal.require(access::namespace(&ns.id, "set_override"))?;
        let candidate = Override {
            id: new_id(IdKind::Override),
            workspace_id: ns.workspace_id.clone(),
            namespace_id: ns.id.clone(),
            identifier: request.identifier,
            limit: request.limit,
            duration: request.duration,
            created_at: now_ms(),
        };
        let audit = ctx.audit(
            "ratelimit.set_override",
            format!("Set ratelimit override for {} and {}", ns.id, candidate.identifier),
            &[("ratelimitNamespace", &ns.id), ("ratelimitOverride", &candidate.id)],
        );
        let stored = self.store.set_override(&candidate, &[audit]).await?;
        self.namespaces.invalidate_all();
        Ok(stored.id)
    }

    /// The override that applies to `identifier` (exact first, then the most specific wildcard).
    pub async fn get_override(&self, ctx: &Ctx, namespace: &str, identifier: &str) -> CoreResult<Override> {
        let entry = self.live_namespace(ctx, namespace).await?;
        let ns = &entry.namespace;
        let found =
            best_override(&entry.overrides, identifier, |o| o.identifier.as_str()).ok_or_else(override_not_found)?;
        let ws = ctx.principal.workspace_id();
        if !ctx.principal.allows(&access::read_override(ws, &ns.id, &found.id)) {
            return Err(override_not_found());
        }
        Ok(found.clone())
    }

    pub async fn list_overrides(&self, ctx: &Ctx, namespace: &str, page: PageRequest) -> CoreResult<Page<Override>> {
        let entry =
            self.cached_namespace(ctx.principal.workspace_id(), namespace).await?.ok_or_else(namespace_not_found)?;
        ctx.principal.require(access::namespace(&entry.namespace.id, "read_override"))?;
        let rows = self.store.list_overrides(&entry.namespace.id, &page).await?;
        Ok(Page::from_rows(rows, &page, |o| &o.id))
    }

    pub async fn delete_override(&self, ctx: &Ctx, namespace: &str, identifier: &str) -> CoreResult<()> {
        let entry = self.live_namespace(ctx, namespace).await?;
        let ns = &entry.namespace;
        ctx.principal.require(access::namespace(&ns.id, "delete_override"))?;
        let audit = ctx.audit(
            "ratelimit.delete_override",
            format!("Deleted ratelimit override for {} and {identifier}", ns.id),
            &[("ratelimitNamespace", &ns.id)],
        );
        if !self.store.delete_override(&ns.id, identifier, now_ms(), &[audit]).await? {
            return Err(override_not_found());
        }
        self.namespaces.invalidate_all();
        Ok(())
    }
}
