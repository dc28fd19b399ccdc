//! The daily credit refill, run by `serve` itself at 00:00 UTC (reference §11).

use crate::{CoreResult, Keyway, now_ms};
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// The next 00:00 UTC strictly after `now`.
pub fn next_refill_run(now: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = now.date_naive() + Duration::days(1);
    tomorrow.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now + Duration::days(1))
}

impl Keyway {
    /// Refills every key due on `date`. Idempotent per date, so it is safe to run at start-up (to
    /// catch up a missed midnight) and on several nodes. Returns how many keys were refilled.
    pub async fn refill(&self, date: NaiveDate) -> CoreResult<usize> {
        let refilled = self.store.refill_credits(date, now_ms()).await?;
        // Balances are read from storage, not the cache, but a cached record's credits show on
        // invalid verifications; keep them honest.
        for key in &refilled {
            self.keys.invalidate(&key.hash);
        }
        Ok(refilled.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_run_is_the_coming_midnight() {
        let now = DateTime::parse_from_rfc3339("2026-02-28T13:05:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(next_refill_run(now).to_rfc3339(), "2026-03-01T00:00:00+00:00");
        let midnight = DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(next_refill_run(midnight).to_rfc3339(), "2026-03-02T00:00:00+00:00");
    }
}
