//! From text to one ClickHouse `SELECT` query: size limit, syntax, statement count and type.

use sqlparser::ast::{Query, Statement};
use sqlparser::dialect::ClickHouseDialect;
use sqlparser::parser::Parser;

use crate::error::{ErrorKind, SandboxError};

/// Unkey's limit on the query text.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// Parses `sql` as exactly one ClickHouse query statement.
pub fn parse_one_select(sql: &str) -> Result<Query, SandboxError> {
    if sql.len() > MAX_QUERY_BYTES {
        return Err(SandboxError::query(format!("Analytics query is too large (at most {MAX_QUERY_BYTES} bytes)")));
    }
    let mut statements = Parser::parse_sql(&ClickHouseDialect {}, sql)
        .map_err(|e| SandboxError::query(format!("Invalid SQL syntax: {e}")))?;
    match statements.len() {
        0 => return Err(SandboxError::query("No SQL statements found")),
        1 => {}
        _ => return Err(SandboxError::query("Analytics queries must contain exactly one statement")),
    }
    match statements.remove(0) {
        Statement::Query(query) => Ok(*query),
        _ => Err(SandboxError::new(ErrorKind::InvalidQueryType, "Only SELECT queries are allowed")),
    }
}
