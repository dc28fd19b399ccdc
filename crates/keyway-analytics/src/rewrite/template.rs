//! Backend expressions written as SQL text with numbered holes (`arg0`, `arg1`, ...), parsed by the
//! backend's own dialect and filled with already-translated AST nodes. The text is a constant of this
//! crate; user input only ever arrives as AST nodes, so nothing the user wrote is spliced as text.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, SetExpr, Statement, TableWithJoins, VisitMut, VisitorMut};
use sqlparser::dialect::{Dialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

use crate::Backend;

/// Parses `text` and puts `args[i]` where it says `arg<i>` (an unquoted identifier; every user
/// identifier is quoted by then, so none can be mistaken for a hole).
pub fn fill(backend: Backend, text: &str, args: &[Expr]) -> Expr {
    let mut expr = Parser::new(dialect(backend))
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .unwrap_or_else(|e| panic!("template {text:?} must parse: {e}"));
    let _ = expr.visit(&mut Holes { args });
    // The result replaces a function call, which binds tighter than any operator in it.
    super::nested(expr)
}

/// The FROM item of `SELECT 1 FROM <text>`, holes filled the same way.
pub fn fill_table(backend: Backend, text: &str, args: &[Expr]) -> TableWithJoins {
    let sql = format!("SELECT 1 FROM {text}");
    let mut statements =
        Parser::parse_sql(dialect(backend), &sql).unwrap_or_else(|e| panic!("template {text:?} must parse: {e}"));
    let _ = statements.visit(&mut Holes { args });
    match statements.pop() {
        Some(Statement::Query(query)) => match *query.body {
            SetExpr::Select(mut select) if select.from.len() == 1 => select.from.remove(0),
            _ => panic!("template {text:?} must be one FROM item"),
        },
        _ => panic!("template {text:?} must be one FROM item"),
    }
}

fn dialect(backend: Backend) -> &'static dyn Dialect {
    match backend {
        Backend::Sqlite => &SQLiteDialect {},
        Backend::Postgres => &PostgreSqlDialect {},
    }
}

struct Holes<'a> {
    args: &'a [Expr],
}

impl VisitorMut for Holes<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Identifier(ident) = expr
            && ident.quote_style.is_none()
            && let Some(index) = ident.value.strip_prefix("arg").and_then(|i| i.parse::<usize>().ok())
            && let Some(arg) = self.args.get(index)
        {
            *expr = super::nested(arg.clone());
        }
        ControlFlow::Continue(())
    }
}
