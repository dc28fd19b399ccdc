//! ClickHouse time values in Keyway's representation: every instant is Unix milliseconds (UTC).
//! Folds the time expressions whose value does not depend on a row (`now() - INTERVAL 7 DAY`,
//! `toStartOfMonth(now())`, `toDate('2024-01-01')`) into a number, for the retention check and so the
//! backend never needs calendar arithmetic for them.

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, TimeZone, Utc};
use sqlparser::ast::{BinaryOperator, DateTimeField, Expr, Interval};

use crate::ast::{function_name, int_literal, plain_args, string_literal};

pub const SECOND: i64 = 1000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;
pub const WEEK: i64 = 7 * DAY;

/// A length of time: a fixed number of milliseconds, or calendar months (months, quarters, years).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Millis(i64),
    Months(i64),
}

/// The unit of `INTERVAL n <unit>` or `toInterval<Unit>(n)`.
pub fn unit_span(unit: &str, n: i64) -> Option<Span> {
    let fixed = |ms: i64| n.checked_mul(ms).map(Span::Millis);
    match unit.to_ascii_lowercase().trim_end_matches('s') {
        "millisecond" => fixed(1),
        "second" => fixed(SECOND),
        "minute" => fixed(MINUTE),
        "hour" => fixed(HOUR),
        "day" => fixed(DAY),
        "week" => fixed(WEEK),
        "month" => Some(Span::Months(n)),
        "quarter" => n.checked_mul(3).map(Span::Months),
        "year" => n.checked_mul(12).map(Span::Months),
        _ => None,
    }
}

/// The span of an `INTERVAL` expression with an integer amount.
pub fn interval_span(interval: &Interval) -> Option<Span> {
    let n = int_literal(&interval.value).or_else(|| string_literal(&interval.value)?.trim().parse().ok())?;
    let unit = match interval.leading_field.as_ref()? {
        DateTimeField::Millisecond | DateTimeField::Milliseconds => "millisecond",
        DateTimeField::Second | DateTimeField::Seconds => "second",
        DateTimeField::Minute | DateTimeField::Minutes => "minute",
        DateTimeField::Hour | DateTimeField::Hours => "hour",
        DateTimeField::Day | DateTimeField::Days => "day",
        DateTimeField::Week(None) | DateTimeField::Weeks => "week",
        DateTimeField::Month | DateTimeField::Months => "month",
        DateTimeField::Quarter => "quarter",
        DateTimeField::Year | DateTimeField::Years => "year",
        _ => return None,
    };
    unit_span(unit, n)
}

/// The span of an interval expression: `INTERVAL n UNIT` or `toInterval<Unit>(n)` with a literal n.
pub fn span_of(expr: &Expr) -> Option<Span> {
    match expr {
        Expr::Interval(interval) => interval_span(interval),
        Expr::Nested(inner) => span_of(inner),
        Expr::Function(f) => {
            let name = function_name(f)?;
            let unit = name.strip_prefix("tointerval")?;
            let args = plain_args(&f.args);
            unit_span(unit, int_literal(args.first()?)?)
        }
        _ => None,
    }
}

/// Adds a span to an instant; calendar months keep the day of month where it exists (clamped otherwise).
pub fn add_span(ms: i64, span: Span, sign: i64) -> Option<i64> {
    match span {
        Span::Millis(d) => ms.checked_add(d.checked_mul(sign)?),
        Span::Months(m) => {
            let at = to_datetime(ms)?;
            let months = Months::new(u32::try_from(m.unsigned_abs()).ok()?);
            let moved =
                if (m >= 0) == (sign >= 0) { at.checked_add_months(months) } else { at.checked_sub_months(months) };
            Some(moved?.timestamp_millis())
        }
    }
}

fn to_datetime(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// The start of the unit that contains `ms`; weeks start on Sunday, as ClickHouse's default mode.
pub fn start_of(unit: &str, ms: i64) -> Option<i64> {
    let floor = |step: i64| ms.checked_sub(ms.rem_euclid(step));
    match unit {
        "second" => floor(SECOND),
        "minute" => floor(MINUTE),
        "hour" => floor(HOUR),
        "day" => floor(DAY),
        // 1970-01-01 was a Thursday: the Sunday before it is day -4.
        "week" => ms.checked_sub((ms + 4 * DAY).rem_euclid(WEEK)),
        "month" | "quarter" | "year" => {
            let at = to_datetime(ms)?;
            let month0 = match unit {
                "month" => at.month0(),
                "quarter" => at.month0() - at.month0() % 3,
                _ => 0,
            };
            let start = NaiveDate::from_ymd_opt(at.year(), month0 + 1, 1)?.and_hms_opt(0, 0, 0)?;
            Some(start.and_utc().timestamp_millis())
        }
        _ => None,
    }
}

/// The unit of a `toStartOf<Unit>` function or of `date_trunc('<unit>', ..)`.
pub fn start_of_unit(function: &str) -> Option<&'static str> {
    Some(match function {
        "tostartofminute" => "minute",
        "tostartofhour" => "hour",
        "tostartofday" | "todate" => "day",
        "tostartofweek" => "week",
        "tostartofmonth" => "month",
        "tostartofquarter" => "quarter",
        "tostartofyear" => "year",
        _ => return None,
    })
}

/// `date_trunc`'s unit names.
pub fn trunc_unit(unit: &str) -> Option<&'static str> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "second" => "second",
        "minute" => "minute",
        "hour" => "hour",
        "day" => "day",
        "week" => "week",
        "month" => "month",
        "quarter" => "quarter",
        "year" => "year",
        _ => return None,
    })
}

/// A date or date-time string as ClickHouse writes them (`2024-01-01`, `2024-01-01 12:00:00`), read as UTC.
pub fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some(at.and_utc().timestamp_millis());
        }
    }
    DateTime::parse_from_rfc3339(text).ok().map(|at| at.timestamp_millis())
}

/// The constant instant `expr` denotes, in milliseconds, when it does not depend on a row.
/// A bare integer is read as milliseconds (the unit of every `time` column).
pub fn fold(expr: &Expr, now_ms: i64) -> Option<i64> {
    match expr {
        Expr::Nested(inner) => fold(inner, now_ms),
        Expr::Value(_) => int_literal(expr).or_else(|| parse_datetime(string_literal(expr)?)),
        Expr::BinaryOp { left, op, right } => {
            let sign = match op {
                BinaryOperator::Plus => 1,
                BinaryOperator::Minus => -1,
                _ => return None,
            };
            add_span(fold(left, now_ms)?, span_of(right)?, sign)
        }
        Expr::Function(f) => {
            let name = function_name(f)?;
            let args = plain_args(&f.args);
            match (name.as_str(), args.as_slice()) {
                ("now" | "now64", _) => Some(now_ms),
                ("today", []) => start_of("day", now_ms),
                ("fromunixtimestamp64milli" | "tounixtimestamp64milli", [arg]) => fold(arg, now_ms),
                ("todatetime" | "todatetime64", [arg, ..]) => fold_datetime(arg, now_ms),
                ("date_trunc", [unit, arg]) => start_of(trunc_unit(string_literal(unit)?)?, fold(arg, now_ms)?),
                (name, [arg, ..]) => start_of(start_of_unit(name)?, fold(arg, now_ms)?),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `toDateTime(x)`: a string is a date-time, a number counts seconds, a time value stays itself.
fn fold_datetime(arg: &Expr, now_ms: i64) -> Option<i64> {
    if let Some(seconds) = int_literal(arg) {
        return seconds.checked_mul(SECOND);
    }
    let ms = fold(arg, now_ms)?;
    Some(ms - ms.rem_euclid(SECOND))
}

/// Whether `expr` is a time value (milliseconds) rather than a plain number, judged from its shape.
pub fn is_time_valued(expr: &Expr) -> bool {
    match expr {
        Expr::Nested(inner) => is_time_valued(inner),
        _ if crate::ast::is_column(expr, "time") => true,
        Expr::BinaryOp { left, op: BinaryOperator::Plus | BinaryOperator::Minus, right } => {
            is_time_valued(left) && span_of(right).is_some()
        }
        Expr::Function(f) => function_name(f).is_some_and(|name| {
            matches!(
                name.as_str(),
                "now" | "now64" | "today" | "todatetime" | "todatetime64" | "date_trunc" | "fromunixtimestamp64milli"
            ) || start_of_unit(&name).is_some()
        }),
        _ => false,
    }
}

/// `YYYY-MM-DD` of an instant, for error messages.
pub fn format_date(ms: i64) -> String {
    to_datetime(ms).map(|at| at.format("%Y-%m-%d").to_string()).unwrap_or_else(|| ms.to_string())
}
