//! PostgreSQL forms of the ClickHouse functions whose translation differs per backend.
//! Storage assumed: `tags` is a `TEXT[]` column; times are BIGINT milliseconds.

use sqlparser::ast::{Expr, Function, LambdaFunctionParameter, OneOrManyWithParens};

use super::template::fill;
use super::{aggregate, array_elements, cast, in_list, replace_identifier};
use crate::Backend;
use crate::ast::{call, plain_args};
use crate::error::SandboxError;

const B: Backend = Backend::Postgres;

pub fn function(name: &str, f: &Function, args: &[Expr], distinct: bool) -> Result<Option<Expr>, SandboxError> {
    let t = |text: &str| Ok(Some(fill(B, text, args)));
    match (name, args) {
        ("startswith", [_, _]) => t("starts_with(arg0, arg1)"),
        ("endswith", [_, _]) => t("right(arg0, length(arg1)) = arg1"),
        ("jsonextractstring", [_, _]) => t("COALESCE(CAST(arg0 AS JSONB) ->> arg1, '')"),
        // round(x, n) exists for NUMERIC only.
        ("round", [value, digits]) => Ok(Some(call(
            "round",
            vec![
                cast(value.clone(), sqlparser::ast::DataType::Numeric(sqlparser::ast::ExactNumberInfo::None)),
                digits.clone(),
            ],
        ))),
        ("has", [array, value]) => Ok(Some(match array_elements(array) {
            Some(elements) => in_list(value.clone(), elements),
            None => t("arg1 = ANY(arg0)")?.expect("template"),
        })),
        ("hasany", [_, wanted]) if array_elements(wanted).is_some() => t("arg0 && arg1"),
        ("hasall", [_, wanted]) if array_elements(wanted).is_some_and(|e| !e.is_empty()) => t("arg0 @> arg1"),
        ("hasall", [_, _]) => Ok(Some(fill(B, "TRUE", &[]))),
        ("hasany" | "hasall", _) => Err(SandboxError::unsupported(format!("'{}' with a non-literal array", f.name), B)),
        ("grouparray", [value]) => Ok(Some(aggregate("array_agg", value.clone(), distinct))),
        ("groupuniqarray", [value]) => Ok(Some(aggregate("array_agg", value.clone(), true))),
        ("quantile", [value]) => {
            let level = plain_args(&f.parameters).first().map(|e| (*e).clone()).unwrap_or_else(|| fill(B, "0.5", &[]));
            Ok(Some(fill(B, "percentile_cont(arg0) WITHIN GROUP (ORDER BY arg1)", &[level, value.clone()])))
        }
        ("arrayjoin", [array]) => Ok(Some(call("unnest", vec![array.clone()]))),
        ("arrayfilter", [Expr::Lambda(lambda), array]) => {
            let OneOrManyWithParens::One(LambdaFunctionParameter { name: param, .. }) = &lambda.params else {
                return Err(SandboxError::unsupported("'arrayFilter' over several arrays", B));
            };
            let mut body = (*lambda.body).clone();
            replace_identifier(
                &mut body,
                &param.value,
                &Expr::Identifier(sqlparser::ast::Ident::new("keyway_element")),
            );
            Ok(Some(fill(
                B,
                "ARRAY(SELECT keyway_element FROM unnest(arg0) AS keyway_element WHERE arg1)",
                &[array.clone(), body],
            )))
        }
        ("arrayfilter", _) => Err(SandboxError::unsupported("This form of 'arrayFilter'", B)),
        _ => Ok(None),
    }
}

/// The calendar units have no fixed length: PostgreSQL's date_trunc over the UTC timestamp finds their start.
pub fn start_of_calendar(unit: &str, value: Expr) -> Result<Expr, SandboxError> {
    let text = match unit {
        "month" | "quarter" | "year" => format!(
            "CAST(EXTRACT(EPOCH FROM date_trunc('{unit}', to_timestamp(arg0 / 1000.0) AT TIME ZONE 'UTC')) * 1000 AS BIGINT)"
        ),
        _ => return Err(SandboxError::unsupported(format!("Truncating to a {unit}"), B)),
    };
    Ok(fill(B, &text, &[value]))
}
