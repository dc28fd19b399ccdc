//! ClickHouse lets a SELECT use its own aliases in other select items and in HAVING
//! (`SUM(spent_credits) AS credits, credits * 0.001 AS cost`); SQLite and PostgreSQL do not.
//! The alias is replaced by the expression it names, as ClickHouse itself does.

use std::collections::HashMap;
use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Query, Select, SelectItem, VisitMut, VisitorMut};

/// Enough rounds for chains of aliases; a cycle (invalid in ClickHouse too) stops here.
const MAX_ROUNDS: usize = 8;

pub fn inline_projection_aliases(select: &mut Select) {
    let aliases: HashMap<String, Expr> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { expr, alias } => Some((alias.value.clone(), expr.clone())),
            _ => None,
        })
        .collect();
    if aliases.is_empty() {
        return;
    }
    for item in &mut select.projection {
        if let SelectItem::ExprWithAlias { expr, alias } = item {
            // An item never refers to itself: in `SUM(count) AS count`, `count` is the column.
            substitute(expr, &aliases, Some(&alias.value));
        }
    }
    if let Some(having) = &mut select.having {
        substitute(having, &aliases, None);
    }
}

fn substitute(expr: &mut Expr, aliases: &HashMap<String, Expr>, own: Option<&str>) {
    for _ in 0..MAX_ROUNDS {
        let mut inliner = Inliner { aliases, own, depth: 0, changed: false };
        let _ = expr.visit(&mut inliner);
        if !inliner.changed {
            return;
        }
    }
}

struct Inliner<'a> {
    aliases: &'a HashMap<String, Expr>,
    own: Option<&'a str>,
    /// Subqueries have their own names: only this SELECT's level is rewritten.
    depth: usize,
    changed: bool,
}

impl VisitorMut for Inliner<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if self.depth == 0
            && let Expr::Identifier(ident) = expr
            && Some(ident.value.as_str()) != self.own
            && let Some(target) = self.aliases.get(&ident.value)
        {
            *expr = super::nested(target.clone());
            self.changed = true;
        }
        ControlFlow::Continue(())
    }
}
