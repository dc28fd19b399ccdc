//! Conformance cases of the audit log.

use super::fixtures::*;
use crate::{Actor, AuditEvent, AuditTarget, KeyUpdate, Store};
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
