//! The audit log's read position: an event's `(time, id)`, the order the log is read in. Written
//! `<time>_<id>` so that callers can keep it as an opaque string and hand it back.

use crate::time::UnixMs;
use std::fmt;
use std::str::FromStr;

/// Where a read of the audit log stands: the last event returned. The next page starts strictly
/// after it (before it, when reading newest first).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AuditPosition {
    pub time: UnixMs,
    pub id: String,
}

/// A cursor that was not made by [`AuditPosition`]'s `Display`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an audit log cursor")]
pub struct InvalidAuditCursor(pub String);

impl fmt::Display for AuditPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.time, self.id)
    }
}

impl FromStr for AuditPosition {
    type Err = InvalidAuditCursor;

    /// The time is digits only, so the first `_` ends it; the id (which has its own `_`) is the rest.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidAuditCursor(s.to_string());
        let (time, id) = s.split_once('_').ok_or_else(invalid)?;
        if time.is_empty() || !time.bytes().all(|b| b.is_ascii_digit()) || id.is_empty() {
            return Err(invalid());
        }
        Ok(AuditPosition { time: time.parse().map_err(|_| invalid())?, id: id.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cursor_round_trips(time in 0..i64::MAX, id in "[a-z]{1,8}_[0-9A-Za-z_]{0,24}") {
            let position = AuditPosition { time, id };
            prop_assert_eq!(position.to_string().parse::<AuditPosition>(), Ok(position));
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,40}") {
            let _ = s.parse::<AuditPosition>();
        }
    }

    #[test]
    fn malformed_cursors_are_refused() {
        for bad in ["", "_", "12_", "_log_1", "-5_log_1", "1x_log_1", "99999999999999999999_log_1", "log_1"] {
            assert!(bad.parse::<AuditPosition>().is_err(), "{bad}");
        }
        assert_eq!(
            "1767225600000_log_abc".parse::<AuditPosition>(),
            Ok(AuditPosition { time: 1_767_225_600_000, id: "log_abc".into() })
        );
    }
}
