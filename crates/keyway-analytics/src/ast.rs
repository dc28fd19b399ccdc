//! Small constructors and readers for the sqlparser AST, shared by the passes.

use sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident, ObjectName,
    ObjectNamePart, Value, ValueWithSpan,
};

/// An identifier rendered in double quotes: case kept and keywords safe on both backends.
pub fn quoted(name: &str) -> Ident {
    Ident::with_quote('"', name)
}

pub fn number(n: i64) -> Expr {
    Expr::value(Value::Number(n.to_string(), false))
}

/// A call of a backend function (never a user-supplied name).
pub fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args.into_iter().map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a))).collect(),
            clauses: Vec::new(),
        }),
        within_group: Vec::new(),
        filter: None,
        null_treatment: None,
        over: None,
    })
}

/// The single unqualified name of a function call, lower-cased.
pub fn function_name(function: &Function) -> Option<String> {
    match function.name.0.as_slice() {
        [ObjectNamePart::Identifier(ident)] => Some(ident.value.to_ascii_lowercase()),
        _ => None,
    }
}

/// The plain argument expressions of a call; `*` and named arguments are left out.
pub fn plain_args(args: &FunctionArguments) -> Vec<&Expr> {
    match args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The text of a string literal.
pub fn string_literal(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Value(ValueWithSpan { value: Value::SingleQuotedString(s), .. }) => Some(s),
        _ => None,
    }
}

/// The value of a (possibly negative) integer literal.
pub fn int_literal(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Value(ValueWithSpan { value: Value::Number(n, false), .. }) => n.parse().ok(),
        Expr::UnaryOp { op: sqlparser::ast::UnaryOperator::Minus, expr } => int_literal(expr).map(|n| -n),
        Expr::Nested(inner) => int_literal(inner),
        _ => None,
    }
}

/// Whether `expr` names the column `column`, bare or qualified by a table alias.
pub fn is_column(expr: &Expr, column: &str) -> bool {
    match expr {
        Expr::Identifier(ident) => ident.value == column,
        Expr::CompoundIdentifier(parts) => parts.last().is_some_and(|p| p.value == column),
        Expr::Nested(inner) => is_column(inner, column),
        _ => false,
    }
}
