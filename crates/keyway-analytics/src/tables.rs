//! The public table names each endpoint exposes, and the caller's mapping to physical tables.

use std::collections::BTreeMap;

/// Which endpoint asks: it decides the public tables and the column the row filter applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `analytics.getVerifications`: row filter on `key_space_id`.
    Verifications,
    /// `analytics.getRatelimits`: row filter on `namespace_id`.
    Ratelimits,
}

impl Family {
    /// The public aliases of Unkey's schema reference, raw table first.
    pub fn public_tables(self) -> &'static [&'static str] {
        match self {
            Family::Verifications => &[
                "key_verifications_v1",
                "key_verifications_per_minute_v1",
                "key_verifications_per_hour_v1",
                "key_verifications_per_day_v1",
                "key_verifications_per_month_v1",
            ],
            Family::Ratelimits => &[
                "ratelimits_v1",
                "ratelimits_per_minute_v1",
                "ratelimits_per_hour_v1",
                "ratelimits_per_day_v1",
                "ratelimits_per_month_v1",
            ],
        }
    }

    /// The column the `read_analytics` row filter restricts.
    pub fn row_filter_column(self) -> &'static str {
        match self {
            Family::Verifications => "key_space_id",
            Family::Ratelimits => "namespace_id",
        }
    }
}

/// Where the storage keeps one public table, and how far back it may be queried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhysicalTable {
    /// The backend's table name (a plain identifier; it is quoted when rendered).
    pub name: String,
    /// A literal time bound older than this many days is rejected (`query_range_exceeds_retention`).
    pub retention_days: u32,
}

/// Every public table of one family mapped to a physical table; built complete or not at all.
#[derive(Debug, Clone)]
pub struct TableMap {
    family: Family,
    tables: BTreeMap<&'static str, PhysicalTable>,
}

impl TableMap {
    /// Asks `physical` for the storage of each public table of `family`.
    pub fn new(family: Family, physical: impl Fn(&'static str) -> PhysicalTable) -> Self {
        let tables = family.public_tables().iter().map(|&public| (public, physical(public))).collect();
        TableMap { family, tables }
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// The physical table of a public name; `None` for anything else. Case-sensitive, as ClickHouse is.
    pub fn get(&self, public: &str) -> Option<&PhysicalTable> {
        self.tables.get(public)
    }

    pub(crate) fn is_public(&self, name: &str) -> bool {
        self.tables.contains_key(name)
    }

    /// Whether `name` is one of the physical tables, as SQLite compares names (ignoring ASCII case).
    pub(crate) fn is_physical(&self, name: &str) -> bool {
        self.tables.values().any(|t| t.name.eq_ignore_ascii_case(name))
    }
}
