//! The retention check: a SELECT over a public table may not bound `time` from below by a constant
//! older than that table's retention.

use std::ops::ControlFlow;

use sqlparser::ast::{BinaryOperator, Expr, ObjectNamePart, Query, Select, TableFactor, Visit, Visitor};

use crate::ast::is_column;
use crate::error::{ErrorKind, SandboxError};
use crate::tables::TableMap;
use crate::time::{DAY, fold, format_date};

pub fn check_retention(query: &Query, tables: &TableMap, now_ms: i64) -> Result<(), SandboxError> {
    match query.visit(&mut RetentionCheck { tables, now_ms }) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

struct RetentionCheck<'a> {
    tables: &'a TableMap,
    now_ms: i64,
}

impl Visitor for RetentionCheck<'_> {
    type Break = SandboxError;

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<SandboxError> {
        let mut days: Option<u32> = None;
        for table in &select.from {
            let factors = std::iter::once(&table.relation).chain(table.joins.iter().map(|j| &j.relation));
            for factor in factors {
                if let TableFactor::Table { name, .. } = factor
                    && let [ObjectNamePart::Identifier(ident)] = name.0.as_slice()
                    && let Some(physical) = self.tables.get(&ident.value)
                {
                    days = Some(days.map_or(physical.retention_days, |d| d.min(physical.retention_days)));
                }
            }
        }
        let (Some(days), Some(selection)) = (days, &select.selection) else { return ControlFlow::Continue(()) };
        let earliest = self.now_ms - i64::from(days) * DAY;
        let mut oldest: Option<i64> = None;
        lower_bounds(selection, self.now_ms, &mut |ms| oldest = Some(oldest.map_or(ms, |o: i64| o.min(ms))));
        match oldest {
            Some(ms) if ms < earliest => ControlFlow::Break(SandboxError::new(
                ErrorKind::RangeExceedsRetention,
                format!(
                    "Cannot query data older than {days} days. Your query attempts to access data from {}, but only \
                     data from {} onwards is available.",
                    format_date(ms),
                    format_date(earliest)
                ),
            )),
            _ => ControlFlow::Continue(()),
        }
    }
}

/// Calls `found` with every constant that bounds `time` from below (`>=`, `>`, `=`, `BETWEEN`)
/// anywhere in a WHERE clause, in either operand order.
fn lower_bounds(expr: &Expr, now_ms: i64, found: &mut impl FnMut(i64)) {
    match expr {
        Expr::Nested(inner) | Expr::UnaryOp { expr: inner, .. } => lower_bounds(inner, now_ms, found),
        Expr::BinaryOp { left, op, right } => {
            let (column_left, column_right) = (is_column(left, "time"), is_column(right, "time"));
            let bound = match op {
                BinaryOperator::GtEq | BinaryOperator::Gt | BinaryOperator::Eq if column_left => fold(right, now_ms),
                BinaryOperator::LtEq | BinaryOperator::Lt | BinaryOperator::Eq if column_right => fold(left, now_ms),
                _ => None,
            };
            if let Some(ms) = bound {
                found(ms);
            }
            lower_bounds(left, now_ms, found);
            lower_bounds(right, now_ms, found);
        }
        Expr::Between { expr, negated: false, low, .. } if is_column(expr, "time") => {
            if let Some(ms) = fold(low, now_ms) {
                found(ms);
            }
        }
        _ => {}
    }
}
