//! The verification decision (reference §6.2, §6.3) for what a key record alone decides. The
//! caller supplies the record's facts, the clock, and the answer of the credit ledger.

use crate::time::UnixMs;
use serde::Serialize;

/// The `code` of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerifyCode {
    Valid,
    NotFound,
    Forbidden,
    InsufficientPermissions,
    UsageExceeded,
    RateLimited,
    Disabled,
    Expired,
}

impl VerifyCode {
    pub fn is_valid(self) -> bool {
        self == VerifyCode::Valid
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VerifyCode::Valid => "VALID",
            VerifyCode::NotFound => "NOT_FOUND",
            VerifyCode::Forbidden => "FORBIDDEN",
            VerifyCode::InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
            VerifyCode::UsageExceeded => "USAGE_EXCEEDED",
            VerifyCode::RateLimited => "RATE_LIMITED",
            VerifyCode::Disabled => "DISABLED",
            VerifyCode::Expired => "EXPIRED",
        }
    }
}

/// The facts of a found key that step 3 of §6.2 looks at.
#[derive(Debug, Clone, Copy)]
pub struct KeyState {
    pub workspace_enabled: bool,
    pub api_deleted: bool,
    pub enabled: bool,
    pub expires: Option<UnixMs>,
}

/// Step 3 of §6.2: the status a found key has before permissions, rate limits and credits.
pub fn key_status(state: KeyState, now: UnixMs) -> VerifyCode {
    if !state.workspace_enabled {
        VerifyCode::Forbidden
    } else if state.api_deleted {
        VerifyCode::NotFound
    } else if !state.enabled {
        VerifyCode::Disabled
    } else if state.expires.is_some_and(|e| now > e) {
        VerifyCode::Expired
    } else {
        VerifyCode::Valid
    }
}

/// The raw outcome an analytics event records (§8.1): the code, except that a key refused because
/// its workspace is disabled is `WORKSPACE_DISABLED` (answered as `FORBIDDEN`).
pub fn raw_outcome(code: VerifyCode, state: KeyState) -> &'static str {
    if code == VerifyCode::Forbidden && !state.workspace_enabled { "WORKSPACE_DISABLED" } else { code.as_str() }
}

/// How many credits a verification costs: the request's cost if given, else 1 for a limited key,
/// else nothing (§6.4).
pub fn credit_cost(requested: Option<i64>, key_is_limited: bool) -> Option<i64> {
    if !key_is_limited {
        return None;
    }
    Some(requested.unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> KeyState {
        KeyState { workspace_enabled: true, api_deleted: false, enabled: true, expires: None }
    }

    #[test]
    fn check_order() {
        assert_eq!(key_status(state(), 10), VerifyCode::Valid);
        let disabled_and_expired = KeyState { enabled: false, expires: Some(1), ..state() };
        assert_eq!(key_status(disabled_and_expired, 10), VerifyCode::Disabled);
        assert_eq!(key_status(KeyState { expires: Some(9), ..state() }, 10), VerifyCode::Expired);
        assert_eq!(key_status(KeyState { expires: Some(10), ..state() }, 10), VerifyCode::Valid);
        assert_eq!(key_status(KeyState { api_deleted: true, enabled: false, ..state() }, 10), VerifyCode::NotFound);
        assert_eq!(key_status(KeyState { workspace_enabled: false, ..state() }, 10), VerifyCode::Forbidden);
    }

    #[test]
    fn raw_outcomes() {
        let disabled_workspace = KeyState { workspace_enabled: false, ..state() };
        assert_eq!(raw_outcome(key_status(disabled_workspace, 10), disabled_workspace), "WORKSPACE_DISABLED");
        // An IP allowlist refusal in an enabled workspace stays FORBIDDEN.
        assert_eq!(raw_outcome(VerifyCode::Forbidden, state()), "FORBIDDEN");
        for code in [
            VerifyCode::Valid,
            VerifyCode::NotFound,
            VerifyCode::InsufficientPermissions,
            VerifyCode::UsageExceeded,
            VerifyCode::RateLimited,
            VerifyCode::Disabled,
            VerifyCode::Expired,
        ] {
            assert_eq!(raw_outcome(code, state()), code.as_str());
        }
    }

    #[test]
    fn cost_selection() {
        assert_eq!(credit_cost(None, false), None);
        assert_eq!(credit_cost(Some(5), false), None);
        assert_eq!(credit_cost(None, true), Some(1));
        assert_eq!(credit_cost(Some(0), true), Some(0));
    }
}
