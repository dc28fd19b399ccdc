//! Shared helpers: a request builder and an independent checker of the rewritten SQL.
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod unkey_examples;

use std::ops::ControlFlow;

use keyway_analytics::{Backend, Family, PhysicalTable, Request, Rewritten, SandboxError, TableMap, sandbox};
use sqlparser::ast::{BinaryOperator, Expr, ObjectNamePart, Select, TableFactor, Value, Visit, Visitor};
use sqlparser::dialect::{Dialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

/// 2024-01-20T00:00:00Z: the examples' fixed dates (January 2024) are inside every retention.
pub const NOW_MS: i64 = 1_705_708_800_000;

pub fn physical(public: &str) -> String {
    format!("analytics_{}", public.trim_end_matches("_v1"))
}

pub fn tables(family: Family) -> TableMap {
    TableMap::new(family, |public| PhysicalTable {
        name: physical(public),
        retention_days: if public.contains("per_month") { 3 * 365 } else { 90 },
    })
}

pub fn run(
    family: Family,
    backend: Backend,
    sql: &str,
    row_filter: Option<&[String]>,
) -> Result<Rewritten, SandboxError> {
    let tables = tables(family);
    let request =
        Request { tables: &tables, backend, workspace_id: "ws_mine", row_filter, max_rows: 10_000, now_ms: NOW_MS };
    sandbox(sql, &request)
}

pub fn verifications(backend: Backend, sql: &str) -> Result<Rewritten, SandboxError> {
    run(Family::Verifications, backend, sql, None)
}

fn dialect(backend: Backend) -> Box<dyn Dialect> {
    match backend {
        Backend::Sqlite => Box::new(SQLiteDialect {}),
        Backend::Postgres => Box::new(PostgreSqlDialect {}),
    }
}

/// What the output reads, found by parsing it again with the backend's grammar.
#[derive(Debug, Default)]
pub struct Reads {
    /// Physical tables read, one entry per reference.
    pub physical: Vec<String>,
    /// Every other relation name (CTE references, `json_each`, `unnest`).
    pub other: Vec<String>,
    /// SELECTs that read a physical table without `<alias>.workspace_id = <placeholder 1>` as a
    /// top-level conjunct of their WHERE (with the row filter when one is expected).
    pub unconfined: Vec<String>,
    pub limits: Vec<Option<String>>,
}

/// Parses `out` and checks each SELECT independently of the sandbox's own code.
pub fn reads(backend: Backend, family: Family, out: &Rewritten, row_filter: bool) -> Reads {
    let statements = Parser::parse_sql(&*dialect(backend), &out.sql)
        .unwrap_or_else(|e| panic!("output must parse on {backend}: {e}\n{}", out.sql));
    assert_eq!(statements.len(), 1);
    let physical: Vec<String> = family.public_tables().iter().map(|p| physical(p)).collect();
    let mut checker = Checker { backend, physical, row_filter, reads: Reads::default() };
    let _ = statements.visit(&mut checker);
    checker.reads
}

struct Checker {
    backend: Backend,
    physical: Vec<String>,
    row_filter: bool,
    reads: Reads,
}

impl Checker {
    fn placeholder(&self, n: usize) -> String {
        match self.backend {
            Backend::Sqlite => format!("?{n}"),
            Backend::Postgres => format!("${n}"),
        }
    }
}

fn conjuncts(expr: &Expr, out: &mut Vec<Expr>) {
    match expr {
        Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        other => out.push(other.clone()),
    }
}

fn is_qualified(expr: &Expr, alias: &str, column: &str) -> bool {
    matches!(expr, Expr::CompoundIdentifier(parts) if parts.len() == 2 && parts[0].value == alias && parts[1].value == column)
}

fn is_placeholder(expr: &Expr, text: &str) -> bool {
    matches!(expr, Expr::Value(v) if v.value == Value::Placeholder(text.to_owned()))
}

impl Visitor for Checker {
    type Break = ();

    fn pre_visit_query(&mut self, query: &sqlparser::ast::Query) -> ControlFlow<()> {
        let limit = match &query.limit_clause {
            Some(sqlparser::ast::LimitClause::LimitOffset { limit: Some(l), .. }) => Some(l.to_string()),
            _ => None,
        };
        // Helper subqueries of the translation (`json_each` lookups) read no table and need no limit.
        let text = query.to_string();
        if self.physical.iter().any(|p| text.contains(p.as_str())) {
            self.reads.limits.push(limit);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        let mut factors: Vec<&TableFactor> = Vec::new();
        for table in &select.from {
            factors.push(&table.relation);
            factors.extend(table.joins.iter().map(|j| &j.relation));
        }
        let mut conditions = Vec::new();
        if let Some(selection) = &select.selection {
            conjuncts(selection, &mut conditions);
        }
        for factor in factors {
            let TableFactor::Table { name, alias, .. } = factor else { continue };
            let [ObjectNamePart::Identifier(ident)] = name.0.as_slice() else {
                self.reads.other.push(name.to_string());
                continue;
            };
            if !self.physical.contains(&ident.value) {
                self.reads.other.push(ident.value.clone());
                continue;
            }
            self.reads.physical.push(ident.value.clone());
            let alias = alias.as_ref().map_or(ident.value.clone(), |a| a.name.value.clone());
            let workspace = conditions.iter().any(|c| {
                matches!(c, Expr::BinaryOp { left, op: BinaryOperator::Eq, right }
                    if is_qualified(left, &alias, "workspace_id") && is_placeholder(right, &self.placeholder(1)))
            });
            let rows = !self.row_filter
                || conditions.iter().any(|c| {
                    matches!(c, Expr::In { expr, target: sqlparser::ast::InTarget::List(list), negated: false, .. }
                            if (is_qualified(expr, &alias, "key_space_id") || is_qualified(expr, &alias, "namespace_id"))
                                && !list.is_empty()
                                && list.iter().enumerate().all(|(i, e)| is_placeholder(e, &self.placeholder(i + 2))))
                        || matches!(c, Expr::Value(v) if v.value == Value::Boolean(false))
                });
            if !(workspace && rows) {
                self.reads.unconfined.push(select.to_string());
            }
        }
        ControlFlow::Continue(())
    }
}

/// Asserts that `out` reads only physical tables of `family`, `json_each` and the CTEs named in
/// `ctes`, and that every SELECT over a physical table is confined.
pub fn assert_confined(backend: Backend, family: Family, out: &Rewritten, row_filter: bool, ctes: &[&str]) -> Reads {
    let reads = reads(backend, family, out, row_filter);
    assert!(reads.unconfined.is_empty(), "unconfined SELECTs on {backend}: {:?}\n{}", reads.unconfined, out.sql);
    for other in &reads.other {
        assert!(other == "json_each" || ctes.contains(&other.as_str()), "unexpected relation {other} in {}", out.sql);
    }
    assert_eq!(out.params[0], "ws_mine");
    reads
}
