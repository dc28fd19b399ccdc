//! `analytics.getVerifications` / `analytics.getRatelimits`: who may read which rows (§5.4, §10),
//! then the sandbox (`keyway-analytics`) and the confined runner of the storage port.

use crate::{CoreError, CoreResult, Keyway, Principal, now_ms};
use keyway_analytics::{DEFAULT_MAX_ROWS, ErrorKind, Family, Request, TableMap, sandbox};
use keyway_domain::root_permissions::Requirement;
use keyway_store::{AnalyticsQueries, AnalyticsQueryError, AnalyticsRow, AnalyticsTable, QueryLimits, table_map};
use std::sync::Arc;

/// Where analytics queries run and over which tables, chosen by the binary.
pub struct AnalyticsQuerying {
    queries: Arc<dyn AnalyticsQueries>,
    verifications: TableMap,
    ratelimits: TableMap,
    limits: QueryLimits,
    max_rows: u64,
}

impl AnalyticsQuerying {
    /// Unkey's limits: 10 s, 4 MiB, 10,000 rows per SELECT. `retention_days` is what the storage
    /// keeps of each table (the retention job's setting): older time bounds are refused.
    pub fn new(queries: Arc<dyn AnalyticsQueries>, retention_days: impl Fn(AnalyticsTable) -> u32) -> Self {
        AnalyticsQuerying {
            queries,
            verifications: table_map(Family::Verifications, &retention_days),
            ratelimits: table_map(Family::Ratelimits, &retention_days),
            limits: QueryLimits::default(),
            max_rows: DEFAULT_MAX_ROWS,
        }
    }

    /// Other limits (tests shorten the timeout).
    pub fn with_limits(self, limits: QueryLimits) -> Self {
        AnalyticsQuerying { limits, ..self }
    }
}

/// Why an analytics query has no answer, as the endpoint reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalyticsFailure {
    /// The sandbox refused the query (400, the kind names the `type`).
    Refused(ErrorKind),
    /// The database cancelled it at the time limit (422 `query_execution_timeout`).
    Timeout,
    /// The answer would pass 4 MiB (422 `query_memory_limit_exceeded`).
    TooLarge,
}

impl Keyway {
    /// Gives this service its analytics queries; once.
    pub fn attach_analytics(&self, querying: AnalyticsQuerying) {
        if self.analytics.set(querying).is_err() {
            tracing::warn!("analytics queries attached twice: the first stays");
        }
    }

    /// Runs one analytics query of `family` for the principal's workspace, confined to the rows its
    /// `read_analytics` permissions allow.
    pub async fn query_analytics(
        &self,
        principal: &Principal,
        family: Family,
        sql: &str,
    ) -> CoreResult<Vec<AnalyticsRow>> {
        let Some(querying) = self.analytics.get() else {
            return Err(CoreError::PreconditionFailed("Analytics queries are not enabled on this server.".to_owned()));
        };
        let row_filter = self.analytics_rows(principal, family).await?;
        let tables = match family {
            Family::Verifications => &querying.verifications,
            Family::Ratelimits => &querying.ratelimits,
        };
        let request = Request {
            tables,
            backend: querying.queries.backend(),
            workspace_id: principal.workspace_id(),
            row_filter: row_filter.as_deref(),
            max_rows: querying.max_rows,
            now_ms: now_ms(),
        };
        let rewritten = sandbox(sql, &request)
            .map_err(|e| CoreError::Analytics { failure: AnalyticsFailure::Refused(e.kind), detail: e.message })?;
        querying.queries.run_query(&rewritten, querying.limits).await.map_err(|e| match e {
            AnalyticsQueryError::Timeout => CoreError::Analytics {
                failure: AnalyticsFailure::Timeout,
                detail: format!(
                    "The query ran longer than {} ms and was cancelled.",
                    querying.limits.timeout.as_millis()
                ),
            },
            AnalyticsQueryError::ResultTooLarge => CoreError::Analytics {
                failure: AnalyticsFailure::TooLarge,
                detail: format!(
                    "The query's result exceeds {} bytes. Aggregate more, select fewer columns or add a LIMIT.",
                    querying.limits.max_bytes
                ),
            },
            AnalyticsQueryError::Invalid(detail) => {
                CoreError::Analytics { failure: AnalyticsFailure::Refused(ErrorKind::InvalidQuery), detail }
            }
            AnalyticsQueryError::Store(e) => e.into(),
        })
    }

    /// The row filter of §5.4/§10: `None` with the `*` grant (the whole workspace), else the key
    /// space ids of the APIs (or the namespace ids) named by per-id grants; 403 with neither.
    async fn analytics_rows(&self, principal: &Principal, family: Family) -> CoreResult<Option<Vec<String>>> {
        let resource = match family {
            Family::Verifications => "api",
            Family::Ratelimits => "ratelimit",
        };
        let everything = format!("{resource}.*.read_analytics");
        if principal.grants().grants(&everything) {
            return Ok(None);
        }
        let ids = principal.grants().ids_with(resource, "read_analytics");
        if ids.is_empty() {
            return Err(CoreError::InsufficientPermissions(Requirement::leaf(everything)));
        }
        match family {
            Family::Ratelimits => Ok(Some(ids.into_iter().map(str::to_owned).collect())),
            Family::Verifications => {
                let mut key_spaces = Vec::with_capacity(ids.len());
                for api_id in ids {
                    // A deleted API's history stays readable; an unknown id reads nothing.
                    if let Some(api) = self.store.get_api(principal.workspace_id(), api_id).await? {
                        key_spaces.push(api.keyspace_id);
                    }
                }
                Ok(Some(key_spaces))
            }
        }
    }
}
