//! From confined ClickHouse to the backend's SQL. Runs last, over an AST that passed validation and
//! confinement: it only translates, never widens what the query may read.
//!
//! Translation is post-order (a node is rewritten after its children), so an expression built here
//! is never translated twice. Two decisions need the original shape and happen on the way down:
//! folding constant time expressions to a number, and telling `toDateTime(<time>)` from
//! `toDateTime(<seconds>)`.

mod aliases;
mod postgres;
mod sqlite;
mod template;

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, Function, Ident, OrderBy, OrderByKind, Query, Select, TableAlias,
    TableFactor, VisitMut, VisitorMut,
};

use crate::Backend;
use crate::ast::{call, function_name, is_column, number, plain_args};
use crate::error::SandboxError;
use crate::time::{self, Span, fold, is_time_valued, span_of, start_of_unit, trunc_unit};

/// The internal name `toDateTime(<seconds>)` is renamed to on the way down; validation has already
/// run, so no user query can name it.
const SECONDS_TO_MS: &str = "keyway_seconds_to_ms";

/// Rewrites `query` in place for `backend`; `now_ms` is the instant `now()` denotes.
pub fn rewrite(query: &mut Query, backend: Backend, now_ms: i64) -> Result<(), SandboxError> {
    match query.visit(&mut Rewriter { backend, now_ms, invented: 0 }) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

struct Rewriter {
    backend: Backend,
    now_ms: i64,
    /// Numbers the names this pass invents (derived-table aliases, array joins).
    invented: usize,
}

impl VisitorMut for Rewriter {
    type Break = SandboxError;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<SandboxError> {
        if let Some(OrderBy { kind: OrderByKind::Expressions(exprs), .. }) = &query.order_by
            && exprs.iter().any(|e| e.with_fill.is_some())
        {
            return ControlFlow::Break(SandboxError::unsupported("ORDER BY ... WITH FILL", self.backend));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<SandboxError> {
        aliases::inline_projection_aliases(select);
        if self.backend == Backend::Sqlite {
            sqlite::array_joins(select, &mut self.invented);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<SandboxError> {
        // ClickHouse allows a derived table without a name; PostgreSQL before 16 does not.
        if let TableFactor::Derived { alias: alias @ None, .. } = factor {
            self.invented += 1;
            *alias = Some(TableAlias {
                explicit: true,
                name: Ident::new(format!("keyway_derived_{}", self.invented)),
                columns: Vec::new(),
                at: None,
            });
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_ident(&mut self, ident: &mut Ident) -> ControlFlow<SandboxError> {
        // ClickHouse names are case-sensitive and may be keywords (`limit`): double quotes keep both
        // on SQLite and PostgreSQL. Function names are unquoted again after their call is visited.
        ident.quote_style = Some('"');
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<SandboxError> {
        let foldable = matches!(expr, Expr::Function(_))
            || matches!(expr, Expr::BinaryOp { right, .. } if span_of(right).is_some());
        if foldable
            && is_time_valued(expr)
            && let Some(ms) = fold(expr, self.now_ms)
        {
            *expr = number(ms);
            return ControlFlow::Continue(());
        }
        if let Expr::Function(f) = expr
            && matches!(function_name(f).as_deref(), Some("todatetime" | "todatetime64"))
        {
            let args = plain_args(&f.args);
            match args.first() {
                Some(arg) if is_time_valued(arg) => *expr = (*arg).clone(),
                Some(arg) => *expr = call(SECONDS_TO_MS, vec![(*arg).clone()]),
                None => {}
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<SandboxError> {
        let rewritten = match expr {
            Expr::Function(f) => {
                for part in &mut f.name.0 {
                    if let sqlparser::ast::ObjectNamePart::Identifier(ident) = part {
                        ident.quote_style = None;
                    }
                }
                self.function(f)
            }
            Expr::Interval(_) => match span_of(expr) {
                Some(Span::Millis(ms)) => Ok(Some(number(ms))),
                _ => Err(SandboxError::unsupported(
                    "An INTERVAL in months, quarters or years on a row's time",
                    self.backend,
                )),
            },
            // ClickHouse's `/` always divides as floating point; both backends divide integers exactly.
            Expr::BinaryOp { left, op: BinaryOperator::Divide, right } => Ok(Some(Expr::BinaryOp {
                left: Box::new(cast(left.as_ref().clone(), DataType::DoublePrecision)),
                op: BinaryOperator::Divide,
                right: right.clone(),
            })),
            Expr::Array(array) => Ok(Some(match self.backend {
                Backend::Sqlite => call("json_array", array.elem.clone()),
                Backend::Postgres => Expr::Array(sqlparser::ast::Array { elem: array.elem.clone(), named: true }),
            })),
            _ => Ok(None),
        };
        match rewritten {
            Ok(Some(new)) => *expr = new,
            Ok(None) => {}
            Err(e) => return ControlFlow::Break(e),
        }
        ControlFlow::Continue(())
    }
}

impl Rewriter {
    /// The backend form of an allowed ClickHouse function, or `None` when it is already the same.
    fn function(&self, f: &Function) -> Result<Option<Expr>, SandboxError> {
        let Some(name) = function_name(f) else { return Ok(None) };
        let args: Vec<Expr> = plain_args(&f.args).into_iter().cloned().collect();
        let distinct = matches!(
            &f.args,
            sqlparser::ast::FunctionArguments::List(l) if l.duplicate_treatment == Some(sqlparser::ast::DuplicateTreatment::Distinct)
        );
        let one = |args: &[Expr]| -> Result<Expr, SandboxError> {
            match args {
                [a] => Ok(a.clone()),
                _ => Err(SandboxError::query(format!("'{name}' takes exactly one argument"))),
            }
        };
        let out = match name.as_str() {
            "sum" if f.over.is_none() => call("COALESCE", vec![Expr::Function(f.clone()), number(0)]),
            "any" => renamed(f, "MIN"),
            "uniq" | "uniqexact" => aggregate("COUNT", one(&args)?, true),
            "countif" => call("COUNT", vec![case_when(one(&args)?, number(1), None)]),
            "sumif" => match args.as_slice() {
                [value, condition] => call(
                    "COALESCE",
                    vec![call("SUM", vec![case_when(condition.clone(), value.clone(), None)]), number(0)],
                ),
                _ => return Err(SandboxError::query("'sumIf' takes a value and a condition")),
            },
            "if" => match args.as_slice() {
                [condition, then, otherwise] => case_when(condition.clone(), then.clone(), Some(otherwise.clone())),
                _ => return Err(SandboxError::query("'if' takes a condition and two values")),
            },
            SECONDS_TO_MS => cast(multiply(one(&args)?, time::SECOND), DataType::BigInt(None)),
            "fromunixtimestamp64milli" | "tounixtimestamp64milli" => one(&args)?,
            "tostring" => cast(one(&args)?, DataType::Text),
            "toint32" | "toint64" => cast(one(&args)?, DataType::BigInt(None)),
            "tofloat64" => cast(one(&args)?, DataType::DoublePrecision),
            "substring" => call("substr", args),
            "case" => return Err(SandboxError::unsupported("The function form of 'case'", self.backend)),
            "formatdatetime" => return Err(SandboxError::unsupported("'formatDateTime'", self.backend)),
            "length" if args.first().is_some_and(|a| is_column(a, "tags")) => self.array_length(one(&args)?),
            n if n.starts_with("tointerval") => match (span_of(&Expr::Function(f.clone())), args.as_slice()) {
                (Some(Span::Millis(ms)), _) => number(ms),
                (None, [amount]) => match time::unit_span(&n["tointerval".len()..], 1) {
                    Some(Span::Millis(ms)) => multiply(amount.clone(), ms),
                    _ => return Err(SandboxError::unsupported(format!("'{n}' on a row's value"), self.backend)),
                },
                _ => return Err(SandboxError::unsupported(format!("'{n}' in months"), self.backend)),
            },
            "date_trunc" => match args.as_slice() {
                [unit, value] => {
                    let unit = crate::ast::string_literal(unit)
                        .and_then(trunc_unit)
                        .ok_or_else(|| SandboxError::query("date_trunc needs a unit such as 'day'"))?;
                    self.start_of(unit, value.clone())?
                }
                _ => return Err(SandboxError::query("date_trunc takes a unit and a time")),
            },
            n => match start_of_unit(n) {
                Some(unit) => self.start_of(
                    unit,
                    args.first().cloned().ok_or_else(|| SandboxError::query(format!("'{n}' takes a time")))?,
                )?,
                None => match self.backend {
                    Backend::Sqlite => return sqlite::function(n, f, &args, distinct),
                    Backend::Postgres => return postgres::function(n, f, &args, distinct),
                },
            },
        };
        Ok(Some(out))
    }

    /// The first instant of the unit containing `value` (milliseconds in, milliseconds out).
    fn start_of(&self, unit: &str, value: Expr) -> Result<Expr, SandboxError> {
        let step = match unit {
            "second" => time::SECOND,
            "minute" => time::MINUTE,
            "hour" => time::HOUR,
            "day" => time::DAY,
            // Weeks start on Sunday: 1970-01-01 was a Thursday, four days after one.
            "week" => {
                let shifted = Expr::BinaryOp {
                    left: Box::new(nested(value.clone())),
                    op: BinaryOperator::Plus,
                    right: Box::new(number(4 * time::DAY)),
                };
                return Ok(nested(Expr::BinaryOp {
                    left: Box::new(nested(value)),
                    op: BinaryOperator::Minus,
                    right: Box::new(modulo(nested(shifted), time::WEEK)),
                }));
            }
            calendar => {
                return match self.backend {
                    Backend::Sqlite => sqlite::start_of_calendar(calendar, value),
                    Backend::Postgres => postgres::start_of_calendar(calendar, value),
                };
            }
        };
        Ok(nested(Expr::BinaryOp {
            left: Box::new(nested(value.clone())),
            op: BinaryOperator::Minus,
            right: Box::new(modulo(nested(value), step)),
        }))
    }

    fn array_length(&self, array: Expr) -> Expr {
        match self.backend {
            Backend::Sqlite => call("json_array_length", vec![array]),
            Backend::Postgres => call("COALESCE", vec![call("cardinality", vec![array]), number(0)]),
        }
    }
}

fn renamed(f: &Function, name: &str) -> Expr {
    let mut f = f.clone();
    f.name = sqlparser::ast::ObjectName(vec![sqlparser::ast::ObjectNamePart::Identifier(Ident::new(name))]);
    Expr::Function(f)
}

/// `name(value)` or `name(DISTINCT value)`.
pub(crate) fn aggregate(name: &str, value: Expr, distinct: bool) -> Expr {
    let mut out = call(name, vec![value]);
    if distinct
        && let Expr::Function(f) = &mut out
        && let sqlparser::ast::FunctionArguments::List(list) = &mut f.args
    {
        list.duplicate_treatment = Some(sqlparser::ast::DuplicateTreatment::Distinct);
    }
    out
}

pub(crate) fn nested(expr: Expr) -> Expr {
    match expr {
        Expr::Nested(_) | Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Value(_) | Expr::Function(_) => {
            expr
        }
        other => Expr::Nested(Box::new(other)),
    }
}

fn modulo(value: Expr, step: i64) -> Expr {
    nested(Expr::BinaryOp { left: Box::new(value), op: BinaryOperator::Modulo, right: Box::new(number(step)) })
}

fn multiply(value: Expr, factor: i64) -> Expr {
    nested(Expr::BinaryOp {
        left: Box::new(nested(value)),
        op: BinaryOperator::Multiply,
        right: Box::new(number(factor)),
    })
}

pub(crate) fn cast(expr: Expr, data_type: DataType) -> Expr {
    Expr::Cast { kind: CastKind::Cast, expr: Box::new(expr), data_type, format: None }
}

pub(crate) fn case_when(condition: Expr, then: Expr, otherwise: Option<Expr>) -> Expr {
    Expr::Case {
        case_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        end_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        operand: None,
        conditions: vec![sqlparser::ast::CaseWhen { condition, result: then }],
        else_result: otherwise.map(Box::new),
    }
}

/// The elements of an array literal, as the user wrote it or as already rewritten.
pub(crate) fn array_elements(expr: &Expr) -> Option<Vec<Expr>> {
    match expr {
        Expr::Array(array) => Some(array.elem.clone()),
        Expr::Function(f) if function_name(f).as_deref() == Some("json_array") => {
            Some(plain_args(&f.args).into_iter().cloned().collect())
        }
        Expr::Nested(inner) => array_elements(inner),
        _ => None,
    }
}

/// `value IN (elements)`: the form of `has(<literal array>, value)` on both backends.
pub(crate) fn in_list(value: Expr, elements: Vec<Expr>) -> Expr {
    Expr::In { expr: Box::new(value), target: sqlparser::ast::InTarget::List(elements), negated: false, global: false }
}

/// Replaces every bare identifier `name` in `expr` (a lambda's parameter) by `with`.
pub(crate) fn replace_identifier(expr: &mut Expr, name: &str, with: &Expr) {
    struct Replace<'a>(&'a str, &'a Expr);
    impl VisitorMut for Replace<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if let Expr::Identifier(ident) = expr
                && ident.value == self.0
            {
                *expr = self.1.clone();
            }
            ControlFlow::Continue(())
        }
    }
    let _ = expr.visit(&mut Replace(name, with));
}
