//! The daily credit refill, run by `serve` itself at 00:00 UTC (reference §11).

use crate::{CoreResult, Keyway, now_ms};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use keyway_domain::credits::{RefillDecision, refill_decision, refill_marker};
use keyway_domain::time::UnixMs;
use keyway_store::{Actor, AuditEvent, AuditTarget, RefillCandidate, RefillStep};

/// The next 00:00 UTC strictly after `now`.
pub fn next_refill_run(now: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = now.date_naive() + Duration::days(1);
    tomorrow.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now + Duration::days(1))
}

/// How many refills share one transaction: enough to amortise commits, few enough that the row
/// locks do not hold up verifications of those keys for long.
const REFILL_CHUNK: usize = 256;

/// How often a step that lost a race (a spend or credits update between reading and writing the
/// key) is decided again on the fresh balance before the job leaves it to its next run.
const REFILL_ATTEMPTS: usize = 5;

/// The step for one candidate, with its audit event worded as Unkey's refill job words it.
fn refill_step(candidate: &RefillCandidate, date: NaiveDate, now: UnixMs) -> Option<RefillStep> {
    let remaining = match refill_decision(candidate.credits, candidate.last_refill, date) {
        RefillDecision::Skip => return None,
        RefillDecision::MarkOnly => None,
        RefillDecision::Refill { amount } => Some(amount),
    };
    let audit = remaining.map(|amount| {
        let target = AuditTarget {
            meta: Some(serde_json::json!({
                "refill_amount": amount,
                "previous_remaining": candidate.credits.remaining,
                "new_remaining": amount,
            })),
            ..AuditTarget::new("key", &candidate.key_id)
        };
        AuditEvent::new(
            &candidate.workspace_id,
            "key.update",
            format!("Refilled key {}", candidate.name.as_deref().unwrap_or(&candidate.key_id)),
            Actor::system("keyrefill", "Key Refill Service"),
            vec![target],
            now,
            "",
        )
    });
    Some(RefillStep { key_id: candidate.key_id.clone(), expected: candidate.credits.remaining, remaining, audit })
}

impl Keyway {
    /// Refills every key due on `date` (the rule is `keyway_domain::credits::refill_decision`).
    /// Idempotent per date, so it is safe to run at start-up (to catch up a missed midnight) and
    /// on several nodes. Returns how many keys were refilled.
    pub async fn refill(&self, date: NaiveDate) -> CoreResult<usize> {
        let marker = refill_marker(date);
        let mut refilled = 0;
        for _ in 0..REFILL_ATTEMPTS {
            let now = now_ms();
            // Keys handled for the date drop out of the candidates, so a second pass sees only
            // the steps that lost a race, decided again on what the key holds now.
            let candidates = self.store.refill_candidates(marker).await?;
            let (keys, steps): (Vec<&RefillCandidate>, Vec<RefillStep>) =
                candidates.iter().filter_map(|c| Some((c, refill_step(c, date, now)?))).unzip();
            let mut lost = false;
            for (keys, steps) in keys.chunks(REFILL_CHUNK).zip(steps.chunks(REFILL_CHUNK)) {
                let applied = self.store.apply_refills(marker, now, steps).await?;
                for ((key, step), applied) in keys.iter().zip(steps).zip(applied) {
                    lost |= !applied;
                    if applied && step.remaining.is_some() {
                        // Balances are read from storage, not the cache, but a cached record's
                        // credits show on invalid verifications; keep them honest.
                        self.keys.invalidate(&key.hash);
                        refilled += 1;
                    }
                }
            }
            if !lost {
                break;
            }
        }
        Ok(refilled)
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
