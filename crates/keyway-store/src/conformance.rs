//! The conformance suite: the behaviour every storage adapter must have, written once against the
//! ports and run by each adapter's test binary through [`conformance_tests!`].
//!
//! An adapter's tests provide a factory `async fn() -> Option<Harness>`: `None` skips (a backend
//! that is not configured on a developer's machine; in CI the factory must panic instead).

use crate::Store;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A fresh, empty store for one case, and what to run afterwards to clean it up.
pub struct Harness {
    pub store: Arc<dyn Store>,
    pub cleanup: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

/// Runs one case on a fresh store, then its cleanup, even when the case panics.
pub async fn run_case<F, Fut>(harness: Option<Harness>, name: &str, case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(harness) = harness else {
        eprintln!("skipping conformance case {name}: backend not configured");
        return;
    };
    let outcome = tokio::spawn(case(harness.store)).await;
    if let Some(cleanup) = harness.cleanup {
        cleanup.await;
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// One `#[tokio::test]` per conformance case, each on a fresh store from `$factory`.
#[macro_export]
macro_rules! conformance_tests {
    ($factory:path) => {
        $crate::conformance_tests!(@cases $factory;
            // CASES: every case function in `keyway_store::conformance::cases` is listed here.
            workspace_create_and_get,
            ensure_default_workspace_creates_once,
            ensure_default_workspace_concurrent_callers_agree,
            api_create_get_delete,
            key_create_and_get,
            key_hash_conflict,
            find_key_by_hash_joins_surroundings,
            external_id_creates_identity_once,
            update_key_three_state_fields,
            update_key_links_and_unlinks_identity,
            update_key_credits_patch,
            update_key_missing_or_other_workspace,
            delete_key_soft,
            delete_key_permanent,
            list_keys_keyset_pagination,
            list_keys_by_identity,
            record_key_usage_only_moves_forward,
            spend_credits_batch_in_request_order,
            spend_credits_concurrent_is_exact,
            update_credits_operations,
            update_credits_refusals,
            refill_credits_due_rules,
            refill_credits_writes_system_audit,
            root_key_create_and_find_by_hash,
            root_key_get_and_list,
            root_key_update,
            root_key_reroll,
            root_key_delete,
            root_key_usage,
            audit_events_round_trip_in_order,
            hashes_stream_in_creation_order,
        );
    };
    (@cases $factory:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::run_case($factory().await, stringify!($case), $crate::conformance::cases::$case).await;
            }
        )*
    };
}

/// The cases. Each takes a fresh, migrated, empty store.
pub mod cases {
    use crate::{
        Actor, Api, AuditEvent, AuditTarget, HashCursor, HashSource, Key, KeyUpdate, NewKey, PageRequest, RootKey,
        RootKeyUpdate, SpendRequest, Store, StoreError, Workspace,
    };
    use chrono::NaiveDate;
    use keyway_domain::Patch;
    use keyway_domain::credits::{Credits, CreditsError, CreditsOperation, CreditsPatch, Refill, Spend};
    use keyway_domain::ids::{IdKind, new_id};
    use keyway_domain::key_material::KeyHash;
    use keyway_domain::time::UnixMs;
    use std::sync::Arc;

    const T0: UnixMs = 1_767_225_600_000;

    fn workspace(enabled: bool) -> Workspace {
        Workspace { id: new_id(IdKind::Workspace), name: "acme".into(), enabled, created_at: T0 }
    }

    fn random_hash() -> KeyHash {
        KeyHash::of(&new_id(IdKind::Key))
    }

    fn root_key(workspace_id: &str) -> RootKey {
        RootKey {
            id: new_id(IdKind::Key),
            workspace_id: workspace_id.into(),
            hash: random_hash(),
            start: "kwroot_abcd".into(),
            end: "wxyz".into(),
            name: Some("ops".into()),
            permissions: vec!["api.*.create_key".into(), "api.*.read_key".into()],
            enabled: true,
            expires: None,
            created_at: T0,
            last_used_at: None,
        }
    }

    fn api(workspace_id: &str) -> Api {
        Api {
            id: new_id(IdKind::Api),
            workspace_id: workspace_id.into(),
            name: "payments".into(),
            keyspace_id: new_id(IdKind::Keyspace),
            created_at: T0,
            deleted_at: None,
        }
    }

    fn new_key(api: &Api) -> NewKey {
        NewKey {
            id: new_id(IdKind::Key),
            workspace_id: api.workspace_id.clone(),
            api_id: api.id.clone(),
            keyspace_id: api.keyspace_id.clone(),
            hash: random_hash(),
            start: "sk_abcd".into(),
            name: None,
            meta: None,
            external_id: None,
            enabled: true,
            expires: None,
            credits: Credits::UNLIMITED,
            created_at: T0,
        }
    }

    fn limited(remaining: i64, refill: Option<Refill>) -> Credits {
        Credits { remaining: Some(remaining), refill }
    }

    fn event(workspace_id: &str, name: &str, target: &str) -> AuditEvent {
        AuditEvent::new(
            workspace_id,
            name,
            format!("{name} {target}"),
            Actor::root_key("key_root", Some("ops")),
            vec![AuditTarget::new("key", target)],
            T0,
            "req_1",
        )
    }

    fn meta(value: serde_json::Value) -> crate::JsonObject {
        value.as_object().expect("meta is an object").clone()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    /// A workspace (with a root key) and an API in it.
    async fn setup(store: &Arc<dyn Store>) -> (Workspace, Api) {
        let ws = workspace(true);
        store.create_workspace(&ws, &root_key(&ws.id), &[]).await.unwrap();
        let api = api(&ws.id);
        store.create_api(&api, &[]).await.unwrap();
        (ws, api)
    }

    async fn insert(store: &Arc<dyn Store>, key: NewKey) -> NewKey {
        store.create_key(&key, &[]).await.unwrap();
        key
    }

    async fn events(store: &Arc<dyn Store>, workspace_id: &str) -> Vec<AuditEvent> {
        store.list_audit_events(workspace_id, 1000).await.unwrap()
    }

    async fn ensure_default(store: &Arc<dyn Store>) -> Workspace {
        store.ensure_default_workspace(&workspace(true)).await.unwrap()
    }

    fn assert_key_matches(key: &Key, new: &NewKey) {
        assert_eq!(key.id, new.id);
        assert_eq!(key.workspace_id, new.workspace_id);
        assert_eq!(key.api_id, new.api_id);
        assert_eq!(key.keyspace_id, new.keyspace_id);
        assert_eq!(key.hash, new.hash);
        assert_eq!(key.start, new.start);
        assert_eq!(key.name, new.name);
        assert_eq!(key.meta, new.meta);
        assert_eq!(key.enabled, new.enabled);
        assert_eq!(key.expires, new.expires);
        assert_eq!(key.credits, new.credits);
        assert_eq!(key.created_at, new.created_at);
        assert_eq!(key.identity.as_ref().map(|i| i.external_id.as_str()), new.external_id.as_deref());
    }

    pub async fn workspace_create_and_get(store: Arc<dyn Store>) {
        let ws = workspace(false);
        let rk = root_key(&ws.id);
        let audit = [event(&ws.id, "workspace.create", &ws.id)];
        store.create_workspace(&ws, &rk, &audit).await.unwrap();
        assert_eq!(store.get_workspace(&ws.id).await.unwrap(), Some(ws.clone()));
        assert_eq!(store.get_workspace("ws_missing").await.unwrap(), None);
        assert_eq!(store.get_root_key(&ws.id, &rk.id).await.unwrap(), Some(rk.clone()));
        assert_eq!(events(&store, &ws.id).await, audit.to_vec());
    }

    pub async fn ensure_default_workspace_creates_once(store: Arc<dyn Store>) {
        let other = workspace(true);
        store.create_workspace(&other, &root_key(&other.id), &[]).await.unwrap();
        let candidate = workspace(true);
        let first = store.ensure_default_workspace(&candidate).await.unwrap();
        assert_eq!(first, candidate, "a workspace made by create_workspace is not the default");
        let again = ensure_default(&store).await;
        assert_eq!(again, candidate);
        assert_eq!(store.get_workspace(&candidate.id).await.unwrap(), Some(candidate));
    }

    pub async fn ensure_default_workspace_concurrent_callers_agree(store: Arc<dyn Store>) {
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { ensure_default(&store).await })
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap().id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "all callers get the same default workspace");
        assert!(store.get_workspace(&ids[0]).await.unwrap().is_some());
    }

    pub async fn api_create_get_delete(store: Arc<dyn Store>) {
        let (ws, _) = setup(&store).await;
        let api = api(&ws.id);
        let create = [event(&ws.id, "api.create", &api.id)];
        store.create_api(&api, &create).await.unwrap();
        assert_eq!(store.get_api(&ws.id, &api.id).await.unwrap(), Some(api.clone()));
        assert_eq!(store.get_api("ws_other", &api.id).await.unwrap(), None);
        assert_eq!(store.get_api(&ws.id, "api_missing").await.unwrap(), None);

        assert!(!store.delete_api("ws_other", &api.id, T0 + 5, &[]).await.unwrap());
        let delete = [event(&ws.id, "api.delete", &api.id)];
        assert!(store.delete_api(&ws.id, &api.id, T0 + 5, &delete).await.unwrap());
        let deleted = store.get_api(&ws.id, &api.id).await.unwrap().unwrap();
        assert_eq!(deleted.deleted_at, Some(T0 + 5));
        assert_eq!(deleted.name, api.name);
        assert!(!store.delete_api(&ws.id, &api.id, T0 + 6, &[event(&ws.id, "api.delete", "again")]).await.unwrap());
        assert_eq!(
            store.get_api(&ws.id, &api.id).await.unwrap().unwrap().deleted_at,
            Some(T0 + 5),
            "a second delete changes nothing"
        );
        let all = events(&store, &ws.id).await;
        assert_eq!(all, [create.to_vec(), delete.to_vec()].concat());
    }

    pub async fn key_create_and_get(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let key = NewKey {
            name: Some("first".into()),
            meta: Some(meta(serde_json::json!({"plan": "pro", "n": [1, 2, {"x": null}]}))),
            expires: Some(T0 + 86_400_000),
            enabled: false,
            credits: limited(7, Some(Refill { amount: 10, day: Some(3) })),
            ..new_key(&api)
        };
        let audit = [event(&ws.id, "key.create", &key.id)];
        store.create_key(&key, &audit).await.unwrap();
        let got = store.get_key(&ws.id, &key.id).await.unwrap().unwrap();
        assert_key_matches(&got, &key);
        assert_eq!(got.updated_at, None);
        assert_eq!(got.last_used_at, None);
        assert_eq!(got.identity, None);
        assert_eq!(store.get_key("ws_other", &key.id).await.unwrap(), None);
        assert_eq!(store.get_key(&ws.id, "key_missing").await.unwrap(), None);
        assert_eq!(events(&store, &ws.id).await, audit.to_vec());
    }

    pub async fn key_hash_conflict(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let first = insert(&store, new_key(&api)).await;
        let dup = NewKey { hash: first.hash.clone(), ..new_key(&api) };
        let err = store.create_key(&dup, &[event(&ws.id, "key.create", &dup.id)]).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(store.get_key(&ws.id, &dup.id).await.unwrap(), None);
        assert!(events(&store, &ws.id).await.is_empty(), "a failed mutation writes no audit event");

        store.delete_key(&ws.id, &first.id, false, T0 + 1, &[]).await.unwrap().unwrap();
        let err = store.create_key(&dup, &[]).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "a soft-deleted key keeps its hash reserved: {err:?}");
    }

    pub async fn find_key_by_hash_joins_surroundings(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let key = insert(&store, NewKey { external_id: Some("user_1".into()), ..new_key(&api) }).await;
        let record = store.find_key_by_hash(&key.hash).await.unwrap().unwrap();
        assert_key_matches(&record.key, &key);
        assert!(!record.api_deleted);
        assert!(record.workspace_enabled);
        let identity = record.key.identity.unwrap();
        assert_eq!(identity.workspace_id, ws.id);
        assert_eq!(identity.external_id, "user_1");
        assert_eq!(identity.meta, None);
        assert_eq!(store.find_key_by_hash(&random_hash()).await.unwrap(), None);

        store.delete_api(&ws.id, &api.id, T0 + 1, &[]).await.unwrap();
        let record = store.find_key_by_hash(&key.hash).await.unwrap().unwrap();
        assert!(record.api_deleted, "keys of a deleted API are found, flagged");

        let disabled = workspace(false);
        store.create_workspace(&disabled, &root_key(&disabled.id), &[]).await.unwrap();
        let disabled_api = self::api(&disabled.id);
        store.create_api(&disabled_api, &[]).await.unwrap();
        let other = insert(&store, new_key(&disabled_api)).await;
        let record = store.find_key_by_hash(&other.hash).await.unwrap().unwrap();
        assert!(!record.workspace_enabled);
        assert!(!record.api_deleted);

        store.delete_key(&disabled.id, &other.id, false, T0 + 2, &[]).await.unwrap();
        assert_eq!(store.find_key_by_hash(&other.hash).await.unwrap(), None);
    }

    pub async fn external_id_creates_identity_once(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let a = insert(&store, NewKey { external_id: Some("user_1".into()), ..new_key(&api) }).await;
        let b = insert(&store, NewKey { external_id: Some("user_1".into()), ..new_key(&api) }).await;
        let ia = store.get_key(&ws.id, &a.id).await.unwrap().unwrap().identity.unwrap();
        let ib = store.get_key(&ws.id, &b.id).await.unwrap().unwrap().identity.unwrap();
        assert_eq!(ia, ib, "later keys link to the same identity");
        assert_eq!(store.find_identity_by_external_id(&ws.id, "user_1").await.unwrap(), Some(ia.clone()));
        assert_eq!(store.find_identity_by_external_id(&ws.id, "user_2").await.unwrap(), None);

        let (other_ws, other_api) = setup(&store).await;
        let c = insert(&store, NewKey { external_id: Some("user_1".into()), ..new_key(&other_api) }).await;
        let ic = store.get_key(&other_ws.id, &c.id).await.unwrap().unwrap().identity.unwrap();
        assert_ne!(ic.id, ia.id, "identities are per workspace");
        assert_eq!(ic.workspace_id, other_ws.id);
        assert_eq!(store.find_identity_by_external_id(&other_ws.id, "user_1").await.unwrap(), Some(ic));
    }

    pub async fn update_key_three_state_fields(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let key = insert(
            &store,
            NewKey {
                name: Some("before".into()),
                meta: Some(meta(serde_json::json!({"a": 1}))),
                expires: Some(T0 + 1000),
                ..new_key(&api)
            },
        )
        .await;

        let kept = store
            .update_key(&ws.id, &key.id, &KeyUpdate { updated_at: T0 + 1, ..KeyUpdate::default() }, &[])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.name, key.name);
        assert_eq!(kept.meta, key.meta);
        assert_eq!(kept.expires, key.expires);
        assert!(kept.enabled);
        assert_eq!(kept.credits, Credits::UNLIMITED);
        assert_eq!(kept.updated_at, Some(T0 + 1));

        let set = KeyUpdate {
            name: Patch::Set("after".into()),
            meta: Patch::Set(meta(serde_json::json!({"b": "two"}))),
            expires: Patch::Set(T0 + 2000),
            enabled: Some(false),
            updated_at: T0 + 2,
            ..KeyUpdate::default()
        };
        let audit = [event(&ws.id, "key.update", &key.id)];
        let updated = store.update_key(&ws.id, &key.id, &set, &audit).await.unwrap().unwrap();
        assert_eq!(updated.name.as_deref(), Some("after"));
        assert_eq!(updated.meta, Some(meta(serde_json::json!({"b": "two"}))));
        assert_eq!(updated.expires, Some(T0 + 2000));
        assert!(!updated.enabled);
        assert_eq!(updated.updated_at, Some(T0 + 2));
        assert_eq!(
            store.get_key(&ws.id, &key.id).await.unwrap(),
            Some(updated.clone()),
            "the returned key is the stored key"
        );

        let clear = KeyUpdate {
            name: Patch::Clear,
            meta: Patch::Clear,
            expires: Patch::Clear,
            enabled: Some(true),
            updated_at: T0 + 3,
            ..KeyUpdate::default()
        };
        let cleared = store.update_key(&ws.id, &key.id, &clear, &[]).await.unwrap().unwrap();
        assert_eq!(cleared.name, None);
        assert_eq!(cleared.meta, None);
        assert_eq!(cleared.expires, None);
        assert!(cleared.enabled);
        assert_eq!(events(&store, &ws.id).await, audit.to_vec());
    }

    pub async fn update_key_links_and_unlinks_identity(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let key = insert(&store, new_key(&api)).await;
        let link = KeyUpdate { external_id: Patch::Set("user_9".into()), updated_at: T0 + 1, ..KeyUpdate::default() };
        let linked = store.update_key(&ws.id, &key.id, &link, &[]).await.unwrap().unwrap();
        let identity = linked.identity.expect("Set creates and links the identity");
        assert_eq!(identity.external_id, "user_9");
        assert_eq!(store.find_identity_by_external_id(&ws.id, "user_9").await.unwrap(), Some(identity.clone()));

        let other = insert(&store, new_key(&api)).await;
        let other_linked = store.update_key(&ws.id, &other.id, &link, &[]).await.unwrap().unwrap();
        assert_eq!(other_linked.identity.as_ref(), Some(&identity), "Set links an existing identity");

        let unlink = KeyUpdate { external_id: Patch::Clear, updated_at: T0 + 2, ..KeyUpdate::default() };
        let unlinked = store.update_key(&ws.id, &key.id, &unlink, &[]).await.unwrap().unwrap();
        assert_eq!(unlinked.identity, None);
        assert_eq!(
            store.find_identity_by_external_id(&ws.id, "user_9").await.unwrap(),
            Some(identity),
            "Clear keeps the identity"
        );
    }

    pub async fn update_key_credits_patch(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let key = insert(&store, new_key(&api)).await;
        let daily = Refill { amount: 10, day: None };
        let patches = [
            CreditsPatch { remaining: Patch::Set(5), refill: Patch::Set(daily) },
            CreditsPatch { remaining: Patch::Set(3), refill: Patch::Keep },
            CreditsPatch { remaining: Patch::Keep, refill: Patch::Clear },
            CreditsPatch { remaining: Patch::Keep, refill: Patch::Set(Refill { amount: 4, day: Some(31) }) },
            CreditsPatch::UNLIMITED,
            CreditsPatch { remaining: Patch::Keep, refill: Patch::Set(daily) },
        ];
        let mut expected = Credits::UNLIMITED;
        for (i, patch) in patches.into_iter().enumerate() {
            expected = patch.apply(expected);
            let update = KeyUpdate { credits: Some(patch), updated_at: T0 + i as i64, ..KeyUpdate::default() };
            let updated = store.update_key(&ws.id, &key.id, &update, &[]).await.unwrap().unwrap();
            assert_eq!(updated.credits, expected, "after patch {i}");
            assert_eq!(store.get_credits(&key.id).await.unwrap(), Some(expected), "after patch {i}");
        }
    }

    pub async fn update_key_missing_or_other_workspace(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let key = insert(&store, new_key(&api)).await;
        let update = KeyUpdate { name: Patch::Set("x".into()), updated_at: T0 + 1, ..KeyUpdate::default() };
        let audit = [event(&ws.id, "key.update", &key.id)];
        assert_eq!(store.update_key("ws_other", &key.id, &update, &audit).await.unwrap(), None);
        assert_eq!(store.update_key(&ws.id, "key_missing", &update, &audit).await.unwrap(), None);
        assert_eq!(store.get_key(&ws.id, &key.id).await.unwrap().unwrap().name, None);
        store.delete_key(&ws.id, &key.id, false, T0 + 2, &[]).await.unwrap();
        assert_eq!(
            store.update_key(&ws.id, &key.id, &update, &audit).await.unwrap(),
            None,
            "deleted keys cannot be updated"
        );
        assert!(events(&store, &ws.id).await.is_empty(), "an update that found nothing writes no audit event");
    }

    pub async fn delete_key_soft(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let key = insert(&store, new_key(&api)).await;
        let before = store.get_key(&ws.id, &key.id).await.unwrap().unwrap();
        assert_eq!(store.delete_key("ws_other", &key.id, false, T0 + 1, &[]).await.unwrap(), None);
        let audit = [event(&ws.id, "key.delete", &key.id)];
        let deleted = store.delete_key(&ws.id, &key.id, false, T0 + 1, &audit).await.unwrap();
        assert_eq!(deleted, Some(before), "returns the key as it was");
        assert_eq!(store.get_key(&ws.id, &key.id).await.unwrap(), None);
        assert_eq!(store.find_key_by_hash(&key.hash).await.unwrap(), None);
        assert_eq!(store.get_credits(&key.id).await.unwrap(), None);
        assert_eq!(store.delete_key(&ws.id, &key.id, false, T0 + 2, &[]).await.unwrap(), None);
        assert_eq!(
            store.delete_key(&ws.id, &key.id, true, T0 + 2, &[]).await.unwrap(),
            None,
            "a soft-deleted key is not live, so it cannot be purged through this port"
        );
        let reuse = NewKey { hash: key.hash.clone(), ..new_key(&api) };
        assert!(matches!(store.create_key(&reuse, &[]).await, Err(StoreError::Conflict(_))));
        assert_eq!(events(&store, &ws.id).await, audit.to_vec());
    }

    pub async fn delete_key_permanent(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let key = insert(&store, NewKey { external_id: Some("user_1".into()), ..new_key(&api) }).await;
        let audit = [event(&ws.id, "key.delete", &key.id)];
        let deleted = store.delete_key(&ws.id, &key.id, true, T0 + 1, &audit).await.unwrap().unwrap();
        assert_key_matches(&deleted, &key);
        assert_eq!(store.get_key(&ws.id, &key.id).await.unwrap(), None);
        assert_eq!(store.find_key_by_hash(&key.hash).await.unwrap(), None);
        let reuse = NewKey { hash: key.hash.clone(), ..new_key(&api) };
        store.create_key(&reuse, &[]).await.expect("a permanently deleted key frees its hash");
        assert_eq!(events(&store, &ws.id).await, audit.to_vec());
    }

    /// Ids are ordered by their bytes (Rust's `String` order), so a cursor means the same on every
    /// backend: PostgreSQL needs `COLLATE "C"` on the id for that.
    pub async fn list_keys_keyset_pagination(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let mut ids = Vec::new();
        for _ in 0..6 {
            ids.push(insert(&store, new_key(&api)).await.id);
        }
        let (_, other_api) = setup(&store).await;
        insert(&store, new_key(&other_api)).await;
        ids.sort();
        let deleted = ids.remove(4);
        store.delete_key(&ws.id, &deleted, false, T0 + 1, &[]).await.unwrap().unwrap();

        let page = |cursor: &str, limit: usize| PageRequest { cursor: cursor.into(), limit };
        let list = |p: PageRequest| {
            let store = store.clone();
            let api_id = api.id.clone();
            async move { store.list_keys(&api_id, None, &p).await.unwrap().into_iter().map(|k| k.id).collect::<Vec<_>>() }
        };
        assert_eq!(list(page("", 2)).await, ids[..3], "limit + 1 rows");
        assert_eq!(list(page(&ids[2], 2)).await, ids[2..5], "cursor inclusive");
        assert_eq!(list(page(&ids[3], 10)).await, ids[3..]);
        assert_eq!(list(page("", 100)).await, ids, "deleted keys excluded");
        assert!(store.list_keys("api_missing", None, &page("", 10)).await.unwrap().is_empty());
    }

    pub async fn list_keys_by_identity(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let mut linked = Vec::new();
        for i in 0..4 {
            let external_id = (i % 2 == 0).then(|| "user_1".to_string());
            let key = insert(&store, NewKey { external_id: external_id.clone(), ..new_key(&api) }).await;
            if external_id.is_some() {
                linked.push(key.id);
            }
        }
        linked.sort();
        let identity = store.find_identity_by_external_id(&ws.id, "user_1").await.unwrap().unwrap();
        let page = PageRequest { cursor: String::new(), limit: 10 };
        let keys = store.list_keys(&api.id, Some(&identity.id), &page).await.unwrap();
        assert_eq!(keys.iter().map(|k| k.id.clone()).collect::<Vec<_>>(), linked);
        assert!(keys.iter().all(|k| k.identity.as_ref() == Some(&identity)));
        assert!(store.list_keys(&api.id, Some("id_missing"), &page).await.unwrap().is_empty());
    }

    pub async fn record_key_usage_only_moves_forward(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let a = insert(&store, new_key(&api)).await;
        let b = insert(&store, new_key(&api)).await;
        store
            .record_key_usage(&[(a.id.clone(), T0 + 100), (b.id.clone(), T0 + 50), ("key_missing".into(), T0)])
            .await
            .unwrap();
        store.record_key_usage(&[(a.id.clone(), T0 + 10), (b.id.clone(), T0 + 60)]).await.unwrap();
        store.record_key_usage(&[]).await.unwrap();
        let last_used = |id: String| {
            let store = store.clone();
            let ws = ws.id.clone();
            async move { store.get_key(&ws, &id).await.unwrap().unwrap().last_used_at }
        };
        assert_eq!(last_used(a.id).await, Some(T0 + 100));
        assert_eq!(last_used(b.id).await, Some(T0 + 60));
    }

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

    /// The idempotence is per date, not per balance: a key spent after the day's refill waits for
    /// its next due date even if the job runs again.
    pub async fn refill_credits_due_rules(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let with = |remaining: i64, amount: i64, day: Option<u8>| NewKey {
            credits: limited(remaining, Some(Refill { amount, day })),
            ..new_key(&api)
        };
        let daily = insert(&store, with(2, 10, None)).await;
        let day_15 = insert(&store, with(1, 20, Some(15))).await;
        let day_31 = insert(&store, with(0, 30, Some(31))).await;
        let full = insert(&store, with(10, 10, None)).await;
        let above = insert(&store, with(25, 10, None)).await;
        let no_refill = insert(&store, NewKey { credits: limited(1, None), ..new_key(&api) }).await;
        let deleted = insert(&store, with(0, 10, None)).await;
        store.delete_key(&ws.id, &deleted.id, false, T0, &[]).await.unwrap();

        let refilled_ids = |date: NaiveDate| {
            let store = store.clone();
            async move {
                let mut refilled = store.refill_credits(date, T0 + 1).await.unwrap();
                refilled.sort_by(|a, b| a.key_id.cmp(&b.key_id));
                refilled
            }
        };

        let refilled = refilled_ids(date(2026, 4, 14)).await;
        assert_eq!(refilled.len(), 1, "only the daily key: {refilled:?}");
        assert_eq!(refilled[0].key_id, daily.id);
        assert_eq!(refilled[0].hash, daily.hash);
        assert_eq!(refilled[0].previous, Some(2));
        assert_eq!(refilled[0].remaining, 10);
        assert_eq!(store.get_credits(&daily.id).await.unwrap().unwrap().remaining, Some(10));
        let spend = [SpendRequest { key_id: daily.id.clone(), cost: 4 }];
        store.spend_credits(&spend).await.unwrap();
        assert!(refilled_ids(date(2026, 4, 14)).await.is_empty(), "idempotent per date");
        assert_eq!(store.get_credits(&daily.id).await.unwrap().unwrap().remaining, Some(6));

        let refilled = refilled_ids(date(2026, 4, 15)).await;
        let mut expected = vec![daily.id.clone(), day_15.id.clone()];
        expected.sort();
        assert_eq!(refilled.iter().map(|r| r.key_id.clone()).collect::<Vec<_>>(), expected);
        assert_eq!(store.get_credits(&day_15.id).await.unwrap().unwrap().remaining, Some(20));

        let refilled = refilled_ids(date(2026, 4, 30)).await;
        assert_eq!(
            refilled.iter().map(|r| r.key_id.as_str()).collect::<Vec<_>>(),
            [day_31.id.as_str()],
            "day 31 refills on the last day of a short month; the daily key is full"
        );
        assert_eq!(refilled[0].previous, Some(0));
        assert_eq!(refilled[0].remaining, 30);

        for (key, remaining) in [(&full, 10), (&above, 25), (&no_refill, 1)] {
            assert_eq!(
                store.get_credits(&key.id).await.unwrap().unwrap().remaining,
                Some(remaining),
                "keys at or above their refill amount, or without refill, are untouched"
            );
        }
    }

    pub async fn refill_credits_writes_system_audit(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let due =
            insert(&store, NewKey { credits: limited(0, Some(Refill { amount: 5, day: None })), ..new_key(&api) })
                .await;
        insert(&store, NewKey { credits: limited(5, Some(Refill { amount: 5, day: None })), ..new_key(&api) }).await;
        let refilled = store.refill_credits(date(2026, 1, 1), T0 + 1).await.unwrap();
        assert_eq!(refilled.len(), 1);
        let events = events(&store, &ws.id).await;
        assert_eq!(events.len(), 1, "one event per refilled key: {events:?}");
        let event = &events[0];
        assert_eq!(event.event, "key.update");
        assert_eq!(event.workspace_id, ws.id);
        assert_eq!(event.actor.kind, "system");
        assert!(event.targets.iter().any(|t| t.kind == "key" && t.id == due.id), "{event:?}");
    }

    pub async fn root_key_create_and_find_by_hash(store: Arc<dyn Store>) {
        let ws = workspace(true);
        let first = root_key(&ws.id);
        store.create_workspace(&ws, &first, &[]).await.unwrap();
        let rk =
            RootKey { name: None, enabled: false, expires: Some(T0 + 10), permissions: vec![], ..root_key(&ws.id) };
        let audit = [event(&ws.id, "rootKey.create", &rk.id)];
        store.create_root_key(&rk, &audit).await.unwrap();
        let record = store.find_root_key_by_hash(&rk.hash).await.unwrap().unwrap();
        assert_eq!(record.root_key, rk);
        assert_eq!(record.workspace_enabled, Some(true));
        assert_eq!(store.find_root_key_by_hash(&random_hash()).await.unwrap(), None);

        let disabled = workspace(false);
        let in_disabled = root_key(&disabled.id);
        store.create_workspace(&disabled, &in_disabled, &[]).await.unwrap();
        let record = store.find_root_key_by_hash(&in_disabled.hash).await.unwrap().unwrap();
        assert_eq!(record.workspace_enabled, Some(false));

        let dup = RootKey { hash: rk.hash.clone(), ..root_key(&ws.id) };
        let err = store.create_root_key(&dup, &[event(&ws.id, "rootKey.create", &dup.id)]).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(store.get_root_key(&ws.id, &dup.id).await.unwrap(), None);
        assert_eq!(events(&store, &ws.id).await, audit.to_vec());
    }

    pub async fn root_key_get_and_list(store: Arc<dyn Store>) {
        let ws = workspace(true);
        let first = root_key(&ws.id);
        store.create_workspace(&ws, &first, &[]).await.unwrap();
        let mut keys = vec![first];
        for _ in 0..4 {
            let rk = root_key(&ws.id);
            store.create_root_key(&rk, &[]).await.unwrap();
            keys.push(rk);
        }
        let other = workspace(true);
        let foreign = root_key(&other.id);
        store.create_workspace(&other, &foreign, &[]).await.unwrap();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        let gone = keys.remove(1);
        store.delete_root_key(&ws.id, &gone.id, T0 + 1, &[]).await.unwrap().unwrap();

        assert_eq!(store.get_root_key(&ws.id, &keys[0].id).await.unwrap(), Some(keys[0].clone()));
        assert_eq!(store.get_root_key(&ws.id, &foreign.id).await.unwrap(), None);
        assert_eq!(store.get_root_key(&ws.id, &gone.id).await.unwrap(), None);

        let page = |cursor: &str, limit: usize| PageRequest { cursor: cursor.into(), limit };
        assert_eq!(store.list_root_keys(&ws.id, &page("", 1)).await.unwrap(), keys[..2]);
        assert_eq!(store.list_root_keys(&ws.id, &page(&keys[1].id, 1)).await.unwrap(), keys[1..3]);
        assert_eq!(
            store.list_root_keys(&ws.id, &page("", 50)).await.unwrap(),
            keys,
            "deleted and foreign root keys are excluded"
        );
    }

    pub async fn root_key_update(store: Arc<dyn Store>) {
        let ws = workspace(true);
        let rk = root_key(&ws.id);
        store.create_workspace(&ws, &rk, &[]).await.unwrap();
        let audit = [event(&ws.id, "rootKey.update", &rk.id)];
        let update = RootKeyUpdate {
            name: Patch::Clear,
            enabled: Some(false),
            permissions: Some(vec!["api.*.verify_key".into()]),
        };
        let updated = store.update_root_key(&ws.id, &rk.id, &update, &audit).await.unwrap().unwrap();
        assert_eq!(
            updated,
            RootKey { name: None, enabled: false, permissions: vec!["api.*.verify_key".into()], ..rk.clone() }
        );
        let renamed = store
            .update_root_key(
                &ws.id,
                &rk.id,
                &RootKeyUpdate { name: Patch::Set("renamed".into()), ..RootKeyUpdate::default() },
                &[],
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(renamed.name.as_deref(), Some("renamed"));
        assert_eq!(renamed.permissions, updated.permissions, "Keep keeps");
        assert!(!renamed.enabled);
        assert_eq!(store.get_root_key(&ws.id, &rk.id).await.unwrap(), Some(renamed));
        assert_eq!(store.update_root_key("ws_other", &rk.id, &update, &audit).await.unwrap(), None);
        assert_eq!(events(&store, &ws.id).await, audit.to_vec());
    }

    /// The reroll answers with the old root key as it is afterwards (its new expiry set), which
    /// is what the caller needs to invalidate and report it.
    pub async fn root_key_reroll(store: Arc<dyn Store>) {
        let ws = workspace(true);
        let old = root_key(&ws.id);
        store.create_workspace(&ws, &old, &[]).await.unwrap();
        let new = root_key(&ws.id);
        let audit = [event(&ws.id, "rootKey.reroll", &old.id)];
        let returned = store.reroll_root_key(&ws.id, &old.id, Some(T0 + 60_000), &new, &audit).await.unwrap().unwrap();
        assert_eq!(returned.id, old.id);
        assert_eq!(returned.hash, old.hash);
        assert_eq!(returned.expires, Some(T0 + 60_000), "the old key, as updated");
        assert_eq!(store.get_root_key(&ws.id, &old.id).await.unwrap(), Some(returned));
        assert_eq!(store.get_root_key(&ws.id, &new.id).await.unwrap(), Some(new.clone()));

        let missing = root_key(&ws.id);
        assert_eq!(store.reroll_root_key(&ws.id, "key_missing", None, &missing, &audit).await.unwrap(), None);
        assert_eq!(store.reroll_root_key("ws_other", &new.id, None, &missing, &audit).await.unwrap(), None);
        assert_eq!(
            store.find_root_key_by_hash(&missing.hash).await.unwrap(),
            None,
            "a reroll of nothing inserts nothing"
        );
        assert_eq!(events(&store, &ws.id).await, audit.to_vec());
    }

    pub async fn root_key_delete(store: Arc<dyn Store>) {
        assert!(!store.any_root_key().await.unwrap());
        let ws = workspace(true);
        let rk = root_key(&ws.id);
        store.create_workspace(&ws, &rk, &[]).await.unwrap();
        assert!(store.any_root_key().await.unwrap());
        assert_eq!(store.delete_root_key("ws_other", &rk.id, T0 + 1, &[]).await.unwrap(), None);
        let audit = [event(&ws.id, "rootKey.delete", &rk.id)];
        assert_eq!(
            store.delete_root_key(&ws.id, &rk.id, T0 + 1, &audit).await.unwrap(),
            Some(rk.clone()),
            "returns the root key as it was"
        );
        assert_eq!(store.find_root_key_by_hash(&rk.hash).await.unwrap(), None);
        assert_eq!(store.get_root_key(&ws.id, &rk.id).await.unwrap(), None);
        assert!(!store.any_root_key().await.unwrap());
        assert_eq!(store.delete_root_key(&ws.id, &rk.id, T0 + 2, &[]).await.unwrap(), None);
        let reuse = RootKey { hash: rk.hash.clone(), ..root_key(&ws.id) };
        assert!(
            matches!(store.create_root_key(&reuse, &[]).await, Err(StoreError::Conflict(_))),
            "a deleted root key's hash stays reserved"
        );
        assert_eq!(events(&store, &ws.id).await, audit.to_vec());
    }

    pub async fn root_key_usage(store: Arc<dyn Store>) {
        let ws = workspace(true);
        let rk = root_key(&ws.id);
        store.create_workspace(&ws, &rk, &[]).await.unwrap();
        store.record_root_key_usage(&[(rk.id.clone(), T0 + 5), ("key_missing".into(), T0)]).await.unwrap();
        assert_eq!(store.get_root_key(&ws.id, &rk.id).await.unwrap().unwrap().last_used_at, Some(T0 + 5));
    }

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
        store.create_key(&k1, std::slice::from_ref(&first)).await.unwrap();
        let k2 = new_key(&api);
        store.create_key(&k2, std::slice::from_ref(&second)).await.unwrap();
        let foreign = event(&other_ws.id, "key.create", "key_x");
        store.create_key(&new_key(&other_api), std::slice::from_ref(&foreign)).await.unwrap();
        let later = |description: &str| AuditEvent { time: T0 + 9, ..event(&ws.id, "key.update", description) };
        let third = later("third");
        let fourth = later("fourth");
        store
            .update_key(
                &ws.id,
                &k1.id,
                &KeyUpdate { updated_at: T0 + 9, ..KeyUpdate::default() },
                &[third.clone(), fourth.clone()],
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

    pub async fn hashes_stream_in_creation_order(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let mut created = Vec::new();
        for (i, at) in [T0 + 2, T0, T0 + 1, T0 + 1].into_iter().enumerate() {
            let key = insert(&store, NewKey { created_at: at, ..new_key(&api) }).await;
            if i == 1 {
                // Deleted keys stay in the stream: their hashes are still reserved.
                store.delete_key(&ws.id, &key.id, false, T0 + 5, &[]).await.unwrap().unwrap();
            }
            created.push((at, key.id.clone(), key.hash.clone()));
        }
        created.sort();
        let mut streamed = Vec::new();
        let mut cursor = HashCursor::start();
        loop {
            let page = store.hashes_after(HashSource::Keys, &cursor, 3).await.unwrap();
            let Some(last) = page.last() else { break };
            cursor = HashCursor { created_at: last.created_at, id: last.id.clone() };
            streamed.extend(page.into_iter().map(|e| (e.created_at, e.id, e.hash)));
        }
        assert_eq!(streamed, created);
        let later = HashCursor { created_at: T0 + 1, id: String::new() };
        let tail = store.hashes_after(HashSource::Keys, &later, 10).await.unwrap();
        assert_eq!(tail.len(), 3, "the cursor is exclusive on (created_at, id)");

        let rk = root_key(&ws.id);
        store.create_root_key(&rk, &[]).await.unwrap();
        let roots = store.hashes_after(HashSource::RootKeys, &HashCursor::start(), 10).await.unwrap();
        assert!(roots.iter().any(|e| e.hash == rk.hash && e.id == rk.id), "root keys stream too");
    }
}
