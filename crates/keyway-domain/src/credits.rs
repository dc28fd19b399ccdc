//! Credits (usage limits) and their refill schedule (reference §6.4, §11).

use crate::time::UnixMs;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How often a key's credits are reset to the refill amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefillInterval {
    Daily,
    Monthly,
}

/// A refill schedule: reset `remaining` to `amount` daily, or monthly on `day` (1..=31; a day past
/// the end of a short month means its last day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refill {
    pub amount: i64,
    /// `None` for daily refills.
    pub day: Option<u8>,
}

impl Refill {
    pub fn interval(&self) -> RefillInterval {
        if self.day.is_some() { RefillInterval::Monthly } else { RefillInterval::Daily }
    }

    /// Whether this schedule refills on `date` (UTC).
    pub fn is_due_on(&self, date: NaiveDate) -> bool {
        match self.day {
            None => true,
            Some(day) => {
                let last = last_day_of_month(date);
                u32::from(day) == date.day() || (date.day() == last && u32::from(day) > last)
            }
        }
    }
}

/// A key's credits: `remaining == None` means unlimited (and then there is no refill).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Credits {
    pub remaining: Option<i64>,
    pub refill: Option<Refill>,
}

impl Credits {
    pub const UNLIMITED: Credits = Credits { remaining: None, refill: None };

    pub fn is_limited(&self) -> bool {
        self.remaining.is_some()
    }
}

/// Why a credits specification was refused. The messages are the reference's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CreditsError {
    #[error("`credits.remaining` must be provided when `credits.refill` is set.")]
    RefillWithoutRemaining,
    #[error("`refillDay` must be provided when the refill interval is `monthly`.")]
    MonthlyWithoutDay,
    #[error("`refillDay` must not be provided when the refill interval is `daily`.")]
    DailyWithDay,
    #[error("When specifying an increment or decrement operation, a value must be provided.")]
    MissingValue,
    #[error("You cannot increment or decrement a key with unlimited credits.")]
    UnlimitedArithmetic,
}

/// A refill as requested on the wire, before the interval rules are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefillSpec {
    pub interval: RefillInterval,
    pub amount: i64,
    pub refill_day: Option<u8>,
}

/// How strictly a `refillDay` on a daily refill is treated: createKey ignores it, updateKey refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyDayRule {
    Ignore,
    Reject,
}

impl RefillSpec {
    /// Resolves the wire form into a schedule. Monthly without a day is day 1: the reference's 400
    /// is a bug Keyway does not copy (DESIGN.md, rule 2), so `MonthlyWithoutDay` is never returned.
    pub fn resolve(self, daily_rule: DailyDayRule) -> Result<Refill, CreditsError> {
        match self.interval {
            RefillInterval::Daily => match (self.refill_day, daily_rule) {
                (Some(_), DailyDayRule::Reject) => Err(CreditsError::DailyWithDay),
                _ => Ok(Refill { amount: self.amount, day: None }),
            },
            RefillInterval::Monthly => Ok(Refill { amount: self.amount, day: Some(self.refill_day.unwrap_or(1)) }),
        }
    }
}

/// `credits` on createKey: refill needs a numeric `remaining`; `remaining: null` is unlimited.
pub fn credits_for_create(remaining: Option<i64>, refill: Option<RefillSpec>) -> Result<Credits, CreditsError> {
    match (remaining, refill) {
        (None, Some(_)) => Err(CreditsError::RefillWithoutRemaining),
        (None, None) => Ok(Credits::UNLIMITED),
        (Some(r), refill) => {
            Ok(Credits { remaining: Some(r), refill: refill.map(|s| s.resolve(DailyDayRule::Ignore)).transpose()? })
        }
    }
}

/// The operation of `keys.updateCredits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditsOperation {
    /// `set` with a number, or `null`/omitted (unlimited). `clear_refill` tells the two unlimited
    /// forms apart: `null` clears the refill, an omitted value keeps it (reference §3.6).
    Set {
        value: Option<i64>,
        clear_refill: bool,
    },
    Increment(i64),
    Decrement(i64),
}

impl CreditsOperation {
    /// Applies the operation to the current credits. Decrement floors at zero.
    pub fn apply(self, current: Credits) -> Result<Credits, CreditsError> {
        match self {
            CreditsOperation::Set { value: Some(v), .. } => Ok(Credits { remaining: Some(v), ..current }),
            CreditsOperation::Set { value: None, clear_refill } => {
                Ok(Credits { remaining: None, refill: if clear_refill { None } else { current.refill } })
            }
            CreditsOperation::Increment(v) => {
                let r = current.remaining.ok_or(CreditsError::UnlimitedArithmetic)?;
                Ok(Credits { remaining: Some(r.saturating_add(v)), ..current })
            }
            CreditsOperation::Decrement(v) => {
                let r = current.remaining.ok_or(CreditsError::UnlimitedArithmetic)?;
                Ok(Credits { remaining: Some((r - v).max(0)), ..current })
            }
        }
    }
}

/// The outcome of trying to spend `cost` credits from a balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    /// Spent; the balance afterwards.
    Spent { remaining: i64 },
    /// Not enough credits; the unchanged balance.
    Insufficient { remaining: i64 },
}

/// The spend rule: cost 0 always passes; otherwise the balance must cover the cost and never goes
/// below zero.
pub fn spend(balance: i64, cost: i64) -> Spend {
    if balance >= cost {
        Spend::Spent { remaining: balance - cost }
    } else {
        Spend::Insufficient { remaining: balance }
    }
}

/// `credits` on updateKey, resolved from its three-state wire form (reference §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CreditsPatch {
    /// `Clear` makes the key unlimited, which also clears its refill.
    pub remaining: crate::Patch<i64>,
    pub refill: crate::Patch<Refill>,
}

impl CreditsPatch {
    /// `credits: null`: unlimited, refill cleared.
    pub const UNLIMITED: CreditsPatch = CreditsPatch { remaining: crate::Patch::Clear, refill: crate::Patch::Clear };

    pub fn apply(self, current: Credits) -> Credits {
        let remaining = self.remaining.apply(current.remaining);
        if remaining.is_none() {
            return Credits::UNLIMITED;
        }
        Credits { remaining, refill: self.refill.apply(current.refill) }
    }
}

/// What the refill job does with one key on one date (reference §11; README "Credits refill").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefillDecision {
    /// Nothing to do: no schedule, not due on the date, or the date was handled already.
    Skip,
    /// Due, but the balance is at or above the amount: only record the date as handled, so a spend
    /// later that day is not topped up by a second run of the job.
    MarkOnly,
    /// Due and below the amount (or unlimited): reset the balance to `amount` and record the date.
    Refill { amount: i64 },
}

/// The UTC midnight of `date` in Unix ms: how a handled refill date is stored.
pub fn refill_marker(date: NaiveDate) -> UnixMs {
    date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_millis()
}

/// The refill rule, per key: `last_refill` is the stored [`refill_marker`] of the last date the job
/// handled for the key. A refill is a reset, not an addition. An unlimited key (`remaining: None`)
/// that still has a schedule (`updateCredits` `set` with the value omitted keeps it) is reset to the
/// amount, as Unkey's job does: the schedule wins, and the key is limited again from its next refill.
pub fn refill_decision(credits: Credits, last_refill: Option<UnixMs>, date: NaiveDate) -> RefillDecision {
    let Some(refill) = credits.refill else {
        return RefillDecision::Skip;
    };
    if last_refill.is_some_and(|last| last >= refill_marker(date)) || !refill.is_due_on(date) {
        return RefillDecision::Skip;
    }
    match credits.remaining {
        Some(remaining) if remaining >= refill.amount => RefillDecision::MarkOnly,
        _ => RefillDecision::Refill { amount: refill.amount },
    }
}

fn last_day_of_month(date: NaiveDate) -> u32 {
    let (y, m) = if date.month() == 12 { (date.year() + 1, 1) } else { (date.year(), date.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).and_then(|d| d.pred_opt()).map(|d| d.day()).unwrap_or(28)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn monthly_day_31_refills_on_the_last_day_of_short_months() {
        let r = Refill { amount: 10, day: Some(31) };
        assert!(r.is_due_on(d(2026, 2, 28)));
        assert!(r.is_due_on(d(2028, 2, 29)));
        assert!(!r.is_due_on(d(2028, 2, 28)));
        assert!(r.is_due_on(d(2026, 4, 30)));
        assert!(r.is_due_on(d(2026, 1, 31)));
        assert!(!r.is_due_on(d(2026, 1, 30)));
    }

    #[test]
    fn daily_refills_every_day_and_monthly_defaults_to_day_one() {
        assert!(Refill { amount: 1, day: None }.is_due_on(d(2026, 3, 17)));
        let spec = RefillSpec { interval: RefillInterval::Monthly, amount: 5, refill_day: None };
        assert_eq!(spec.resolve(DailyDayRule::Reject), Ok(Refill { amount: 5, day: Some(1) }));
    }

    #[test]
    fn create_rules() {
        let daily = RefillSpec { interval: RefillInterval::Daily, amount: 5, refill_day: Some(3) };
        assert_eq!(credits_for_create(None, Some(daily)), Err(CreditsError::RefillWithoutRemaining));
        assert_eq!(credits_for_create(Some(1), Some(daily)).unwrap().refill, Some(Refill { amount: 5, day: None }));
        assert_eq!(daily.resolve(DailyDayRule::Reject), Err(CreditsError::DailyWithDay));
    }

    #[test]
    fn update_operations() {
        let c = Credits { remaining: Some(5), refill: Some(Refill { amount: 9, day: None }) };
        assert_eq!(CreditsOperation::Decrement(9).apply(c).unwrap().remaining, Some(0));
        assert_eq!(CreditsOperation::Increment(2).apply(c).unwrap().remaining, Some(7));
        assert_eq!(CreditsOperation::Set { value: None, clear_refill: false }.apply(c).unwrap().refill, c.refill);
        assert_eq!(CreditsOperation::Set { value: None, clear_refill: true }.apply(c).unwrap(), Credits::UNLIMITED);
        assert_eq!(CreditsOperation::Increment(1).apply(Credits::UNLIMITED), Err(CreditsError::UnlimitedArithmetic));
    }

    #[test]
    fn refill_decisions() {
        let daily = Some(Refill { amount: 10, day: None });
        let today = d(2026, 4, 14);
        let decide = |remaining, last| refill_decision(Credits { remaining, refill: daily }, last, today);
        assert_eq!(decide(Some(3), None), RefillDecision::Refill { amount: 10 });
        assert_eq!(decide(Some(10), None), RefillDecision::MarkOnly, "full");
        assert_eq!(decide(Some(25), None), RefillDecision::MarkOnly, "above");
        assert_eq!(decide(None, None), RefillDecision::Refill { amount: 10 }, "unlimited with a schedule");
        assert_eq!(decide(Some(3), Some(refill_marker(today))), RefillDecision::Skip, "handled today");
        assert_eq!(decide(Some(3), Some(refill_marker(d(2026, 4, 13)))), RefillDecision::Refill { amount: 10 });
        assert_eq!(refill_decision(Credits { remaining: Some(0), refill: None }, None, today), RefillDecision::Skip);
        let monthly = Credits { remaining: Some(0), refill: Some(Refill { amount: 5, day: Some(15) }) };
        assert_eq!(refill_decision(monthly, None, today), RefillDecision::Skip, "not due");
        assert_eq!(refill_decision(monthly, None, d(2026, 4, 15)), RefillDecision::Refill { amount: 5 });
    }

    fn any_credits() -> impl Strategy<Value = Credits> {
        let refill = proptest::option::of((1i64..100, proptest::option::of(1u8..=31)))
            .prop_map(|r| r.map(|(amount, day)| Refill { amount, day }));
        (proptest::option::of(0i64..200), refill).prop_map(|(remaining, refill)| Credits { remaining, refill })
    }

    /// Applies a decision the way the adapters do.
    fn apply(credits: Credits, last: Option<UnixMs>, date: NaiveDate) -> (Credits, Option<UnixMs>) {
        match refill_decision(credits, last, date) {
            RefillDecision::Skip => (credits, last),
            RefillDecision::MarkOnly => (credits, Some(refill_marker(date))),
            RefillDecision::Refill { amount } => {
                (Credits { remaining: Some(amount), ..credits }, Some(refill_marker(date)))
            }
        }
    }

    proptest! {
        #[test]
        fn a_second_run_on_the_same_date_changes_nothing(
            credits in any_credits(), spent in 0i64..50, offset in 0u64..800, last_offset in proptest::option::of(0u64..800),
        ) {
            let date = d(2026, 1, 1) + chrono::Days::new(offset);
            let last = last_offset.map(|o| refill_marker(d(2026, 1, 1) + chrono::Days::new(o)));
            let (after, marker) = apply(credits, last, date);
            // Whatever happens to the balance in between, the date is done.
            let spent = Credits { remaining: after.remaining.map(|r| (r - spent).max(0)), ..after };
            prop_assert_eq!(refill_decision(spent, marker, date), RefillDecision::Skip);
        }

        #[test]
        fn a_refill_never_lowers_a_limited_balance_and_never_exceeds_the_amount(
            credits in any_credits(), offset in 0u64..800,
        ) {
            let date = d(2026, 1, 1) + chrono::Days::new(offset);
            let (after, _) = apply(credits, None, date);
            match (credits.remaining, credits.refill) {
                (Some(before), Some(refill)) => {
                    prop_assert!(after.remaining >= Some(before));
                    prop_assert!(after.remaining.unwrap() <= before.max(refill.amount));
                }
                (None, Some(refill)) if refill.is_due_on(date) => prop_assert_eq!(after.remaining, Some(refill.amount)),
                _ => prop_assert_eq!(after, credits),
            }
        }
    }

    proptest! {
        #[test]
        fn spends_never_go_below_zero(balance in 0i64..1000, costs in proptest::collection::vec(0i64..50, 0..100)) {
            let mut b = balance;
            let mut spent = 0;
            for cost in costs {
                match spend(b, cost) {
                    Spend::Spent { remaining } => { spent += cost; b = remaining; }
                    Spend::Insufficient { remaining } => prop_assert_eq!(remaining, b),
                }
                prop_assert!(b >= 0);
            }
            prop_assert_eq!(balance - b, spent);
        }

        #[test]
        fn every_monthly_schedule_refills_exactly_once_a_month(day in 1u8..=31, year in 2000i32..2100, month in 1u32..=12) {
            let r = Refill { amount: 1, day: Some(day) };
            let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap();
            let days = first.iter_days().take_while(|d| d.month() == month).filter(|d| r.is_due_on(*d)).count();
            prop_assert_eq!(days, 1);
        }
    }
}
