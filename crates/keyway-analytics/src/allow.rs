//! The function allow-list of Unkey's query restrictions, matched case-insensitively.

const ALLOWED: &[&str] = &[
    // aggregates
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "any",
    "grouparray",
    "groupuniqarray",
    "uniq",
    "uniqexact",
    "quantile",
    "countif",
    "sumif",
    // time
    "now",
    "now64",
    "today",
    "todate",
    "todatetime",
    "todatetime64",
    "tostartofday",
    "tostartofweek",
    "tostartofmonth",
    "tostartofquarter",
    "tostartofyear",
    "tostartofhour",
    "tostartofminute",
    "date_trunc",
    "formatdatetime",
    "fromunixtimestamp64milli",
    "tounixtimestamp64milli",
    "tointervalday",
    "tointervalweek",
    "tointervalmonth",
    "tointervalyear",
    "tointervalhour",
    "tointervalminute",
    "tointervalsecond",
    "tointervalmillisecond",
    "tointervalmicrosecond",
    "tointervalnanosecond",
    "tointervalquarter",
    // string
    "lower",
    "upper",
    "substring",
    "concat",
    "length",
    "trim",
    "startswith",
    "endswith",
    // json
    "jsonextractstring",
    // math
    "round",
    "floor",
    "ceil",
    "abs",
    // conditional
    "if",
    "case",
    "coalesce",
    // conversion
    "tostring",
    "toint32",
    "toint64",
    "tofloat64",
    // arrays
    "has",
    "hasany",
    "hasall",
    "arrayjoin",
    "arrayfilter",
];

/// The lower-cased name when `name` is allowed.
pub fn allowed_function(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    ALLOWED.contains(&lower.as_str()).then_some(lower)
}
