//! The allow-lists over the whole AST: syntax shapes, tables, functions, literals and size limits.
//! Whatever is not explicitly allowed here is rejected, so a new parser feature cannot slip through.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FunctionArguments, GroupByExpr, InTarget, JoinConstraint, JoinOperator, LimitClause, ObjectNamePart, Query,
    Select, SelectFlavor, SelectItem, SetExpr, TableFactor, Value, ValueWithSpan, Visit, Visitor,
};

use crate::allow::allowed_function;
use crate::error::SandboxError;
use crate::tables::TableMap;

/// Unkey's limit on AST nodes (expressions, queries and table references).
pub const MAX_AST_NODES: usize = 2000;
/// Unkey's limit on projected columns, summed over every SELECT.
pub const MAX_PROJECTED_COLUMNS: usize = 64;

/// Checks `query` against every rule of the sandbox; `Ok` means it may be confined and rewritten.
pub fn validate(query: &Query, tables: &TableMap) -> Result<(), SandboxError> {
    let mut checker = Checker { tables, cte_scopes: Vec::new(), nodes: 0, projected: 0 };
    match query.visit(&mut checker) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

struct Checker<'a> {
    tables: &'a TableMap,
    /// CTE names visible at the current point, one frame per enclosing query.
    cte_scopes: Vec<Vec<String>>,
    nodes: usize,
    projected: usize,
}

impl Checker<'_> {
    fn count_node(&mut self) -> ControlFlow<SandboxError> {
        self.nodes += 1;
        if self.nodes > MAX_AST_NODES {
            return ControlFlow::Break(SandboxError::query("Analytics query is too complex"));
        }
        ControlFlow::Continue(())
    }

    fn is_cte(&self, name: &str) -> bool {
        self.cte_scopes.iter().flatten().any(|cte| cte == name)
    }
}

fn reject<T>(e: SandboxError) -> ControlFlow<SandboxError, T> {
    ControlFlow::Break(e)
}

fn unsupported(what: &str) -> SandboxError {
    SandboxError::query(format!("{what} is not supported in analytics queries"))
}

impl Visitor for Checker<'_> {
    type Break = SandboxError;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<SandboxError> {
        self.count_node()?;
        if query.settings.is_some() {
            return reject(SandboxError::query("SETTINGS clauses are not allowed"));
        }
        if query.fetch.is_some()
            || !query.locks.is_empty()
            || query.for_clause.is_some()
            || query.format_clause.is_some()
            || !query.pipe_operators.is_empty()
        {
            return reject(unsupported("This clause"));
        }
        if let Some(order_by) = &query.order_by
            && order_by.interpolate.is_some()
        {
            return reject(unsupported("INTERPOLATE"));
        }
        if !limit_is_literal(query.limit_clause.as_ref())? {
            return reject(SandboxError::query("LIMIT and OFFSET must be integer literals"));
        }
        let mut names = Vec::new();
        if let Some(with) = &query.with {
            if with.recursive {
                return reject(unsupported("WITH RECURSIVE"));
            }
            for cte in &with.cte_tables {
                let name = &cte.alias.name.value;
                // A CTE named like a physical table would be what the rewritten reference reads.
                if self.tables.is_public(name) || self.tables.is_physical(name) {
                    return reject(SandboxError::new(
                        crate::ErrorKind::InvalidTable,
                        format!("CTE name '{name}' conflicts with a public table name"),
                    ));
                }
                if cte.from.is_some() || cte.materialized.is_some() || !cte.alias.columns.is_empty() {
                    return reject(unsupported("This CTE form"));
                }
                names.push(name.clone());
            }
        }
        self.cte_scopes.push(names);
        check_set_expr(&query.body)
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<SandboxError> {
        self.cte_scopes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<SandboxError> {
        self.projected += select.projection.len();
        if self.projected > MAX_PROJECTED_COLUMNS {
            return reject(SandboxError::query("Analytics query projects too many columns"));
        }
        check_select_shape(select)
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<SandboxError> {
        self.count_node()?;
        match factor {
            TableFactor::Table {
                name,
                args,
                with_hints,
                version,
                with_ordinality,
                partitions,
                json_path,
                sample,
                index_directives,
                inheritance,
                ..
            } => {
                if let Some(_args) = args {
                    return reject(SandboxError::new(
                        crate::ErrorKind::InvalidFunction,
                        format!("Table function '{name}' is not allowed for security reasons"),
                    ));
                }
                let single = match name.0.as_slice() {
                    [ObjectNamePart::Identifier(ident)] => Some(ident.value.as_str()),
                    _ => None,
                };
                match single {
                    Some(table) if self.tables.is_public(table) || self.is_cte(table) => {}
                    _ => return reject(SandboxError::table(name)),
                }
                if !with_hints.is_empty()
                    || version.is_some()
                    || *with_ordinality
                    || !partitions.is_empty()
                    || json_path.is_some()
                    || sample.is_some()
                    || !index_directives.is_empty()
                    || inheritance.is_some()
                {
                    return reject(unsupported("This table modifier"));
                }
            }
            TableFactor::Derived { lateral: false, sample: None, .. } | TableFactor::NestedJoin { .. } => {}
            TableFactor::Function { name, .. } => {
                return reject(SandboxError::new(
                    crate::ErrorKind::InvalidFunction,
                    format!("Table function '{name}' is not allowed for security reasons"),
                ));
            }
            _ => {
                return reject(SandboxError::new(crate::ErrorKind::InvalidFunction, "Table functions are not allowed"));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_value(&mut self, value: &ValueWithSpan) -> ControlFlow<SandboxError> {
        match &value.value {
            Value::Number(..) | Value::SingleQuotedString(_) | Value::Boolean(_) | Value::Null => {
                ControlFlow::Continue(())
            }
            Value::Placeholder(_) => reject(SandboxError::query("Query parameters are not supported")),
            _ => reject(unsupported("This literal")),
        }
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<SandboxError> {
        self.count_node()?;
        check_expr(expr)
    }
}

/// Set operations: UNION and EXCEPT of SELECTs (Unkey's list); nothing that writes.
fn check_set_expr(body: &SetExpr) -> ControlFlow<SandboxError> {
    match body {
        SetExpr::Select(_) | SetExpr::Query(_) => ControlFlow::Continue(()),
        SetExpr::SetOperation { left, op, right, .. } => {
            use sqlparser::ast::SetOperator::{Except, Intersect, Union};
            if !matches!(op, Union | Except | Intersect) {
                return reject(unsupported("This set operation"));
            }
            check_set_expr(left)?;
            check_set_expr(right)
        }
        SetExpr::Values(_) | SetExpr::Table(_) => reject(unsupported("This query form")),
        _ => reject(SandboxError::new(crate::ErrorKind::InvalidQueryType, "Only SELECT queries are allowed")),
    }
}

fn check_select_shape(select: &Select) -> ControlFlow<SandboxError> {
    if !select.optimizer_hints.is_empty()
        || select.select_modifiers.is_some()
        || select.top.is_some()
        || select.exclude.is_some()
        || select.into.is_some()
        || !select.lateral_views.is_empty()
        || select.prewhere.is_some()
        || !select.connect_by.is_empty()
        || !select.cluster_by.is_empty()
        || !select.distribute_by.is_empty()
        || !select.sort_by.is_empty()
        || !select.named_window.is_empty()
        || select.qualify.is_some()
        || select.value_table_mode.is_some()
        || select.flavor != SelectFlavor::Standard
    {
        return reject(unsupported("This SELECT clause"));
    }
    if let Some(sqlparser::ast::Distinct::On(_)) = &select.distinct {
        return reject(unsupported("DISTINCT ON"));
    }
    match &select.group_by {
        GroupByExpr::Expressions(_, modifiers) if modifiers.is_empty() => {}
        _ => return reject(unsupported("This GROUP BY form")),
    }
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. } => {}
            SelectItem::Wildcard(options) | SelectItem::QualifiedWildcard(_, options)
                if options.opt_ilike.is_none()
                    && options.opt_exclude.is_none()
                    && options.opt_except.is_none()
                    && options.opt_replace.is_none()
                    && options.opt_rename.is_none() => {}
            _ => return reject(unsupported("This select item")),
        }
    }
    for table in &select.from {
        for join in &table.joins {
            check_join(&join.join_operator)?;
        }
    }
    ControlFlow::Continue(())
}

fn check_join(op: &JoinOperator) -> ControlFlow<SandboxError> {
    let constraint = match op {
        JoinOperator::Join(c)
        | JoinOperator::Inner(c)
        | JoinOperator::Left(c)
        | JoinOperator::LeftOuter(c)
        | JoinOperator::Right(c)
        | JoinOperator::RightOuter(c)
        | JoinOperator::FullOuter(c)
        | JoinOperator::CrossJoin(c) => c,
        _ => return reject(unsupported("This JOIN form")),
    };
    match constraint {
        JoinConstraint::On(_) | JoinConstraint::Using(_) | JoinConstraint::None => ControlFlow::Continue(()),
        JoinConstraint::Natural | JoinConstraint::UsingAlias(..) => reject(unsupported("NATURAL JOIN")),
    }
}

fn check_expr(expr: &Expr) -> ControlFlow<SandboxError> {
    match expr {
        Expr::Identifier(_)
        | Expr::Value(_)
        | Expr::BinaryOp { .. }
        | Expr::UnaryOp { .. }
        | Expr::Nested(_)
        | Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsNotTrue(_)
        | Expr::IsNotFalse(_)
        | Expr::Between { .. }
        | Expr::Subquery(_)
        | Expr::Exists { .. }
        | Expr::Array(_)
        | Expr::Lambda(_) => ControlFlow::Continue(()),
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => ControlFlow::Continue(()),
        Expr::CompoundIdentifier(_) => reject(unsupported("A column name with more than one qualifier")),
        Expr::Like { escape_char: None, any: false, .. } | Expr::ILike { escape_char: None, any: false, .. } => {
            ControlFlow::Continue(())
        }
        Expr::Case { .. } => ControlFlow::Continue(()),
        Expr::Interval(interval) => {
            if interval.leading_field.is_none() || interval.last_field.is_some() {
                return reject(SandboxError::query("INTERVAL needs a number and one unit, e.g. INTERVAL 7 DAY"));
            }
            ControlFlow::Continue(())
        }
        Expr::In { target, global, .. } => {
            let table_backed = match target {
                InTarget::List(list) => {
                    matches!(list.as_slice(), [Expr::Identifier(_) | Expr::CompoundIdentifier(_)])
                }
                InTarget::Subquery(_) => false,
                _ => true,
            };
            if table_backed || *global {
                return reject(SandboxError::query(
                    "Table-backed IN expressions are not supported; use a literal list or a subquery",
                ));
            }
            ControlFlow::Continue(())
        }
        Expr::Function(function) => {
            let name = match function.name.0.as_slice() {
                [ObjectNamePart::Identifier(ident)] => ident.value.as_str(),
                _ => return reject(SandboxError::function(&function.name)),
            };
            let Some(lower) = allowed_function(name) else {
                return reject(SandboxError::function(name));
            };
            let parameters_ok = match &function.parameters {
                FunctionArguments::None => true,
                FunctionArguments::List(_) => lower == "quantile",
                FunctionArguments::Subquery(_) => false,
            };
            if !parameters_ok
                || matches!(function.args, FunctionArguments::Subquery(_))
                || function.uses_odbc_syntax
                || !function.within_group.is_empty()
                || function.filter.is_some()
                || function.null_treatment.is_some()
            {
                return reject(unsupported(&format!("This form of '{name}'")));
            }
            if let FunctionArguments::List(list) = &function.args
                && (!list.clauses.is_empty()
                    || list.args.iter().any(|a| !matches!(a, sqlparser::ast::FunctionArg::Unnamed(_))))
            {
                return reject(unsupported(&format!("This form of '{name}'")));
            }
            ControlFlow::Continue(())
        }
        _ => reject(unsupported("This expression")),
    }
}

/// Whether LIMIT and OFFSET are integer literals (the clamp needs a number); `LIMIT BY` is refused.
fn limit_is_literal(clause: Option<&LimitClause>) -> ControlFlow<SandboxError, bool> {
    ControlFlow::Continue(match clause {
        None => true,
        Some(LimitClause::LimitOffset { limit_by, .. }) if !limit_by.is_empty() => {
            return reject(unsupported("LIMIT BY"));
        }
        Some(LimitClause::LimitOffset { limit, offset, .. }) => {
            limit.as_ref().is_none_or(|l| integer_literal(l).is_some())
                && offset.as_ref().is_none_or(|o| integer_literal(&o.value).is_some())
        }
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
            integer_literal(offset).is_some() && integer_literal(limit).is_some()
        }
    })
}

/// A non-negative integer literal.
pub(crate) fn integer_literal(expr: &Expr) -> Option<u64> {
    match expr {
        Expr::Value(ValueWithSpan { value: Value::Number(n, false), .. }) => n.parse().ok(),
        _ => None,
    }
}
