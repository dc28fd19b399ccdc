//! Confinement: every SELECT that reads a public table gets the workspace filter and the optional row
//! filter, qualified by the table's alias, AND-ed in front of the user's WHERE; every query gets a
//! LIMIT no larger than the maximum. Public names become the caller's physical tables here.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, Ident, InTarget, LimitClause, ObjectName, ObjectNamePart, Offset, OffsetRows, Query, Select,
    TableAlias, TableFactor, Value, VisitMut, VisitorMut,
};

use crate::Backend;
use crate::ast::{number, quoted};
use crate::tables::TableMap;
use crate::validate::integer_literal;

/// What every public table read must be restricted to.
pub struct Confinement<'a> {
    pub tables: &'a TableMap,
    pub backend: Backend,
    /// Placeholder 1 holds the workspace id; placeholders 2.. hold the row filter's ids, if any.
    pub row_filter_len: Option<usize>,
    pub max_rows: u64,
}

/// Injects the filters and clamps the limits in place.
pub fn confine(query: &mut Query, confinement: &Confinement<'_>) {
    let _ = query.visit(&mut Injector { confinement });
}

struct Injector<'a, 'b> {
    confinement: &'a Confinement<'b>,
}

impl VisitorMut for Injector<'_, '_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        clamp_limit(query, self.confinement.max_rows);
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        let mut aliases = Vec::new();
        for table in &mut select.from {
            collect_public(&mut table.relation, self.confinement.tables, &mut aliases);
            for join in &mut table.joins {
                collect_public(&mut join.relation, self.confinement.tables, &mut aliases);
            }
        }
        let mut filter: Option<Expr> = None;
        for alias in aliases {
            let condition = self.condition(&alias);
            filter = Some(match filter {
                None => condition,
                Some(f) => and(f, condition),
            });
        }
        if let Some(filter) = filter {
            select.selection = Some(match select.selection.take() {
                None => filter,
                Some(user) => and(filter, Expr::Nested(Box::new(user))),
            });
        }
        ControlFlow::Continue(())
    }
}

impl Injector<'_, '_> {
    fn placeholder(&self, n: usize) -> Expr {
        let text = match self.confinement.backend {
            Backend::Sqlite => format!("?{n}"),
            Backend::Postgres => format!("${n}"),
        };
        Expr::value(Value::Placeholder(text))
    }

    fn condition(&self, alias: &Ident) -> Expr {
        let column = |name: &str| Expr::CompoundIdentifier(vec![alias.clone(), quoted(name)]);
        let workspace = Expr::BinaryOp {
            left: Box::new(column("workspace_id")),
            op: BinaryOperator::Eq,
            right: Box::new(self.placeholder(1)),
        };
        match self.confinement.row_filter_len {
            None => workspace,
            // No permitted id means no row: an empty IN list is not valid SQL on either backend.
            Some(0) => and(workspace, Expr::value(Value::Boolean(false))),
            Some(n) => {
                let ids = (2..n + 2).map(|i| self.placeholder(i)).collect();
                let rows = Expr::In {
                    expr: Box::new(column(self.confinement.tables.family().row_filter_column())),
                    target: InTarget::List(ids),
                    negated: false,
                    global: false,
                };
                and(workspace, rows)
            }
        }
    }
}

fn and(left: Expr, right: Expr) -> Expr {
    Expr::BinaryOp { left: Box::new(left), op: BinaryOperator::And, right: Box::new(right) }
}

/// Renames public tables to their physical table, giving each an alias (its public name when the
/// query had none, so the user's qualified columns keep working) and returning those aliases.
/// Derived tables are left alone: their own SELECTs are confined when the visitor reaches them.
fn collect_public(factor: &mut TableFactor, tables: &TableMap, aliases: &mut Vec<Ident>) {
    match factor {
        TableFactor::Table { name, alias, .. } => {
            let public = match name.0.as_slice() {
                [ObjectNamePart::Identifier(ident)] => ident.value.clone(),
                _ => return,
            };
            let Some(physical) = tables.get(&public) else { return };
            let alias = alias.get_or_insert_with(|| TableAlias {
                explicit: true,
                name: quoted(&public),
                columns: Vec::new(),
                at: None,
            });
            alias.name.quote_style = Some('"');
            aliases.push(alias.name.clone());
            *name = ObjectName(vec![ObjectNamePart::Identifier(quoted(&physical.name))]);
        }
        TableFactor::NestedJoin { table_with_joins, .. } => {
            collect_public(&mut table_with_joins.relation, tables, aliases);
            for join in &mut table_with_joins.joins {
                collect_public(&mut join.relation, tables, aliases);
            }
        }
        _ => {}
    }
}

/// LIMIT added when missing, clamped when larger; `LIMIT offset, n` becomes `LIMIT n OFFSET offset`
/// because PostgreSQL does not know the comma form.
fn clamp_limit(query: &mut Query, max_rows: u64) {
    let (limit, offset) = match query.limit_clause.take() {
        None => (None, None),
        Some(LimitClause::LimitOffset { limit, offset, .. }) => (limit, offset),
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
            (Some(limit), Some(Offset { value: offset, rows: OffsetRows::None }))
        }
    };
    let wanted = limit.as_ref().and_then(integer_literal).unwrap_or(max_rows);
    query.limit_clause = Some(LimitClause::LimitOffset {
        limit: Some(number(wanted.min(max_rows) as i64)),
        offset,
        limit_by: Vec::new(),
    });
}
