//! Request validation beyond types: lengths, patterns, ranges. Violations are reported the way
//! Unkey's schema validator reports them: `location` is the schema keyword location
//! (`/properties/name/minLength`) and `message` says what was expected.

use crate::error::Violation;

/// What a request body checks about itself after it deserialized.
pub trait Validate {
    fn validate(&self, v: &mut Violations);
}

#[derive(Debug, Default)]
pub struct Violations(pub Vec<Violation>);

/// `credits.refill.amount` → `/properties/credits/properties/refill/properties/amount`.
pub fn schema_location(field: &str) -> String {
    if field.is_empty() {
        return String::new();
    }
    field.split('.').map(|p| format!("/properties/{p}")).collect()
}

impl Violations {
    pub fn push(&mut self, field: &str, keyword: &str, message: impl Into<String>) {
        self.0.push(Violation { message: message.into(), location: format!("{}/{keyword}", schema_location(field)) });
    }

    pub fn len_between(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let len = value.chars().count();
        if len < min {
            self.push(field, "minLength", format!("minLength: got {len}, want {min}"));
        } else if len > max {
            self.push(field, "maxLength", format!("maxLength: got {len}, want {max}"));
        }
    }

    /// `value` must consist of ASCII letters, digits and the given extra characters.
    pub fn charset(&mut self, field: &str, value: &str, extra: &str, pattern: &str) {
        if !value.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c)) {
            self.push(field, "pattern", format!("'{value}' does not match pattern '{pattern}'"));
        }
    }

    /// An id-like string: 1..=255 of `[a-zA-Z0-9_]`, at least `min` long.
    pub fn identifier(&mut self, field: &str, value: &str, min: usize) {
        self.len_between(field, value, min, 255);
        self.charset(field, value, "_", "^[a-zA-Z0-9_]+$");
    }

    pub fn int_between(&mut self, field: &str, value: i64, min: i64, max: i64) {
        if value < min {
            self.push(field, "minimum", format!("minimum: got {value}, want {min}"));
        } else if value > max {
            self.push(field, "maximum", format!("maximum: got {value}, want {max}"));
        }
    }

    pub fn items_between(&mut self, field: &str, len: usize, min: usize, max: usize) {
        if len < min {
            self.push(field, "minItems", format!("minItems: got {len}, want {min}"));
        } else if len > max {
            self.push(field, "maxItems", format!("maxItems: got {len}, want {max}"));
        }
    }

    pub fn max_properties(&mut self, field: &str, len: usize, max: usize) {
        if len > max {
            self.push(field, "maxProperties", format!("maxProperties: got {len}, want {max}"));
        }
    }
}
