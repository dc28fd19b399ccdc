//! Conformance cases of the audit log.

use super::fixtures::*;
use crate::{Actor, AuditEvent, AuditFilter, AuditOrder, AuditPage, AuditTarget, KeyUpdate, Store};
use std::sync::Arc;

pub async fn audit_events_round_trip_in_order(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let (other_ws, other_api) = setup(&store).await;
    let target_meta = serde_json::json!({"name": "payments", "nested": {"n": 1}});
    let first = AuditEvent::new(
        &ws.id,
        "key.create",
        "Created a key",
        Actor::system("sys_refill", "refill job"),
        vec![
            AuditTarget { meta: Some(target_meta), ..AuditTarget::new("api", &api.id) },
            AuditTarget::new("key", "key_1"),
        ],
        T0 + 3,
        "",
    );
    let second = AuditEvent::new(
        &ws.id,
        "key.create",
        "Created another key",
        Actor { name: None, ..Actor::root_key("key_root", None) },
        vec![],
        T0 + 4,
        "req_2",
    );
    let k1 = new_key(&api);
    store.create_key(&k1, std::slice::from_ref(&first), &changes(&k1.workspace_id)).await.unwrap();
    let k2 = new_key(&api);
    store.create_key(&k2, std::slice::from_ref(&second), &changes(&k2.workspace_id)).await.unwrap();
    let foreign = event(&other_ws.id, "key.create", "key_x");
    store
        .create_key(&new_key(&other_api), std::slice::from_ref(&foreign), &changes(&other_api.workspace_id))
        .await
        .unwrap();
    let later = |description: &str| AuditEvent { time: T0 + 9, ..event(&ws.id, "key.update", description) };
    let third = later("third");
    let fourth = later("fourth");
    store
        .update_key(
            &ws.id,
            &k1.id,
            &KeyUpdate { updated_at: T0 + 9, ..KeyUpdate::default() },
            &[third.clone(), fourth.clone()],
            &changes(&ws.id),
        )
        .await
        .unwrap()
        .unwrap();

    assert_eq!(
        events(&store, &ws.id).await,
        vec![first.clone(), second.clone(), third, fourth],
        "oldest first; events of one mutation in the order given"
    );
    assert_eq!(store.list_audit_events(&ws.id, 2).await.unwrap(), vec![first, second]);
    assert_eq!(events(&store, &other_ws.id).await, vec![foreign]);
    assert!(events(&store, "ws_missing").await.is_empty());
}

/// Writes `events` through a mutation (a new API of `workspace_id`), as every audit event is written.
async fn write(store: &Arc<dyn Store>, workspace_id: &str, events: &[AuditEvent]) {
    store.create_api(&super::fixtures::api(workspace_id), events).await.unwrap();
}

/// Every page of a read, following the cursor until no more exist.
async fn read_all(
    store: &Arc<dyn Store>,
    ws: &str,
    filter: &AuditFilter,
    order: AuditOrder,
    limit: usize,
) -> Vec<AuditEvent> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = AuditPage { after: after.clone(), order, limit };
        let mut found = store.read_audit_events(ws, filter, &page).await.unwrap();
        assert!(found.len() <= limit + 1);
        let more = found.len() > limit;
        found.truncate(limit);
        after = found.last().map(AuditEvent::position);
        all.extend(found);
        if !more {
            return all;
        }
    }
}

fn at(mut e: AuditEvent, time: i64, actor: &str) -> AuditEvent {
    e.time = time;
    e.actor = Actor::root_key(actor, None);
    e
}

pub async fn audit_read_filters_and_orders_by_time(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    let (other_ws, _) = setup(&store).await;
    let a = at(event(&ws.id, "key.create", "key_a"), T0 + 1, "root_1");
    let b = at(event(&ws.id, "key.update", "key_a"), T0 + 2, "root_2");
    let mut c = at(event(&ws.id, "api.create", "api_c"), T0 + 3, "root_1");
    c.targets.push(AuditTarget::new("key", "key_b"));
    let d = at(event(&ws.id, "key.delete", "key_b"), T0 + 4, "root_2");
    // Written out of time order: reads order by time, not by insertion.
    write(&store, &ws.id, &[d.clone(), b.clone()]).await;
    write(&store, &ws.id, &[a.clone(), c.clone()]).await;
    write(&store, &other_ws.id, &[at(event(&other_ws.id, "key.create", "key_a"), T0 + 1, "root_1")]).await;

    let read = |filter: AuditFilter| {
        let store = store.clone();
        let ws = ws.id.clone();
        async move { read_all(&store, &ws, &filter, AuditOrder::NewestFirst, 10).await }
    };
    assert_eq!(read(AuditFilter::default()).await, vec![d.clone(), c.clone(), b.clone(), a.clone()]);
    assert_eq!(
        read_all(&store, &ws.id, &AuditFilter::default(), AuditOrder::OldestFirst, 10).await,
        vec![a.clone(), b.clone(), c.clone(), d.clone()]
    );
    let events =
        |names: &[&str]| AuditFilter { events: names.iter().map(|n| n.to_string()).collect(), ..Default::default() };
    assert_eq!(read(events(&["key.create", "key.delete"])).await, vec![d.clone(), a.clone()]);
    assert_eq!(read(events(&["identity.create"])).await, vec![]);
    assert_eq!(
        read(AuditFilter { actor_id: Some("root_2".into()), ..Default::default() }).await,
        vec![d.clone(), b.clone()]
    );
    assert_eq!(
        read(AuditFilter { resource_id: Some("key_b".into()), ..Default::default() }).await,
        vec![d.clone(), c.clone()],
        "any target matches"
    );
    assert_eq!(
        read(AuditFilter { since: Some(T0 + 2), until: Some(T0 + 3), ..Default::default() }).await,
        vec![c.clone(), b.clone()],
        "both bounds inclusive"
    );
    assert_eq!(
        read(AuditFilter {
            events: vec!["key.update".into(), "key.delete".into()],
            actor_id: Some("root_2".into()),
            resource_id: Some("key_a".into()),
            since: Some(T0),
            until: Some(T0 + 10),
        })
        .await,
        vec![b.clone()],
        "all filters at once"
    );
    assert_eq!(read_all(&store, "ws_missing", &AuditFilter::default(), AuditOrder::NewestFirst, 10).await, vec![]);
    assert_eq!(read(AuditFilter { resource_id: Some("key_a".into()), ..Default::default() }).await, vec![b, a]);
}

pub async fn audit_read_pages_without_gaps_or_duplicates(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    let (other_ws, _) = setup(&store).await;
    // Many events share a time (one mutation's events do): the id orders them.
    let written: Vec<AuditEvent> =
        (0..23).map(|n| at(event(&ws.id, "key.create", &format!("key_{n}")), T0 + n / 5, "root_1")).collect();
    for chunk in written.chunks(4) {
        write(&store, &ws.id, chunk).await;
    }
    let foreign: Vec<AuditEvent> =
        (0..5).map(|n| at(event(&other_ws.id, "key.create", &format!("key_{n}")), T0 + n, "root_1")).collect();
    write(&store, &other_ws.id, &foreign).await;

    let mut oldest_first = written.clone();
    oldest_first.sort_by_key(AuditEvent::position);
    let mut newest_first = oldest_first.clone();
    newest_first.reverse();
    for limit in [1, 2, 5, 22, 23, 100] {
        assert_eq!(
            read_all(&store, &ws.id, &AuditFilter::default(), AuditOrder::NewestFirst, limit).await,
            newest_first
        );
        assert_eq!(
            read_all(&store, &ws.id, &AuditFilter::default(), AuditOrder::OldestFirst, limit).await,
            oldest_first
        );
    }
    let first = store
        .read_audit_events(&ws.id, &AuditFilter::default(), &AuditPage { limit: 5, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(first, newest_first[..6], "a page is limit + 1 events when more exist");

    // Following the log: nothing past the newest event, until a newer one is written.
    let newest = Some(oldest_first.last().unwrap().position());
    let follow = AuditPage { after: newest, order: AuditOrder::OldestFirst, limit: 10 };
    assert!(store.read_audit_events(&ws.id, &AuditFilter::default(), &follow).await.unwrap().is_empty());
    let next = at(event(&ws.id, "key.delete", "key_0"), T0 + 100, "root_1");
    write(&store, &ws.id, std::slice::from_ref(&next)).await;
    assert_eq!(store.read_audit_events(&ws.id, &AuditFilter::default(), &follow).await.unwrap(), vec![next]);
    assert_eq!(read_all(&store, &other_ws.id, &AuditFilter::default(), AuditOrder::NewestFirst, 2).await.len(), 5);
}
