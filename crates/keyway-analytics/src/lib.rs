//! # keyway-analytics: the analytics SQL sandbox
//!
//! Unkey's `analytics.getVerifications` and `analytics.getRatelimits` take a ClickHouse `SELECT` over
//! public tables (`key_verifications_v1`, `..._per_{minute,hour,day,month}_v1`, `ratelimits_v1`, ...).
//! This crate turns such a query into one that SQLite or PostgreSQL can run and that can only read
//! the caller's own workspace. It is pure: no I/O, no clock (the caller passes `now_ms`), no database.
//!
//! [`sandbox`] runs four passes over the AST of the `sqlparser` crate (ClickHouse dialect):
//! 1. **parse** ([`parse`]): at most 16 KiB, exactly one statement, a query.
//! 2. **validate** ([`validate`]): an allow-list of syntax (SELECT, CTEs, subqueries, UNION / EXCEPT /
//!    INTERSECT, joins, window functions), at most 2000 AST nodes and 64 projected columns in total,
//!    the endpoint's public tables only (a CTE may not take a public name; table functions, `IN <table>`,
//!    `SETTINGS`, query placeholders and exotic literals are refused; so is a CTE named like a physical
//!    table), the function allow-list
//!    (case-insensitive), then the retention check: a constant lower bound on `time` (`>=`, `>`, `=`,
//!    `BETWEEN`; numbers, date strings, `now() - INTERVAL ..`, `toStartOf..(..)`) older than the table's
//!    retention is refused.
//! 3. **confine** ([`inject`]): in every SELECT that reads a public table, wherever it sits (CTE,
//!    derived table, expression subquery, UNION branch, JOIN), the filter
//!    `"<alias>"."workspace_id" = <p1> [AND "<alias>"."<row column>" IN (<p2>, ...)]` is AND-ed in front
//!    of the user's parenthesised WHERE. The alias is the table's own (its public name when the user gave
//!    none), so no user alias or column can shadow it. Values are bound parameters ([`Rewritten::params`]),
//!    never text. Every query level gets `LIMIT <= max_rows`.
//! 4. **rewrite** ([`rewrite`]): public names become the caller's physical tables ([`TableMap`]), every
//!    identifier is double-quoted (ClickHouse names are case-sensitive and may be keywords), and
//!    ClickHouse functions and syntax become the backend's SQL.
//!
//! ## Guarantees
//! - A query that comes out reads no table but the physical tables of its endpoint's family, and every
//!   SELECT over one of them carries the workspace filter (and the row filter when given).
//! - Every rejection is a [`SandboxError`] whose [`ErrorKind`] names Unkey's error `type` (all 400).
//! - The output is one SELECT statement with numbered placeholders: `?1, ?2, ..` on SQLite, `$1, $2, ..`
//!   on PostgreSQL; bind [`Rewritten::params`] in order.
//!
//! ## Storage the rewrite assumes (the storage adapters must follow it)
//! - Every `time` column is Unix milliseconds, BIGINT / INTEGER, in the raw tables and in the aggregate
//!   tables alike (there it is the start of the minute/hour/day/month bucket, UTC). ClickHouse's
//!   DateTime and Date values are therefore milliseconds too: `now()`, `toStartOfDay(..)`, `toDate(..)`
//!   and `INTERVAL 7 DAY` all denote milliseconds, so `time >= now() - INTERVAL 7 DAY` means what its
//!   author meant on every table. `toDateTime(<number>)` reads the number as seconds, as ClickHouse does.
//!   Results carry times as millisecond numbers, not ClickHouse's date strings.
//! - `tags` is a JSON array of strings in a TEXT column on SQLite, and `TEXT[]` on PostgreSQL.
//! - Column names are those of Unkey's schema reference (`request_id`, `time`, `workspace_id`,
//!   `key_space_id`, `identity_id`, `external_id`, `key_id`, `region`, `source`, `app_id`, `outcome`,
//!   `tags`, `spent_credits`, `latency`; aggregates: `count`, `spent_credits`, `latency_avg`, `latency_p75`,
//!   `latency_p99`; ratelimits: `namespace_id`, `identifier`, `passed`, `override_id`, `limit`,
//!   `remaining`, `reset_at`, `tokens`, and on aggregates `passed`, `total`, `passed_tokens`, `total_tokens`).
//!   `workspace_id` and the row-filter column must exist on every physical table.
//! - The executing connection should still only see the analytics tables (a separate SQLite file, a
//!   PostgreSQL role/schema and a read-only transaction): the sandbox is the first of two layers.
//!
//! ## Translation notes
//! - `count`, `avg`, `min`, `max` as they are; `sum` and `sumIf` answer 0 over no rows, as in ClickHouse;
//!   `countIf(c)`, `sumIf(x, c)`, `if(c, a, b)` become CASE; `uniq`/`uniqExact` become `COUNT(DISTINCT ..)`;
//!   `any` becomes `MIN`; `groupArray` becomes `json_group_array` (SQLite, a JSON text) or `array_agg`.
//! - `/` divides as floating point, as in ClickHouse. Aliases used by other select items or in HAVING are
//!   replaced by their expression, as ClickHouse resolves them.
//! - `has`, `hasAny`, `hasAll` become `json_each` lookups (SQLite) or array operators (PostgreSQL).
//! - Not supported, rejected as `invalid_analytics_query` naming the backend: `quantile` on SQLite (no
//!   percentile aggregate in stock SQLite; on PostgreSQL it is `percentile_cont`), `arrayJoin` and
//!   `arrayFilter` on SQLite (PostgreSQL: `unnest` / `ARRAY(SELECT ..)`), `ORDER BY .. WITH FILL`,
//!   `formatDateTime`, month/quarter/year intervals added to a row's value (on constants they fold).
//! - LEFT/RIGHT/FULL joins of a public table get its filter in WHERE, so unmatched rows of the outer
//!   side do not survive: a join never widens what is read, at the price of outer-join semantics.
//! - LIMIT sits on every query level (the outer query, each CTE and subquery); a UNION's branches share
//!   the LIMIT of the query they form.
//!
//! ## Dependency
//! `sqlparser` is pinned (`=0.64.0`): the passes match on its AST. It adds one proc-macro crate (for
//! the `visitor` feature); measured on the 2-core machine, a cold debug build of sqlparser, its
//! dependencies and this crate took 38 s of CPU (2 min 39 s wall while sharing the machine).

mod allow;
mod ast;
mod error;
pub mod inject;
pub mod parse;
pub mod retention;
pub mod rewrite;
mod tables;
mod time;
pub mod validate;

pub use error::{ErrorKind, SandboxError};
pub use tables::{Family, PhysicalTable, TableMap};

/// The database the rewritten query runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// Unkey's default for `max_query_result_rows`.
pub const DEFAULT_MAX_ROWS: u64 = 10_000;

/// Who asks and where the query will run.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Public → physical tables; its family decides which public tables exist.
    pub tables: &'a TableMap,
    pub backend: Backend,
    pub workspace_id: &'a str,
    /// The `read_analytics` row filter: key space ids (verifications) or namespace ids (ratelimits).
    /// `None` reads the whole workspace; an empty list reads nothing.
    pub row_filter: Option<&'a [String]>,
    pub max_rows: u64,
    /// The instant `now()` denotes and retention is measured from, Unix milliseconds.
    pub now_ms: i64,
}

/// A query ready for the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    pub sql: String,
    /// Bind in order to placeholders 1, 2, ...: the workspace id, then the row filter's ids.
    pub params: Vec<String>,
}

/// Parses, checks, confines and rewrites one analytics query.
pub fn sandbox(sql: &str, request: &Request<'_>) -> Result<Rewritten, SandboxError> {
    let mut query = parse::parse_one_select(sql)?;
    validate::validate(&query, request.tables)?;
    retention::check_retention(&query, request.tables, request.now_ms)?;
    inject::confine(
        &mut query,
        &inject::Confinement {
            tables: request.tables,
            backend: request.backend,
            row_filter_len: request.row_filter.map(<[String]>::len),
            max_rows: request.max_rows,
        },
    );
    rewrite::rewrite(&mut query, request.backend, request.now_ms)?;
    let mut params = vec![request.workspace_id.to_owned()];
    params.extend(request.row_filter.into_iter().flatten().cloned());
    Ok(Rewritten { sql: query.to_string(), params })
}
