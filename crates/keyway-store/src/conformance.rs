//! The conformance suite: the behaviour every storage adapter must have, written once against the
//! ports and run by each adapter's test binary through [`conformance_tests!`].
//!
//! An adapter's tests provide a factory `async fn() -> Option<Harness>`: `None` skips (a backend
//! that is not configured on a developer's machine; in CI the factory must panic instead).

use crate::Store;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

mod api_settings;
mod migrations;
mod rbac;
mod refill;
mod reroll;
mod vault;

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
            refill_candidates_carry_the_key,
            refill_credits_due_rules,
            refill_full_then_spent_waits_for_the_next_date,
            refill_unlimited_key_with_a_schedule,
            apply_refills_refuses_stale_steps,
            root_key_create_and_find_by_hash,
            root_key_get_and_list,
            root_key_update,
            root_key_reroll,
            root_key_delete,
            root_key_usage,
            audit_events_round_trip_in_order,
            hashes_stream_in_creation_order,
            key_ratelimits_on_every_read_path,
            key_ratelimits_replace_by_name,
            delete_key_permanent_removes_ratelimits,
            identity_create_find_and_conflict,
            identity_list_search_and_pagination,
            identity_update_replaces_meta_and_ratelimits,
            identity_delete_semantics,
            identity_key_hashes_of_live_keys,
            namespace_create_and_find,
            namespace_create_race_has_one_winner,
            override_set_delete_and_set_again,
            override_list_keyset_pagination,
            permission_create_and_find,
            permission_list_search_and_pagination,
            permission_delete_unlinks_and_reports_keys,
            role_create_with_permissions,
            role_create_missing_or_conflict_writes_nothing,
            role_list_search_and_pagination,
            role_delete_unlinks_and_reports_keys,
            role_set_permissions,
            key_permissions_add_remove_set,
            key_permissions_missing_or_unknown_key_writes_nothing,
            key_roles_add_remove_set,
            key_create_with_permissions_and_roles,
            key_create_missing_role_writes_nothing,
            key_update_replaces_permissions_and_roles,
            key_permissions_and_roles_on_every_read_path,
            delete_key_permanent_removes_rbac_links,
            rbac_workspace_isolation,
            api_recoverable_flag,
            data_key_one_per_workspace,
            recoverable_key_is_written_with_its_key,
            data_keys_rewrap_under_a_new_master_key,
            key_shape_round_trips,
            key_reroll_copies_configuration_and_retires_the_old_key,
            key_reroll_of_a_missing_key_writes_nothing,
            key_reroll_hash_conflict_writes_nothing,
            key_reroll_writes_the_successors_encrypted_copy,
            list_identity_keys_across_apis,
            migration_create_and_get,
            migrate_keys_skips_existing_and_repeated_hashes,
            migrate_keys_creates_missing_roles,
            pending_keys_by_hash_and_by_start,
            complete_migration_rehashes_once,
            api_settings_create_update_and_find,
            api_update_refuses_missing_deleted_or_foreign,
            find_key_by_hash_carries_the_allowlist,
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
    pub use super::api_settings::*;
    pub use super::migrations::*;
    pub use super::rbac::*;
    pub use super::refill::*;
    pub use super::reroll::*;
    pub use super::vault::*;

    use crate::{
        Actor, Api, AuditEvent, AuditTarget, HashCursor, HashSource, Identity, IdentityUpdate, Key, KeyUpdate,
        Namespace, NewIdentity, NewKey, Override, PageRequest, RatelimitConfig, RootKey, RootKeyUpdate, SpendRequest,
        Store, StoreError, Workspace,
    };
    use keyway_domain::Patch;
    use keyway_domain::credits::{Credits, CreditsError, CreditsOperation, CreditsPatch, Refill, Spend};
    use keyway_domain::ids::{IdKind, new_id};
    use keyway_domain::key_material::KeyHash;
    use keyway_domain::time::UnixMs;
    use std::sync::Arc;

    pub(super) const T0: UnixMs = 1_767_225_600_000;

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

    pub(super) fn api(workspace_id: &str) -> Api {
        Api {
            id: new_id(IdKind::Api),
            workspace_id: workspace_id.into(),
            name: "payments".into(),
            keyspace_id: new_id(IdKind::Keyspace),
            recoverable: false,
            created_at: T0,
            deleted_at: None,
            ip_allowlist: Default::default(),
            key_format: Default::default(),
        }
    }

    pub(super) fn new_key(api: &Api) -> NewKey {
        NewKey {
            id: new_id(IdKind::Key),
            workspace_id: api.workspace_id.clone(),
            api_id: api.id.clone(),
            keyspace_id: api.keyspace_id.clone(),
            hash: random_hash(),
            start: "sk_abcd".into(),
            shape: None,
            name: None,
            meta: None,
            external_id: None,
            enabled: true,
            expires: None,
            credits: Credits::UNLIMITED,
            ratelimits: vec![],
            permissions: vec![],
            roles: vec![],
            created_at: T0,
        }
    }

    fn limited(remaining: i64, refill: Option<Refill>) -> Credits {
        Credits { remaining: Some(remaining), refill }
    }

    pub(super) fn event(workspace_id: &str, name: &str, target: &str) -> AuditEvent {
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

    /// The audit events of RBAC changes, described by the change so tests can tell them apart.
    pub(super) struct ChangeEvents {
        pub workspace_id: String,
    }

    impl crate::RbacAudit for ChangeEvents {
        fn event(&self, change: crate::RbacChange<'_>) -> AuditEvent {
            let (name, target) = match change {
                crate::RbacChange::PermissionCreated(p) => ("permission.create", p.slug.clone()),
                crate::RbacChange::PermissionConnectedToKey { key_id, permission } => {
                    ("authorization.connect_permission_and_key", format!("{key_id} {}", permission.slug))
                }
                crate::RbacChange::PermissionDisconnectedFromKey { key_id, permission } => {
                    ("authorization.disconnect_permission_and_key", format!("{key_id} {}", permission.slug))
                }
                crate::RbacChange::RoleConnectedToKey { key_id, role_name, .. } => {
                    ("authorization.connect_role_and_key", format!("{key_id} {role_name}"))
                }
                crate::RbacChange::RoleDisconnectedFromKey { key_id, role_name, .. } => {
                    ("authorization.disconnect_role_and_key", format!("{key_id} {role_name}"))
                }
                crate::RbacChange::PermissionConnectedToRole { role_id, permission } => {
                    ("authorization.connect_role_and_permission", format!("{role_id} {}", permission.slug))
                }
                crate::RbacChange::PermissionDisconnectedFromRole { role_id, permission } => {
                    ("authorization.disconnect_role_and_permission", format!("{role_id} {}", permission.slug))
                }
                crate::RbacChange::RoleCreated { role_name, .. } => ("role.create", role_name.to_string()),
            };
            event(&self.workspace_id, name, &target)
        }
    }

    pub(super) fn changes(workspace_id: &str) -> ChangeEvents {
        ChangeEvents { workspace_id: workspace_id.into() }
    }

    fn meta(value: serde_json::Value) -> crate::JsonObject {
        value.as_object().expect("meta is an object").clone()
    }

    /// A workspace (with a root key) and an API in it.
    pub(super) async fn setup(store: &Arc<dyn Store>) -> (Workspace, Api) {
        let ws = workspace(true);
        store.create_workspace(&ws, &root_key(&ws.id), &[]).await.unwrap();
        let api = api(&ws.id);
        store.create_api(&api, &[]).await.unwrap();
        (ws, api)
    }

    pub(super) async fn insert(store: &Arc<dyn Store>, key: NewKey) -> NewKey {
        store.create_key(&key, &[], &changes(&key.workspace_id)).await.unwrap();
        key
    }

    pub(super) async fn events(store: &Arc<dyn Store>, workspace_id: &str) -> Vec<AuditEvent> {
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
        assert_eq!(key.ratelimits, by_name(new.ratelimits.clone()));
    }

    pub(super) fn ratelimit(name: &str, limit: i64, duration: i64, auto_apply: bool) -> RatelimitConfig {
        RatelimitConfig { id: new_id(IdKind::Ratelimit), name: name.into(), limit, duration, auto_apply }
    }

    /// Rate limits as every read returns them.
    fn by_name(mut ratelimits: Vec<RatelimitConfig>) -> Vec<RatelimitConfig> {
        ratelimits.sort_by(|a, b| a.name.cmp(&b.name));
        ratelimits
    }

    fn new_identity(workspace_id: &str, external_id: &str) -> NewIdentity {
        NewIdentity {
            id: new_id(IdKind::Identity),
            workspace_id: workspace_id.into(),
            external_id: external_id.into(),
            meta: None,
            ratelimits: vec![],
            created_at: T0,
        }
    }

    /// The identity as it reads back after `create_identity(new)`.
    fn identity_of(new: &NewIdentity) -> Identity {
        Identity {
            id: new.id.clone(),
            workspace_id: new.workspace_id.clone(),
            external_id: new.external_id.clone(),
            meta: new.meta.clone().filter(|m| !m.is_empty()),
            ratelimits: by_name(new.ratelimits.clone()),
        }
    }

    async fn create_identity(store: &Arc<dyn Store>, identity: NewIdentity) -> NewIdentity {
        store.create_identity(&identity, &[]).await.unwrap();
        identity
    }

    fn namespace(workspace_id: &str, name: &str) -> Namespace {
        Namespace {
            id: new_id(IdKind::Namespace),
            workspace_id: workspace_id.into(),
            name: name.into(),
            created_at: T0,
            deleted_at: None,
        }
    }

    fn limit_override(namespace: &Namespace, identifier: &str, limit: i64) -> Override {
        Override {
            id: new_id(IdKind::Override),
            workspace_id: namespace.workspace_id.clone(),
            namespace_id: namespace.id.clone(),
            identifier: identifier.into(),
            limit,
            duration: 60_000,
            created_at: T0,
        }
    }

    pub(super) fn page(cursor: &str, limit: usize) -> PageRequest {
        PageRequest { cursor: cursor.into(), limit }
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
        store.create_key(&key, &audit, &changes(&key.workspace_id)).await.unwrap();
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
        let err = store.create_key(&dup, &[event(&ws.id, "key.create", &dup.id)], &changes(&ws.id)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(store.get_key(&ws.id, &dup.id).await.unwrap(), None);
        assert!(events(&store, &ws.id).await.is_empty(), "a failed mutation writes no audit event");

        store.delete_key(&ws.id, &first.id, false, T0 + 1, &[]).await.unwrap().unwrap();
        let err = store.create_key(&dup, &[], &changes(&dup.workspace_id)).await.unwrap_err();
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
            .update_key(
                &ws.id,
                &key.id,
                &KeyUpdate { updated_at: T0 + 1, ..KeyUpdate::default() },
                &[],
                &changes(&ws.id),
            )
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
        let updated = store.update_key(&ws.id, &key.id, &set, &audit, &changes(&ws.id)).await.unwrap().unwrap();
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
        let cleared = store.update_key(&ws.id, &key.id, &clear, &[], &changes(&ws.id)).await.unwrap().unwrap();
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
        let linked = store.update_key(&ws.id, &key.id, &link, &[], &changes(&ws.id)).await.unwrap().unwrap();
        let identity = linked.identity.expect("Set creates and links the identity");
        assert_eq!(identity.external_id, "user_9");
        assert_eq!(store.find_identity_by_external_id(&ws.id, "user_9").await.unwrap(), Some(identity.clone()));

        let other = insert(&store, new_key(&api)).await;
        let other_linked = store.update_key(&ws.id, &other.id, &link, &[], &changes(&ws.id)).await.unwrap().unwrap();
        assert_eq!(other_linked.identity.as_ref(), Some(&identity), "Set links an existing identity");

        let unlink = KeyUpdate { external_id: Patch::Clear, updated_at: T0 + 2, ..KeyUpdate::default() };
        let unlinked = store.update_key(&ws.id, &key.id, &unlink, &[], &changes(&ws.id)).await.unwrap().unwrap();
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
            let updated = store.update_key(&ws.id, &key.id, &update, &[], &changes(&ws.id)).await.unwrap().unwrap();
            assert_eq!(updated.credits, expected, "after patch {i}");
            assert_eq!(store.get_credits(&key.id).await.unwrap(), Some(expected), "after patch {i}");
        }
    }

    pub async fn update_key_missing_or_other_workspace(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let key = insert(&store, new_key(&api)).await;
        let update = KeyUpdate { name: Patch::Set("x".into()), updated_at: T0 + 1, ..KeyUpdate::default() };
        let audit = [event(&ws.id, "key.update", &key.id)];
        assert_eq!(store.update_key("ws_other", &key.id, &update, &audit, &changes(&ws.id)).await.unwrap(), None);
        assert_eq!(store.update_key(&ws.id, "key_missing", &update, &audit, &changes(&ws.id)).await.unwrap(), None);
        assert_eq!(store.get_key(&ws.id, &key.id).await.unwrap().unwrap().name, None);
        store.delete_key(&ws.id, &key.id, false, T0 + 2, &[]).await.unwrap();
        assert_eq!(
            store.update_key(&ws.id, &key.id, &update, &audit, &changes(&ws.id)).await.unwrap(),
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
        assert!(matches!(
            store.create_key(&reuse, &[], &changes(&reuse.workspace_id)).await,
            Err(StoreError::Conflict(_))
        ));
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
        store
            .create_key(&reuse, &[], &changes(&reuse.workspace_id))
            .await
            .expect("a permanently deleted key frees its hash");
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

    /// The key's own limits and its identity's shared ones come with the key from every read,
    /// ordered by name, each key with its own (list pages included).
    pub async fn key_ratelimits_on_every_read_path(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let shared = create_identity(
            &store,
            NewIdentity {
                ratelimits: vec![ratelimit("requests", 100, 60_000, true), ratelimit("burst", 5, 1_000, false)],
                ..new_identity(&ws.id, "user_1")
            },
        )
        .await;
        let key = insert(
            &store,
            NewKey {
                external_id: Some("user_1".into()),
                ratelimits: vec![ratelimit("tokens", 1_000, 86_400_000, false), ratelimit("requests", 10, 1_000, true)],
                ..new_key(&api)
            },
        )
        .await;
        let mut others = Vec::new();
        for i in 0..3 {
            let own = vec![ratelimit(&format!("own_{i}"), i + 1, 1_000 * (i + 1), i % 2 == 0)];
            others.push(insert(&store, NewKey { ratelimits: own, ..new_key(&api) }).await);
        }
        let plain = insert(&store, new_key(&api)).await;
        let expected_identity = identity_of(&shared);
        let check = |read: &Key, path: &str| {
            assert_eq!(read.ratelimits, by_name(key.ratelimits.clone()), "{path}");
            assert_eq!(read.identity.as_ref(), Some(&expected_identity), "{path}");
        };

        check(&store.get_key(&ws.id, &key.id).await.unwrap().unwrap(), "get_key");
        check(&store.find_key_by_hash(&key.hash).await.unwrap().unwrap().key, "find_key_by_hash");
        let listed = store.list_keys(&api.id, None, &page("", 10)).await.unwrap();
        assert_eq!(listed.len(), 5);
        for read in &listed {
            if read.id == key.id {
                check(read, "list_keys");
            } else if read.id == plain.id {
                assert!(read.ratelimits.is_empty(), "list_keys: {read:?}");
            } else {
                let new = others.iter().find(|k| k.id == read.id).expect("listed key exists");
                assert_eq!(read.ratelimits, new.ratelimits, "list_keys gives each key its own");
            }
        }
        let by_identity = store.list_keys(&api.id, Some(&shared.id), &page("", 10)).await.unwrap();
        assert_eq!(by_identity.len(), 1);
        check(&by_identity[0], "list_keys by identity");
        let touch = KeyUpdate { name: Patch::Set("renamed".into()), updated_at: T0 + 1, ..KeyUpdate::default() };
        check(&store.update_key(&ws.id, &key.id, &touch, &[], &changes(&ws.id)).await.unwrap().unwrap(), "update_key");
        check(&store.delete_key(&ws.id, &key.id, false, T0 + 2, &[]).await.unwrap().unwrap(), "delete_key");

        assert_eq!(store.find_identity(&ws.id, &shared.id).await.unwrap(), Some(expected_identity.clone()));
        assert_eq!(store.find_identity_by_external_id(&ws.id, "user_1").await.unwrap(), Some(expected_identity));
    }

    /// `ratelimits: Some(list)` is the whole new set: unlisted names go, listed names keep their
    /// stored id with the new values, new names take the given id; of duplicates the last wins.
    pub async fn key_ratelimits_replace_by_name(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let a = ratelimit("a", 1, 1_000, false);
        let b = ratelimit("b", 2, 2_000, true);
        let key = insert(&store, NewKey { ratelimits: vec![a.clone(), b.clone()], ..new_key(&api) }).await;
        let neighbour = insert(
            &store,
            NewKey {
                ratelimits: vec![ratelimit("a", 9, 9_000, false), ratelimit("b", 8, 8_000, false)],
                ..new_key(&api)
            },
        )
        .await;

        let a_new = ratelimit("a", 11, 11_000, true);
        let c_first = ratelimit("c", 3, 3_000, false);
        let c_last = ratelimit("c", 4, 4_000, true);
        let replace = KeyUpdate {
            ratelimits: Some(vec![c_first, a_new.clone(), c_last.clone()]),
            updated_at: T0 + 1,
            ..KeyUpdate::default()
        };
        let audit = [event(&ws.id, "key.update", &key.id)];
        let updated = store.update_key(&ws.id, &key.id, &replace, &audit, &changes(&ws.id)).await.unwrap().unwrap();
        let expected = vec![RatelimitConfig { id: a.id.clone(), ..a_new }, c_last];
        assert_eq!(updated.ratelimits, expected);
        assert_eq!(store.get_key(&ws.id, &key.id).await.unwrap().unwrap().ratelimits, expected);

        let rename = KeyUpdate { name: Patch::Set("x".into()), updated_at: T0 + 2, ..KeyUpdate::default() };
        let kept = store.update_key(&ws.id, &key.id, &rename, &[], &changes(&ws.id)).await.unwrap().unwrap();
        assert_eq!(kept.ratelimits, expected, "None keeps the rate limits");

        let b_again = ratelimit("b", 5, 5_000, false);
        let readd = KeyUpdate { ratelimits: Some(vec![b_again.clone()]), updated_at: T0 + 3, ..KeyUpdate::default() };
        let readded = store.update_key(&ws.id, &key.id, &readd, &[], &changes(&ws.id)).await.unwrap().unwrap();
        assert_eq!(readded.ratelimits, vec![b_again], "a name deleted earlier comes back as a new row");

        let clear = KeyUpdate { ratelimits: Some(vec![]), updated_at: T0 + 4, ..KeyUpdate::default() };
        let cleared = store.update_key(&ws.id, &key.id, &clear, &[], &changes(&ws.id)).await.unwrap().unwrap();
        assert!(cleared.ratelimits.is_empty(), "an empty list deletes every rate limit");

        let refused = [event(&ws.id, "key.update", &key.id)];
        assert_eq!(store.update_key("ws_other", &key.id, &replace, &refused, &changes(&ws.id)).await.unwrap(), None);
        assert_eq!(
            store.get_key(&ws.id, &neighbour.id).await.unwrap().unwrap().ratelimits,
            neighbour.ratelimits,
            "another key's rate limits of the same names are untouched"
        );
        assert_eq!(events(&store, &ws.id).await, audit.to_vec());
    }

    /// Observed through the ports: the same key id and rate-limit ids can be inserted again.
    pub async fn delete_key_permanent_removes_ratelimits(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let key = insert(
            &store,
            NewKey {
                ratelimits: vec![ratelimit("a", 1, 1_000, true), ratelimit("b", 2, 2_000, false)],
                ..new_key(&api)
            },
        )
        .await;
        let deleted = store.delete_key(&ws.id, &key.id, true, T0 + 1, &[]).await.unwrap().unwrap();
        assert_eq!(deleted.ratelimits, key.ratelimits, "returns the key as it was, rate limits included");
        let again = NewKey { id: key.id.clone(), ratelimits: key.ratelimits.clone(), ..new_key(&api) };
        store.create_key(&again, &[], &changes(&again.workspace_id)).await.expect("the key's rate limits went with it");
        assert_eq!(store.get_key(&ws.id, &key.id).await.unwrap().unwrap().ratelimits, key.ratelimits);
    }

    pub async fn identity_create_find_and_conflict(store: Arc<dyn Store>) {
        let (ws, _) = setup(&store).await;
        let (other_ws, _) = setup(&store).await;
        let alice = NewIdentity {
            meta: Some(meta(serde_json::json!({"plan": "pro", "seats": [1, 2]}))),
            ratelimits: vec![ratelimit("tokens", 10, 60_000, false), ratelimit("requests", 5, 1_000, true)],
            ..new_identity(&ws.id, "alice")
        };
        let audit = [event(&ws.id, "identity.create", &alice.id)];
        store.create_identity(&alice, &audit).await.unwrap();
        let expected = identity_of(&alice);
        assert_eq!(store.find_identity(&ws.id, &alice.id).await.unwrap(), Some(expected.clone()));
        assert_eq!(store.find_identity(&ws.id, "alice").await.unwrap(), Some(expected.clone()));
        assert_eq!(store.find_identity_by_external_id(&ws.id, "alice").await.unwrap(), Some(expected.clone()));
        assert_eq!(store.find_identity(&other_ws.id, &alice.id).await.unwrap(), None);
        assert_eq!(store.find_identity(&other_ws.id, "alice").await.unwrap(), None);
        assert_eq!(store.find_identity(&ws.id, "ALICE").await.unwrap(), None, "external ids are case-sensitive");
        assert_eq!(store.find_identity(&ws.id, "nobody").await.unwrap(), None);

        for empty in [None, Some(crate::JsonObject::new())] {
            let plain = create_identity(&store, NewIdentity { meta: empty, ..new_identity(&ws.id, "plain") }).await;
            let found = store.find_identity(&ws.id, &plain.id).await.unwrap().unwrap();
            assert_eq!(found.meta, None, "no meta and empty meta both read back as None");
            assert!(found.ratelimits.is_empty());
            store.delete_identity(&ws.id, &plain.id, T0, &[]).await.unwrap().unwrap();
        }

        let lookalike = create_identity(&store, new_identity(&ws.id, &alice.id)).await;
        assert_eq!(store.find_identity(&ws.id, &alice.id).await.unwrap(), Some(expected), "the id is tried first");
        assert_eq!(store.find_identity(&ws.id, &lookalike.id).await.unwrap(), Some(identity_of(&lookalike)));

        let dup = NewIdentity { ratelimits: vec![ratelimit("x", 1, 1_000, false)], ..new_identity(&ws.id, "alice") };
        let err = store.create_identity(&dup, &[event(&ws.id, "identity.create", &dup.id)]).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(store.find_identity(&ws.id, &dup.id).await.unwrap(), None);
        let elsewhere = create_identity(&store, new_identity(&other_ws.id, "alice")).await;
        assert_eq!(store.find_identity(&other_ws.id, "alice").await.unwrap(), Some(identity_of(&elsewhere)));
        assert_eq!(events(&store, &ws.id).await, audit.to_vec(), "the failed create wrote no audit event");
    }

    pub async fn identity_list_search_and_pagination(store: Arc<dyn Store>) {
        let (ws, _) = setup(&store).await;
        let (other_ws, _) = setup(&store).await;
        let mut all = Vec::new();
        for external_id in ["Alice_Smith", "alice%", "bob", "ALICEX", "carol_1", "xalicex", r"back\slash"] {
            let created = create_identity(
                &store,
                NewIdentity { ratelimits: vec![ratelimit("r", 1, 1_000, false)], ..new_identity(&ws.id, external_id) },
            )
            .await;
            all.push(identity_of(&created));
        }
        all.sort_by(|a, b| a.id.cmp(&b.id));
        create_identity(&store, new_identity(&other_ws.id, "alice")).await;
        let gone = create_identity(&store, new_identity(&ws.id, "alice_deleted")).await;
        store.delete_identity(&ws.id, &gone.id, T0 + 1, &[]).await.unwrap().unwrap();

        let list = |search: Option<&str>, page: PageRequest| {
            let store = store.clone();
            let ws = ws.id.clone();
            let search = search.map(str::to_string);
            async move { store.list_identities(&ws, search.as_deref(), &page).await.unwrap() }
        };
        let matching = |externals: &[&str]| {
            all.iter().filter(|i| externals.contains(&i.external_id.as_str())).cloned().collect::<Vec<_>>()
        };
        assert_eq!(list(None, page("", 100)).await, all, "deleted and foreign identities are excluded");
        assert_eq!(list(None, page("", 2)).await, all[..3], "limit + 1 rows");
        assert_eq!(list(None, page(&all[2].id, 2)).await, all[2..5], "cursor inclusive");

        let alices = matching(&["Alice_Smith", "alice%", "ALICEX", "xalicex"]);
        assert_eq!(list(Some("alice"), page("", 100)).await, alices, "case-insensitive substring");
        assert_eq!(list(Some("aLiCe"), page("", 1)).await, alices[..2]);
        assert_eq!(list(Some("alice"), page(&alices[1].id, 100)).await, alices[1..]);
        assert_eq!(list(Some("ALICE%"), page("", 100)).await, matching(&["alice%"]), "% is literal");
        assert_eq!(list(Some("e_"), page("", 100)).await, matching(&["Alice_Smith"]), "_ is literal");
        assert_eq!(list(Some(r"k\s"), page("", 100)).await, matching(&[r"back\slash"]), r"\ is literal");
        let by_id = all[3].id[3..].to_lowercase();
        assert_eq!(list(Some(&by_id), page("", 100)).await, all[3..4], "the id is searched too");
        assert!(list(Some("zzz"), page("", 100)).await.is_empty());
        assert!(store.list_identities("ws_missing", None, &page("", 100)).await.unwrap().is_empty());
    }

    pub async fn identity_update_replaces_meta_and_ratelimits(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let (other_ws, _) = setup(&store).await;
        let a = ratelimit("a", 1, 1_000, false);
        let b = ratelimit("b", 2, 2_000, true);
        let created = create_identity(
            &store,
            NewIdentity {
                meta: Some(meta(serde_json::json!({"x": 1}))),
                ratelimits: vec![b.clone(), a.clone()],
                ..new_identity(&ws.id, "alice")
            },
        )
        .await;
        let key = insert(&store, NewKey { external_id: Some("alice".into()), ..new_key(&api) }).await;

        let touch = IdentityUpdate { updated_at: T0 + 1, ..IdentityUpdate::default() };
        let kept = store.update_identity(&ws.id, &created.id, &touch, &[]).await.unwrap();
        assert_eq!(kept, Some(identity_of(&created)), "None fields are untouched");

        let a_new = ratelimit("a", 10, 10_000, true);
        let c = ratelimit("c", 3, 3_000, false);
        let update = IdentityUpdate {
            meta: Some(meta(serde_json::json!({"y": {"z": 2}}))),
            ratelimits: Some(vec![c.clone(), a_new.clone()]),
            updated_at: T0 + 2,
        };
        let audit = [event(&ws.id, "identity.update", &created.id)];
        let updated = store.update_identity(&ws.id, &created.id, &update, &audit).await.unwrap().unwrap();
        let expected = Identity {
            meta: update.meta.clone(),
            ratelimits: vec![RatelimitConfig { id: a.id.clone(), ..a_new }, c],
            ..identity_of(&created)
        };
        assert_eq!(updated, expected, "meta replaced; a keeps its id; b deleted; c inserted");
        assert_eq!(store.find_identity(&ws.id, "alice").await.unwrap(), Some(expected.clone()));
        assert_eq!(
            store.get_key(&ws.id, &key.id).await.unwrap().unwrap().identity,
            Some(expected),
            "linked keys read the identity as it is now"
        );

        let empty =
            IdentityUpdate { meta: Some(crate::JsonObject::new()), ratelimits: Some(vec![]), updated_at: T0 + 3 };
        let emptied = store.update_identity(&ws.id, &created.id, &empty, &[]).await.unwrap().unwrap();
        assert_eq!(emptied.meta, None);
        assert!(emptied.ratelimits.is_empty());

        let refused = [event(&ws.id, "identity.update", "refused")];
        assert_eq!(store.update_identity(&other_ws.id, &created.id, &update, &refused).await.unwrap(), None);
        assert_eq!(store.update_identity(&ws.id, "id_missing", &update, &refused).await.unwrap(), None);
        store.delete_identity(&ws.id, &created.id, T0 + 4, &[]).await.unwrap().unwrap();
        assert_eq!(
            store.update_identity(&ws.id, &created.id, &update, &refused).await.unwrap(),
            None,
            "a deleted identity cannot be updated"
        );
        assert_eq!(events(&store, &ws.id).await, audit.to_vec());
    }

    /// A soft delete: the keys stay linked but lose the identity, the external id is free again,
    /// and deleting its successor hard-deletes the older deleted row with its rate limits.
    pub async fn identity_delete_semantics(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let (other_ws, _) = setup(&store).await;
        let first = create_identity(
            &store,
            NewIdentity { ratelimits: vec![ratelimit("requests", 10, 1_000, true)], ..new_identity(&ws.id, "alice") },
        )
        .await;
        let key = insert(&store, NewKey { external_id: Some("alice".into()), ..new_key(&api) }).await;

        assert_eq!(store.delete_identity(&other_ws.id, &first.id, T0 + 1, &[]).await.unwrap(), None);
        let audit = [event(&ws.id, "identity.delete", &first.id)];
        let deleted = store.delete_identity(&ws.id, &first.id, T0 + 1, &audit).await.unwrap();
        assert_eq!(deleted, Some(identity_of(&first)), "returns the identity as it was");
        assert_eq!(store.find_identity(&ws.id, &first.id).await.unwrap(), None);
        assert_eq!(store.find_identity(&ws.id, "alice").await.unwrap(), None);
        assert_eq!(store.find_identity_by_external_id(&ws.id, "alice").await.unwrap(), None);
        assert!(store.list_identities(&ws.id, None, &page("", 10)).await.unwrap().is_empty());
        assert_eq!(store.get_key(&ws.id, &key.id).await.unwrap().unwrap().identity, None);
        let record = store.find_key_by_hash(&key.hash).await.unwrap().expect("the key itself is live");
        assert_eq!(record.key.identity, None, "the key loses the identity and its rate limits");
        assert_eq!(
            store.identity_key_hashes(&first.id).await.unwrap(),
            vec![key.hash.clone()],
            "the keys stay linked, so their cached records can be invalidated"
        );
        let again = [event(&ws.id, "identity.delete", "again")];
        assert_eq!(store.delete_identity(&ws.id, &first.id, T0 + 2, &again).await.unwrap(), None);

        let second = create_identity(
            &store,
            NewIdentity { ratelimits: vec![ratelimit("requests", 20, 1_000, true)], ..new_identity(&ws.id, "alice") },
        )
        .await;
        assert_eq!(store.find_identity(&ws.id, "alice").await.unwrap(), Some(identity_of(&second)));
        assert_eq!(
            store.get_key(&ws.id, &key.id).await.unwrap().unwrap().identity,
            None,
            "keys of the deleted identity do not move to its successor"
        );
        let deleted = store.delete_identity(&ws.id, &second.id, T0 + 3, &[]).await.unwrap();
        assert_eq!(deleted, Some(identity_of(&second)));

        // The first identity's id and its rate limits' ids are free again: it was hard-deleted
        // with them when its successor was deleted.
        let reuse =
            NewIdentity { id: first.id.clone(), ratelimits: first.ratelimits.clone(), ..new_identity(&ws.id, "carol") };
        store.create_identity(&reuse, &[]).await.expect("the older deleted identity is gone");
        assert_eq!(store.find_identity(&ws.id, &first.id).await.unwrap(), Some(identity_of(&reuse)));
        assert_eq!(events(&store, &ws.id).await, audit.to_vec());
    }

    pub async fn identity_key_hashes_of_live_keys(store: Arc<dyn Store>) {
        let (ws, api) = setup(&store).await;
        let second_api = self::api(&ws.id);
        store.create_api(&second_api, &[]).await.unwrap();
        let linked = |api: &Api, external_id: &str| NewKey { external_id: Some(external_id.into()), ..new_key(api) };
        let a = insert(&store, linked(&api, "alice")).await;
        let b = insert(&store, linked(&second_api, "alice")).await;
        insert(&store, linked(&api, "bob")).await;
        insert(&store, new_key(&api)).await;
        let gone = insert(&store, linked(&api, "alice")).await;
        store.delete_key(&ws.id, &gone.id, false, T0 + 1, &[]).await.unwrap().unwrap();

        let alice = store.find_identity(&ws.id, "alice").await.unwrap().unwrap();
        let mut hashes = store.identity_key_hashes(&alice.id).await.unwrap();
        hashes.sort();
        let mut expected = vec![a.hash, b.hash];
        expected.sort();
        assert_eq!(hashes, expected, "live keys of every API, deleted keys excluded");
        assert!(store.identity_key_hashes("id_missing").await.unwrap().is_empty());
    }

    pub async fn namespace_create_and_find(store: Arc<dyn Store>) {
        let (ws, _) = setup(&store).await;
        let (other_ws, _) = setup(&store).await;
        let email = namespace(&ws.id, "email");
        let audit = [event(&ws.id, "ratelimitNamespace.create", &email.id)];
        assert_eq!(store.create_namespace(&email, &audit).await.unwrap(), email);
        assert_eq!(store.find_namespace(&ws.id, &email.id).await.unwrap(), Some(email.clone()));
        assert_eq!(store.find_namespace(&ws.id, "email").await.unwrap(), Some(email.clone()));
        assert_eq!(store.find_namespace(&ws.id, "EMAIL").await.unwrap(), None, "names are case-sensitive");
        assert_eq!(store.find_namespace(&ws.id, "sms").await.unwrap(), None);
        assert_eq!(store.find_namespace(&other_ws.id, &email.id).await.unwrap(), None);
        assert_eq!(store.find_namespace(&other_ws.id, "email").await.unwrap(), None);

        let theirs = namespace(&other_ws.id, "email");
        assert_eq!(store.create_namespace(&theirs, &[]).await.unwrap(), theirs, "names are per workspace");
        let late = namespace(&ws.id, "email");
        let late_audit = [event(&ws.id, "ratelimitNamespace.create", &late.id)];
        assert_eq!(store.create_namespace(&late, &late_audit).await.unwrap(), email, "the existing one is returned");

        let lookalike = namespace(&ws.id, &email.id);
        store.create_namespace(&lookalike, &[]).await.unwrap();
        assert_eq!(store.find_namespace(&ws.id, &email.id).await.unwrap(), Some(email), "the id is tried first");
        assert_eq!(store.find_namespace(&ws.id, &lookalike.id).await.unwrap(), Some(lookalike));

        let deleted = Namespace { deleted_at: Some(T0 + 1), ..namespace(&ws.id, "old") };
        store.create_namespace(&deleted, &[]).await.unwrap();
        assert_eq!(store.find_namespace(&ws.id, "old").await.unwrap(), Some(deleted), "deleted ones are found");
        assert_eq!(events(&store, &ws.id).await, audit.to_vec(), "only the creator writes its audit event");
    }

    pub async fn namespace_create_race_has_one_winner(store: Arc<dyn Store>) {
        let (ws, _) = setup(&store).await;
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let candidate = namespace(&ws.id, "api.requests");
                let audit = [event(&ws.id, "ratelimitNamespace.create", &candidate.id)];
                tokio::spawn(async move { store.create_namespace(&candidate, &audit).await.unwrap() })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        let winner = results[0].clone();
        assert!(results.iter().all(|ns| *ns == winner), "every caller gets the same namespace: {results:?}");
        assert_eq!(store.find_namespace(&ws.id, "api.requests").await.unwrap(), Some(winner.clone()));
        let events = events(&store, &ws.id).await;
        assert_eq!(events.len(), 1, "one audit event, the winner's: {events:?}");
        assert_eq!(events[0].targets[0].id, winner.id);
    }

    /// Overrides are upserted on `(namespace, identifier)` keeping their id, soft-deleted by exact
    /// identifier, and a set after a delete makes the same override live again.
    pub async fn override_set_delete_and_set_again(store: Arc<dyn Store>) {
        let (ws, _) = setup(&store).await;
        let ns = namespace(&ws.id, "api");
        store.create_namespace(&ns, &[]).await.unwrap();
        let neighbour = namespace(&ws.id, "email");
        store.create_namespace(&neighbour, &[]).await.unwrap();
        let mut audit = Vec::new();
        let mut set = async |over: Override| {
            let event = event(&ws.id, "ratelimit.set_override", &over.id);
            audit.push(event.clone());
            store.set_override(&over, &[event]).await.unwrap()
        };

        let alice = limit_override(&ns, "alice", 10);
        assert_eq!(set(alice.clone()).await, alice);
        let elsewhere = limit_override(&neighbour, "alice", 1);
        assert_eq!(set(elsewhere.clone()).await, elsewhere, "identifiers are per namespace");
        assert_eq!(store.namespace_overrides(&ns.id).await.unwrap(), vec![alice.clone()]);

        let replacement = Override { duration: 120_000, created_at: T0 + 5, ..limit_override(&ns, "alice", 20) };
        let stored = set(replacement).await;
        let expected = Override { limit: 20, duration: 120_000, ..alice.clone() };
        assert_eq!(stored, expected, "the existing override keeps its id and gets the new limit and duration");
        assert_eq!(store.namespace_overrides(&ns.id).await.unwrap(), vec![expected.clone()]);

        let delete = |identifier: &str, description: &str| {
            let store = store.clone();
            let (ns, identifier) = (ns.id.clone(), identifier.to_string());
            let event = event(&ws.id, "ratelimit.delete_override", description);
            async move { store.delete_override(&ns, &identifier, T0 + 6, std::slice::from_ref(&event)).await.unwrap() }
        };
        assert!(!delete("*", "wildcard").await, "deletion matches the identifier exactly");
        assert!(!delete("ALICE", "case").await);
        assert!(delete("alice", &expected.id).await);
        assert!(store.namespace_overrides(&ns.id).await.unwrap().is_empty());
        assert!(store.list_overrides(&ns.id, &page("", 10)).await.unwrap().is_empty());
        assert!(!delete("alice", "again").await, "a deleted override is not live");
        assert_eq!(store.namespace_overrides(&neighbour.id).await.unwrap(), vec![elsewhere]);

        let revived = set(limit_override(&ns, "alice", 0)).await;
        assert_eq!(revived, Override { limit: 0, duration: 60_000, ..alice }, "live again, same id");
        assert_eq!(store.namespace_overrides(&ns.id).await.unwrap(), vec![revived]);

        let mut expected_audit = audit.clone();
        expected_audit.insert(3, event(&ws.id, "ratelimit.delete_override", &expected.id));
        let written = events(&store, &ws.id).await;
        assert_eq!(
            written.iter().map(|e| e.description.as_str()).collect::<Vec<_>>(),
            expected_audit.iter().map(|e| e.description.as_str()).collect::<Vec<_>>(),
            "every set and the one successful delete are audited; refused deletes are not"
        );
    }

    pub async fn override_list_keyset_pagination(store: Arc<dyn Store>) {
        let (ws, _) = setup(&store).await;
        let (other_ws, _) = setup(&store).await;
        let ns = namespace(&ws.id, "api");
        store.create_namespace(&ns, &[]).await.unwrap();
        let neighbour = namespace(&other_ws.id, "api");
        store.create_namespace(&neighbour, &[]).await.unwrap();
        let mut all = Vec::new();
        for identifier in ["user_1", "user_2", "*@acme.com", "user_*", "key_%", "user_3"] {
            all.push(store.set_override(&limit_override(&ns, identifier, 5), &[]).await.unwrap());
        }
        store.set_override(&limit_override(&neighbour, "user_1", 5), &[]).await.unwrap();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        let gone = all.remove(4);
        assert!(store.delete_override(&ns.id, &gone.identifier, T0 + 1, &[]).await.unwrap());

        let list = |p: PageRequest| {
            let store = store.clone();
            let ns = ns.id.clone();
            async move { store.list_overrides(&ns, &p).await.unwrap() }
        };
        assert_eq!(list(page("", 2)).await, all[..3], "limit + 1 rows");
        assert_eq!(list(page(&all[2].id, 2)).await, all[2..5], "cursor inclusive");
        assert_eq!(list(page("", 100)).await, all, "deleted and other namespaces' overrides are excluded");
        assert_eq!(store.namespace_overrides(&ns.id).await.unwrap(), all);
        assert!(store.list_overrides("rlns_missing", &page("", 10)).await.unwrap().is_empty());
    }
}
