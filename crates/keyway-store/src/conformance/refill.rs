//! Conformance cases of the refill job's ports (`CreditStore::refill_candidates` and
//! `CreditStore::apply_refills`), driven by the domain's rule as core drives them.

use super::fixtures::{T0, event, events, insert, new_key, setup};
use crate::{NewKey, RefillStep, SpendRequest, Store};
use chrono::NaiveDate;
use keyway_domain::credits::{Credits, CreditsOperation, Refill, RefillDecision, refill_decision, refill_marker};
use std::sync::Arc;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn scheduled(remaining: Option<i64>, amount: i64, day: Option<u8>) -> Credits {
    Credits { remaining, refill: Some(Refill { amount, day }) }
}

/// One run of the job on `date`, as core runs it but with a placeholder audit event: the
/// refilled keys (sorted) and their new balances.
pub async fn run_refill(store: &Arc<dyn Store>, date: NaiveDate) -> Vec<(String, i64)> {
    let marker = refill_marker(date);
    let mut steps = Vec::new();
    for c in store.refill_candidates(marker).await.unwrap() {
        let remaining = match refill_decision(c.credits, c.last_refill, date) {
            RefillDecision::Skip => continue,
            RefillDecision::MarkOnly => None,
            RefillDecision::Refill { amount } => Some(amount),
        };
        let audit = remaining.map(|_| event(&c.workspace_id, "key.update", &c.key_id));
        steps.push(RefillStep { key_id: c.key_id, expected: c.credits.remaining, remaining, audit });
    }
    let applied = store.apply_refills(marker, T0 + 1, &steps).await.unwrap();
    let mut refilled: Vec<(String, i64)> = steps
        .into_iter()
        .zip(applied)
        .filter_map(|(step, applied)| Some((step.key_id, step.remaining.filter(|_| applied)?)))
        .collect();
    refilled.sort();
    refilled
}

async fn remaining(store: &Arc<dyn Store>, key: &NewKey) -> Option<i64> {
    store.get_credits(&key.id).await.unwrap().expect("live key").remaining
}

/// Candidates are the live keys with a schedule, with what the rule needs and what core needs to
/// word the event and invalidate the cache.
pub async fn refill_candidates_carry_the_key(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let key = insert(
        &store,
        NewKey { name: Some("billing".into()), credits: scheduled(Some(2), 10, Some(15)), ..new_key(&api) },
    )
    .await;
    insert(&store, NewKey { credits: Credits { remaining: Some(1), refill: None }, ..new_key(&api) }).await;
    let deleted = insert(&store, NewKey { credits: scheduled(Some(0), 10, None), ..new_key(&api) }).await;
    store.delete_key(&ws.id, &deleted.id, false, T0, &[]).await.unwrap();

    let candidates = store.refill_candidates(refill_marker(date(2026, 4, 14))).await.unwrap();
    assert_eq!(candidates.len(), 1, "{candidates:?}");
    let c = &candidates[0];
    assert_eq!((c.key_id.as_str(), c.workspace_id.as_str()), (key.id.as_str(), ws.id.as_str()));
    assert_eq!((&c.hash, c.name.as_deref()), (&key.hash, Some("billing")));
    assert_eq!((c.credits, c.last_refill), (key.credits, None));
}

/// The idempotence is per date, not per balance: a key spent after the day's refill waits for
/// its next due date even if the job runs again.
pub async fn refill_credits_due_rules(store: Arc<dyn Store>) {
    let (_, api) = setup(&store).await;
    let with = |remaining: i64, amount: i64, day: Option<u8>| NewKey {
        credits: scheduled(Some(remaining), amount, day),
        ..new_key(&api)
    };
    let daily = insert(&store, with(2, 10, None)).await;
    let day_15 = insert(&store, with(1, 20, Some(15))).await;
    let day_31 = insert(&store, with(0, 30, Some(31))).await;
    let above = insert(&store, with(25, 10, None)).await;

    assert_eq!(run_refill(&store, date(2026, 4, 14)).await, [(daily.id.clone(), 10)], "only the daily key");
    store.spend_credits(&[SpendRequest { key_id: daily.id.clone(), cost: 4 }]).await.unwrap();
    assert!(run_refill(&store, date(2026, 4, 14)).await.is_empty(), "idempotent per date");
    assert_eq!(remaining(&store, &daily).await, Some(6));

    let mut expected = vec![(daily.id.clone(), 10), (day_15.id.clone(), 20)];
    expected.sort();
    assert_eq!(run_refill(&store, date(2026, 4, 15)).await, expected);

    assert_eq!(
        run_refill(&store, date(2026, 4, 30)).await,
        [(day_31.id.clone(), 30)],
        "day 31 refills on the last day of a short month; the daily key is full"
    );
    assert_eq!(remaining(&store, &above).await, Some(25), "a key above its amount is untouched");
}

/// A key that is full when the job runs is marked handled for the date: spent afterwards, it is
/// not topped up by a second run the same day (every `serve` start runs the job), but it is on
/// the next due date.
pub async fn refill_full_then_spent_waits_for_the_next_date(store: Arc<dyn Store>) {
    let (_, api) = setup(&store).await;
    let full = insert(&store, NewKey { credits: scheduled(Some(10), 10, None), ..new_key(&api) }).await;
    assert!(run_refill(&store, date(2026, 4, 14)).await.is_empty(), "full: nothing to refill");
    store.spend_credits(&[SpendRequest { key_id: full.id.clone(), cost: 3 }]).await.unwrap();
    assert!(run_refill(&store, date(2026, 4, 14)).await.is_empty(), "second run the same day");
    assert_eq!(remaining(&store, &full).await, Some(7));
    assert_eq!(run_refill(&store, date(2026, 4, 15)).await, [(full.id.clone(), 10)]);
}

/// An unlimited key that kept its schedule (`updateCredits` `set` without a value) is reset to
/// the amount on its next refill, as Unkey's job does, and is limited from then on.
pub async fn refill_unlimited_key_with_a_schedule(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let key = insert(&store, NewKey { credits: scheduled(Some(3), 10, Some(1)), ..new_key(&api) }).await;
    let unlimited = CreditsOperation::Set { value: None, clear_refill: false };
    store.update_credits(&ws.id, &key.id, unlimited, T0, &[]).await.unwrap().unwrap().unwrap();
    assert!(run_refill(&store, date(2026, 4, 14)).await.is_empty(), "not due");
    assert_eq!(remaining(&store, &key).await, None);
    assert_eq!(run_refill(&store, date(2026, 5, 1)).await, [(key.id.clone(), 10)]);
    assert_eq!(store.get_credits(&key.id).await.unwrap(), Some(scheduled(Some(10), 10, Some(1))));
}

/// A step applies only to the balance it was decided on and only once per date; its audit event
/// is written only when it applied.
pub async fn apply_refills_refuses_stale_steps(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let key = insert(&store, NewKey { credits: scheduled(Some(0), 5, None), ..new_key(&api) }).await;
    let marker = refill_marker(date(2026, 1, 1));
    let step = |expected: i64| RefillStep {
        key_id: key.id.clone(),
        expected: Some(expected),
        remaining: Some(5),
        audit: Some(event(&ws.id, "key.update", &key.id)),
    };
    assert_eq!(store.apply_refills(marker, T0 + 1, &[step(1)]).await.unwrap(), [false], "balance moved");
    assert!(events(&store, &ws.id).await.is_empty());
    assert_eq!(store.apply_refills(marker, T0 + 1, &[step(0), step(0)]).await.unwrap(), [true, false]);
    assert_eq!(remaining(&store, &key).await, Some(5));
    let events = events(&store, &ws.id).await;
    assert_eq!(events.len(), 1, "one event per applied step: {events:?}");
    assert_eq!(events[0].targets[0].id, key.id);
    let candidates = store.refill_candidates(marker).await.unwrap();
    assert!(candidates.is_empty(), "handled for the date: {candidates:?}");
    let next = store.refill_candidates(refill_marker(date(2026, 1, 2))).await.unwrap();
    assert_eq!(next.iter().map(|c| c.last_refill).collect::<Vec<_>>(), [Some(marker)]);
}
