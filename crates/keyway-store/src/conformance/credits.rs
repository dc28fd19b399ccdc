//! Conformance cases of credit spends and `keys.updateCredits`.

use super::fixtures::*;
use crate::{NewKey, SpendRequest, Store};
use keyway_domain::credits::{Credits, CreditsError, CreditsOperation, Refill, Spend};
use std::sync::Arc;

pub async fn spend_credits_batch_in_request_order(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let a = insert(&store, NewKey { credits: limited(5, None), ..new_key(&api) }).await;
    let b = insert(&store, NewKey { credits: limited(0, None), ..new_key(&api) }).await;
    let unlimited = insert(&store, new_key(&api)).await;
    let deleted = insert(&store, NewKey { credits: limited(5, None), ..new_key(&api) }).await;
    store.delete_key(&ws.id, &deleted.id, false, T0 + 1, &[]).await.unwrap();

    let spend = |key: &str, cost: i64| SpendRequest { key_id: key.into(), cost };
    let outcomes = store
        .spend_credits(&[
            spend(&a.id, 3),
            spend(&a.id, 3),
            spend(&b.id, 1),
            spend(&b.id, 0),
            spend(&a.id, 2),
            spend(&unlimited.id, 1),
            spend("key_missing", 1),
            spend(&deleted.id, 1),
            spend(&a.id, 0),
            spend(&a.id, 1),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        vec![
            Some(Spend::Spent { remaining: 2 }),
            Some(Spend::Insufficient { remaining: 2 }),
            Some(Spend::Insufficient { remaining: 0 }),
            Some(Spend::Spent { remaining: 0 }),
            Some(Spend::Spent { remaining: 0 }),
            None,
            None,
            None,
            Some(Spend::Spent { remaining: 0 }),
            Some(Spend::Insufficient { remaining: 0 }),
        ]
    );
    assert_eq!(store.get_credits(&a.id).await.unwrap(), Some(limited(0, None)));
    assert_eq!(store.get_credits(&unlimited.id).await.unwrap(), Some(Credits::UNLIMITED));
    assert_eq!(store.get_credits("key_missing").await.unwrap(), None);
    assert!(store.spend_credits(&[]).await.unwrap().is_empty());
}

pub async fn spend_credits_concurrent_is_exact(store: Arc<dyn Store>) {
    const BALANCE: i64 = 40;
    const TASKS: usize = 100;
    let (_, api) = setup(&store).await;
    let key = insert(&store, NewKey { credits: limited(BALANCE, None), ..new_key(&api) }).await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = store.clone();
            let request = [SpendRequest { key_id: key.id.clone(), cost: 1 }];
            tokio::spawn(async move { store.spend_credits(&request).await.unwrap() })
        })
        .collect();
    let mut spent = 0;
    for task in tasks {
        match task.await.unwrap().as_slice() {
            [Some(Spend::Spent { remaining })] => {
                assert!(*remaining >= 0);
                spent += 1;
            }
            [Some(Spend::Insufficient { remaining: 0 })] => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(spent, BALANCE, "every credit is spent exactly once");
    assert_eq!(store.get_credits(&key.id).await.unwrap(), Some(limited(0, None)));
}

pub async fn update_credits_operations(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let refill = Some(Refill { amount: 50, day: None });
    let key = insert(&store, NewKey { credits: limited(10, refill), ..new_key(&api) }).await;
    let mut audit = Vec::new();
    let mut apply = async |op: CreditsOperation| {
        let event = event(&ws.id, "key.update", &key.id);
        audit.push(event.clone());
        store.update_credits(&ws.id, &key.id, op, T0 + 1, &[event]).await.unwrap().expect("key exists")
    };
    assert_eq!(apply(CreditsOperation::Increment(5)).await, Ok(limited(15, refill)));
    assert_eq!(apply(CreditsOperation::Decrement(20)).await, Ok(limited(0, refill)), "decrement floors at zero");
    assert_eq!(apply(CreditsOperation::Set { value: Some(7), clear_refill: false }).await, Ok(limited(7, refill)));
    assert_eq!(
        apply(CreditsOperation::Set { value: None, clear_refill: false }).await,
        Ok(Credits { remaining: None, refill })
    );
    assert_eq!(apply(CreditsOperation::Set { value: None, clear_refill: true }).await, Ok(Credits::UNLIMITED));
    assert_eq!(store.get_credits(&key.id).await.unwrap(), Some(Credits::UNLIMITED));
    assert_eq!(events(&store, &ws.id).await, audit);
}

pub async fn update_credits_refusals(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let key = insert(&store, new_key(&api)).await;
    let audit = [event(&ws.id, "key.update", &key.id)];
    for op in [CreditsOperation::Increment(1), CreditsOperation::Decrement(1)] {
        assert_eq!(
            store.update_credits(&ws.id, &key.id, op, T0, &audit).await.unwrap(),
            Some(Err(CreditsError::UnlimitedArithmetic))
        );
    }
    let set = CreditsOperation::Set { value: Some(1), clear_refill: false };
    assert_eq!(store.update_credits("ws_other", &key.id, set, T0, &audit).await.unwrap(), None);
    assert_eq!(store.update_credits(&ws.id, "key_missing", set, T0, &audit).await.unwrap(), None);
    assert_eq!(store.get_credits(&key.id).await.unwrap(), Some(Credits::UNLIMITED));
    assert!(events(&store, &ws.id).await.is_empty(), "refused or not-found credit updates write no audit event");
}
