//! Value parsers for command-line arguments that more than one command takes.

use std::time::Duration;

/// A positive number of seconds, fractions allowed (`0.5`).
pub(crate) fn seconds(value: &str) -> Result<Duration, String> {
    match value.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!("'{value}' is not a number of seconds above 0 and at most 86400")),
    }
}
