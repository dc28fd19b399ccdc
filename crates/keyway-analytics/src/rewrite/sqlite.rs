//! SQLite forms of the ClickHouse functions whose translation differs per backend.
//! Storage assumed: `tags` is a JSON array in a TEXT column; times are INTEGER milliseconds.

use sqlparser::ast::{
    BinaryOperator, Expr, Function, Ident, LambdaFunctionParameter, OneOrManyWithParens, Select, SelectItem,
};

use super::template::{fill, fill_table};
use super::{aggregate, array_elements, in_list, replace_identifier};
use crate::Backend;
use crate::ast::{function_name, number, plain_args, string_literal};
use crate::error::SandboxError;

const B: Backend = Backend::Sqlite;

pub fn function(name: &str, f: &Function, args: &[Expr], distinct: bool) -> Result<Option<Expr>, SandboxError> {
    let t = |text: &str| Ok(Some(fill(B, text, args)));
    match (name, args) {
        ("concat", [_, ..]) => {
            let text = (0..args.len()).map(|i| format!("arg{i}")).collect::<Vec<_>>().join(" || ");
            t(&text)
        }
        ("startswith", [_, _]) => t("substr(arg0, 1, length(arg1)) = arg1"),
        ("endswith", [_, _]) => t("length(arg1) = 0 OR substr(arg0, -length(arg1)) = arg1"),
        // ClickHouse answers '' for a missing key.
        ("jsonextractstring", [_, _]) => t("COALESCE(json_extract(arg0, '$.' || json_quote(arg1)), '')"),
        ("floor", [_]) => t("CAST(arg0 AS INTEGER) - (arg0 < CAST(arg0 AS INTEGER))"),
        ("ceil", [_]) => t("CAST(arg0 AS INTEGER) + (arg0 > CAST(arg0 AS INTEGER))"),
        ("has", [array, value]) => Ok(Some(match array_elements(array) {
            Some(elements) => in_list(value.clone(), elements),
            None => t("EXISTS (SELECT 1 FROM json_each(arg0) WHERE json_each.value = arg1)")?.expect("template"),
        })),
        ("hasany", [array, wanted]) => {
            let elements = literal_elements(name, wanted)?;
            let found = in_list(fill(B, "json_each.value", &[]), elements);
            Ok(Some(fill(B, "EXISTS (SELECT 1 FROM json_each(arg0) WHERE arg1)", &[array.clone(), found])))
        }
        ("hasall", [array, wanted]) => {
            let elements = literal_elements(name, wanted)?;
            let Some(mut distinct_wanted) = elements.iter().map(string_literal).collect::<Option<Vec<&str>>>() else {
                return Err(SandboxError::unsupported("'hasAll' with values other than string literals", B));
            };
            distinct_wanted.sort_unstable();
            distinct_wanted.dedup();
            let wanted_count = number(distinct_wanted.len() as i64);
            let found = in_list(fill(B, "json_each.value", &[]), elements);
            Ok(Some(fill(
                B,
                "(SELECT COUNT(DISTINCT json_each.value) FROM json_each(arg0) WHERE arg1) = arg2",
                &[array.clone(), found, wanted_count],
            )))
        }
        ("grouparray", [value]) => Ok(Some(aggregate("json_group_array", value.clone(), distinct))),
        ("groupuniqarray", [value]) => Ok(Some(aggregate("json_group_array", value.clone(), true))),
        ("quantile", _) => Err(SandboxError::unsupported("'quantile'", B)),
        ("arrayjoin" | "arrayfilter", _) => Err(SandboxError::unsupported(format!("'{}'", f.name), B)),
        _ => Ok(None),
    }
}

/// The calendar units have no fixed length: SQLite's date modifiers find their start.
pub fn start_of_calendar(unit: &str, value: Expr) -> Result<Expr, SandboxError> {
    let text = match unit {
        "month" => "CAST(strftime('%s', arg0 / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000",
        "year" => "CAST(strftime('%s', arg0 / 1000, 'unixepoch', 'start of year') AS INTEGER) * 1000",
        "quarter" => {
            "CAST(strftime('%s', arg0 / 1000, 'unixepoch', 'start of month', \
             '-' || ((CAST(strftime('%m', arg0 / 1000, 'unixepoch') AS INTEGER) - 1) % 3) || ' months') AS INTEGER) * 1000"
        }
        _ => return Err(SandboxError::unsupported(format!("Truncating to a {unit}"), B)),
    };
    Ok(fill(B, text, &[value]))
}

fn literal_elements(name: &str, wanted: &Expr) -> Result<Vec<Expr>, SandboxError> {
    array_elements(wanted).ok_or_else(|| SandboxError::unsupported(format!("'{name}' with a non-literal array"), B))
}

/// `arrayJoin(a) AS x` as a select item turns each row into one row per element. SQLite says that
/// with a join on `json_each(a)`; `arrayJoin(arrayFilter(e -> cond, a))` also moves `cond` to WHERE.
/// An `arrayJoin` anywhere else is refused when the function is translated.
pub fn array_joins(select: &mut Select, invented: &mut usize) {
    for item in &mut select.projection {
        let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) = item else { continue };
        let Expr::Function(f) = &*expr else { continue };
        if function_name(f).as_deref() != Some("arrayjoin") {
            continue;
        }
        let args = plain_args(&f.args);
        let [source] = args.as_slice() else { continue };
        let (array, condition): (Expr, Option<(String, Expr)>) = match *source {
            Expr::Function(filter) if function_name(filter).as_deref() == Some("arrayfilter") => {
                match plain_args(&filter.args).as_slice() {
                    [Expr::Lambda(lambda), array] => match &lambda.params {
                        OneOrManyWithParens::One(LambdaFunctionParameter { name, .. }) => {
                            ((*array).clone(), Some((name.value.clone(), (*lambda.body).clone())))
                        }
                        _ => continue,
                    },
                    _ => continue,
                }
            }
            array => (array.clone(), None),
        };
        *invented += 1;
        let name = format!("keyway_array_join_{invented}");
        let element = Expr::CompoundIdentifier(vec![Ident::new(&name), Ident::new("value")]);
        select.from.push(fill_table(B, &format!("json_each(arg0) AS {name}"), std::slice::from_ref(&array)));
        if let Some((parameter, mut condition)) = condition {
            replace_identifier(&mut condition, &parameter, &element);
            let condition = super::nested(condition);
            select.selection = Some(match select.selection.take() {
                Some(user) => {
                    Expr::BinaryOp { left: Box::new(user), op: BinaryOperator::And, right: Box::new(condition) }
                }
                None => condition,
            });
        }
        *expr = element;
    }
}
