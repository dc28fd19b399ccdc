//! analytics.getVerifications and analytics.getRatelimits: `{query}` in, one JSON object per row out.

use crate::validate::{Validate, Violations};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalyticsBody {
    /// ClickHouse SQL; its size limit (16 KiB) is the sandbox's, answered as `invalid_analytics_query`.
    pub query: String,
}

impl Validate for AnalyticsBody {
    fn validate(&self, v: &mut Violations) {
        v.len_between("query", &self.query, 1, usize::MAX);
    }
}
