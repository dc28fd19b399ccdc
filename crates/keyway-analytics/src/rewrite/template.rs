//! Backend expressions written as SQL text with numbered holes (`arg0`, `arg1`, ...), parsed by the
//! backend's own dialect and filled with already-translated AST nodes. The text is a constant of this
//! crate; user input only ever arrives as AST nodes, so nothing the user wrote is spliced as text.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, VisitMut, VisitorMut};
use sqlparser::dialect::{Dialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

use crate::Backend;

/// Parses `text` and puts `args[i]` where it says `arg<i>` (an unquoted identifier; every user
/// identifier is quoted by then, so none can be mistaken for a hole).
pub fn fill(backend: Backend, text: &str, args: &[Expr]) -> Expr {
    let dialect: &dyn Dialect = match backend {
        Backend::Sqlite => &SQLiteDialect {},
        Backend::Postgres => &PostgreSqlDialect {},
    };
    let mut expr = Parser::new(dialect)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .unwrap_or_else(|e| panic!("template {text:?} must parse: {e}"));
    let _ = expr.visit(&mut Holes { args });
    expr
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
