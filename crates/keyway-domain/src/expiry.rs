//! When an expired key is deleted: a retention after its expiry. Until then it still verifies as
//! `EXPIRED` and shows in listings, so a customer using it is told why it stopped working.

use crate::time::UnixMs;

const DAY_MS: i64 = 86_400_000;

/// How long an expired key is kept before the expired-key sweep deletes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    days: u32,
}

impl Retention {
    pub const DEFAULT: Retention = Retention { days: 30 };

    pub fn days(days: u32) -> Self {
        Retention { days }
    }

    pub fn as_days(self) -> u32 {
        self.days
    }

    /// A key whose expiry is strictly before the cutoff is due: it has been expired (verification
    /// says so once `now > expires`) for longer than the retention.
    pub fn cutoff(self, now: UnixMs) -> UnixMs {
        now.saturating_sub(i64::from(self.days) * DAY_MS)
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{KeyState, VerifyCode, key_status};
    use proptest::prelude::*;

    #[test]
    fn the_cutoff_is_the_retention_before_now() {
        let now = 1_767_225_600_000;
        assert_eq!(Retention::DEFAULT.cutoff(now), now - 30 * DAY_MS);
        assert_eq!(Retention::days(0).cutoff(now), now, "no retention: due as soon as expired");
        assert_eq!(Retention::days(u32::MAX).cutoff(i64::MIN + 1), i64::MIN, "saturates");
    }

    proptest! {
        /// Nothing is deleted that verification would not already answer `EXPIRED` for.
        #[test]
        fn a_due_key_has_expired(days in 0u32..100_000, now in 0i64..5_000_000_000_000, before in 1i64..1_000_000_000) {
            let retention = Retention::days(days);
            let expires = retention.cutoff(now) - before;
            let state = KeyState { workspace_enabled: true, api_deleted: false, enabled: true, expires: Some(expires) };
            prop_assert_eq!(key_status(state, now), VerifyCode::Expired);
        }
    }
}
