//! What the conformance suite cannot see: several nodes (each with its own pool) sharing one
//! database at the same time.

mod common;

use chrono::NaiveDate;
use common::TestSchema;
use keyway_domain::credits::{Credits, Refill, Spend};
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::KeyHash;
use keyway_store::conformance::cases::run_refill;
use keyway_store::{
    Actor, Api, ApiStore, AuditEvent, AuditStore, CreditStore, IdentityStore, KeyStore, LinkChange, LinkWrite,
    Namespace, NewIdentity, NewKey, Override, PageRequest, RatelimitStore, RbacAudit, RbacChange, RbacStore,
    RootKeyStore, SpendRequest, StoreError, WorkspaceStore,
};
use keyway_store_postgres::PostgresStore;
use std::future::Future;
use std::sync::Arc;

const WORKSPACE: &str = "ws_test";
const API: &str = "api_test";

/// Runs `test` on a fresh schema and drops the schema afterwards, also when the test panics.
async fn with_schema<F, Fut>(name: &str, test: F)
where
    F: FnOnce(Arc<TestSchema>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(schema) = TestSchema::create().await else {
        eprintln!("skipping {name}: KEYWAY_TEST_POSTGRES_URL is not set");
        return;
    };
    let schema = Arc::new(schema);
    let outcome = tokio::spawn(test(schema.clone())).await;
    if let Ok(schema) = Arc::try_unwrap(schema) {
        schema.drop_schema().await;
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn create_api(store: &PostgresStore) {
    let api = Api {
        id: API.into(),
        workspace_id: WORKSPACE.into(),
        name: "test".into(),
        keyspace_id: "ks_test".into(),
        recoverable: false,
        created_at: 1,
        deleted_at: None,
        ip_allowlist: Default::default(),
        key_format: Default::default(),
    };
    store.create_api(&api, &[]).await.unwrap();
}

fn new_key(id: &str, credits: Credits, external_id: Option<&str>) -> NewKey {
    NewKey {
        id: id.into(),
        workspace_id: WORKSPACE.into(),
        api_id: API.into(),
        keyspace_id: "ks_test".into(),
        hash: KeyHash::of(id),
        start: "test".into(),
        shape: None,
        name: None,
        meta: None,
        external_id: external_id.map(Into::into),
        new_identity_id: format!("id_{id}"),
        enabled: true,
        expires: None,
        credits,
        ratelimits: Vec::new(),
        permissions: Vec::new(),
        new_permission_ids: Vec::new(),
        roles: Vec::new(),
        created_at: 1,
    }
}

fn audit_event(event: &str) -> AuditEvent {
    AuditEvent::new(WORKSPACE, event, "test", Actor::system("test", "test"), Vec::new(), 1, "")
}

/// One audit event per RBAC change: `permission.create` for a created permission, `rbac.link`
/// for anything else.
struct RbacEvents;

impl RbacAudit for RbacEvents {
    fn event(&self, change: RbacChange<'_>) -> AuditEvent {
        match change {
            RbacChange::PermissionCreated(_) => audit_event("permission.create"),
            _ => audit_event("rbac.link"),
        }
    }
}

fn limited(remaining: i64) -> Credits {
    Credits { remaining: Some(remaining), refill: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_spend_batches_from_several_nodes_never_overspend() {
    with_schema("concurrent_spend", |schema| async move {
        let nodes = [schema.node().await, schema.node().await];
        create_api(&nodes[0]).await;
        for id in ["key_a", "key_b"] {
            nodes[0].create_key(&new_key(id, limited(100), None), &[], &RbacEvents).await.unwrap();
        }
        // Batches name both keys in opposite orders: without ordered locking these deadlock.
        let mut tasks = Vec::new();
        for t in 0..16 {
            let node = nodes[t % 2].clone();
            tasks.push(tokio::spawn(async move {
                let mut spent = [0i64; 2];
                for round in 0..20 {
                    let (first, second) = if (t + round) % 2 == 0 { ("key_a", "key_b") } else { ("key_b", "key_a") };
                    let batch = [first, second, first].map(|key_id| SpendRequest { key_id: key_id.into(), cost: 1 });
                    let outcomes = node.spend_credits(&batch).await.unwrap();
                    for (request, outcome) in batch.iter().zip(outcomes) {
                        if let Some(Spend::Spent { remaining }) = outcome {
                            assert!(remaining >= 0);
                            spent[usize::from(request.key_id == "key_b")] += 1;
                        }
                    }
                }
                spent
            }));
        }
        let mut spent = [0i64; 2];
        for task in tasks {
            let s = task.await.unwrap();
            spent[0] += s[0];
            spent[1] += s[1];
        }
        // 16 tasks x 20 rounds ask for 640 credits of `key_a` and 320 of `key_b`: both run dry.
        assert_eq!(spent, [100, 100]);
        for id in ["key_a", "key_b"] {
            let credits = nodes[1].get_credits(id).await.unwrap().unwrap();
            assert_eq!(credits.remaining, Some(0));
        }
    })
    .await;
}

#[tokio::test]
async fn spends_in_one_batch_apply_in_request_order_per_key() {
    with_schema("batch_order", |schema| async move {
        let store = schema.node().await;
        create_api(&store).await;
        store.create_key(&new_key("key_b", limited(3), None), &[], &RbacEvents).await.unwrap();
        store.create_key(&new_key("key_a", Credits::UNLIMITED, None), &[], &RbacEvents).await.unwrap();
        let batch = [("key_b", 2), ("key_a", 1), ("key_b", 2), ("key_gone", 1), ("key_b", 0)]
            .map(|(key_id, cost)| SpendRequest { key_id: key_id.into(), cost });
        let outcomes = store.spend_credits(&batch).await.unwrap();
        assert_eq!(
            outcomes,
            vec![
                Some(Spend::Spent { remaining: 1 }),
                None,
                Some(Spend::Insufficient { remaining: 1 }),
                None,
                Some(Spend::Spent { remaining: 1 }),
            ]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_default_workspace_bootstraps_agree() {
    with_schema("default_workspace", |schema| async move {
        let nodes = [schema.node().await, schema.node().await];
        let mut tasks = Vec::new();
        for t in 0..16 {
            let node = nodes[t % 2].clone();
            tasks.push(tokio::spawn(async move {
                let candidate = keyway_store::Workspace {
                    id: format!("ws_candidate{t}"),
                    name: "default".into(),
                    enabled: true,
                    created_at: 1,
                };
                node.ensure_default_workspace(&candidate).await.unwrap()
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            winners.push(task.await.unwrap().id);
        }
        winners.dedup();
        assert_eq!(winners.len(), 1, "all callers get the same workspace");
        for t in 0..16 {
            let id = format!("ws_candidate{t}");
            let stored = nodes[0].get_workspace(&id).await.unwrap();
            assert_eq!(stored.is_some(), id == winners[0], "only the winner is stored");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_keys_with_one_external_id_share_one_identity() {
    with_schema("identity_upsert", |schema| async move {
        let nodes = [schema.node().await, schema.node().await];
        create_api(&nodes[0]).await;
        let mut tasks = Vec::new();
        for t in 0..12 {
            let node = nodes[t % 2].clone();
            tasks.push(tokio::spawn(async move {
                let id = format!("key_{t}");
                node.create_key(&new_key(&id, Credits::UNLIMITED, Some("user_1")), &[], &RbacEvents).await.unwrap();
                node.get_key(WORKSPACE, &id).await.unwrap().unwrap()
            }));
        }
        let mut identities = Vec::new();
        for task in tasks {
            identities.push(task.await.unwrap().identity.expect("linked").id);
        }
        identities.dedup();
        assert_eq!(identities.len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refill_run_by_two_nodes_at_once_refills_each_key_once() {
    with_schema("refill_race", |schema| async move {
        let nodes = [schema.node().await, schema.node().await];
        create_api(&nodes[0]).await;
        let daily = Credits { remaining: Some(0), refill: Some(Refill { amount: 10, day: None }) };
        for k in 0..50 {
            nodes[0].create_key(&new_key(&format!("key_{k:02}"), daily, None), &[], &RbacEvents).await.unwrap();
        }
        let date = NaiveDate::from_ymd_opt(2026, 3, 17).unwrap();
        let runs = nodes.map(|node| {
            let node: Arc<dyn keyway_store::Store> = Arc::new(node);
            tokio::spawn(async move { run_refill(&node, date).await })
        });
        let mut refilled = Vec::new();
        for run in runs {
            refilled.extend(run.await.unwrap().into_iter().map(|(key_id, _)| key_id));
        }
        refilled.sort();
        let expected: Vec<String> = (0..50).map(|k| format!("key_{k:02}")).collect();
        assert_eq!(refilled, expected);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrations_are_idempotent_and_safe_to_run_concurrently() {
    with_schema("migrations", |schema| async move {
        let store = schema.node().await;
        store.migrate().await.unwrap();
        let runs =
            [schema.node().await, schema.node().await].map(|node| tokio::spawn(async move { node.migrate().await }));
        for run in runs {
            run.await.unwrap().unwrap();
        }
        assert!(!store.any_root_key().await.unwrap());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_namespace_creates_from_two_nodes_make_one_namespace() {
    with_schema("namespace_race", |schema| async move {
        let nodes = [schema.node().await, schema.node().await];
        let mut tasks = Vec::new();
        for t in 0..16 {
            let node = nodes[t % 2].clone();
            tasks.push(tokio::spawn(async move {
                let candidate = Namespace {
                    id: format!("rlns_candidate{t:02}"),
                    workspace_id: WORKSPACE.into(),
                    name: "api.requests".into(),
                    created_at: 1,
                    deleted_at: None,
                };
                node.create_namespace(&candidate, &[audit_event("ratelimitNamespace.create")]).await.unwrap()
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            winners.push(task.await.unwrap());
        }
        winners.dedup();
        assert_eq!(winners.len(), 1, "every caller gets the same namespace");
        let found = nodes[1].find_namespace(WORKSPACE, "api.requests").await.unwrap();
        assert_eq!(found.as_ref(), Some(&winners[0]));
        let events = nodes[0].list_audit_events(WORKSPACE, 100).await.unwrap();
        assert_eq!(events.len(), 1, "only the winner audits");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_set_override_of_one_identifier_keeps_one_row() {
    with_schema("override_race", |schema| async move {
        let nodes = [schema.node().await, schema.node().await];
        let namespace = Namespace {
            id: "rlns_test".into(),
            workspace_id: WORKSPACE.into(),
            name: "api.requests".into(),
            created_at: 1,
            deleted_at: None,
        };
        nodes[0].create_namespace(&namespace, &[]).await.unwrap();
        let mut tasks = Vec::new();
        for t in 0..16i64 {
            let node = nodes[usize::try_from(t).unwrap() % 2].clone();
            tasks.push(tokio::spawn(async move {
                let over = Override {
                    id: format!("rlor_candidate{t:02}"),
                    workspace_id: WORKSPACE.into(),
                    namespace_id: "rlns_test".into(),
                    identifier: "user_*".into(),
                    limit: t,
                    duration: 60_000,
                    created_at: 1,
                };
                node.set_override(&over, &[audit_event("ratelimit.set_override")]).await.unwrap()
            }));
        }
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap().id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "every set answers with the one row's id");
        let page = PageRequest { cursor: String::new(), limit: 10 };
        let stored = nodes[1].list_overrides("rlns_test", &page).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].id, ids[0]);
        // Every set changed the row, so every set is audited.
        assert_eq!(nodes[0].list_audit_events(WORKSPACE, 100).await.unwrap().len(), 16);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_identity_creates_with_one_external_id_have_one_winner() {
    with_schema("identity_race", |schema| async move {
        let nodes = [schema.node().await, schema.node().await];
        let mut tasks = Vec::new();
        for t in 0..16 {
            let node = nodes[t % 2].clone();
            tasks.push(tokio::spawn(async move {
                let identity = NewIdentity {
                    id: format!("id_candidate{t:02}"),
                    workspace_id: WORKSPACE.into(),
                    external_id: "user_1".into(),
                    meta: None,
                    ratelimits: Vec::new(),
                    created_at: 1,
                };
                node.create_identity(&identity, &[audit_event("identity.create")]).await.map(|()| identity.id)
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(id) => winners.push(id),
                Err(StoreError::Conflict(_)) => {}
                Err(e) => panic!("a losing create must be a conflict, got {e:?}"),
            }
        }
        assert_eq!(winners.len(), 1);
        let found = nodes[1].find_identity(WORKSPACE, "user_1").await.unwrap().expect("the winner is live");
        assert_eq!(found.id, winners[0]);
        assert_eq!(nodes[0].list_audit_events(WORKSPACE, 100).await.unwrap().len(), 1, "losers write no audit");
    })
    .await;
}

/// Permissions are created on first use by whichever write names them first. Writers on several
/// nodes adding the same new slugs (in different orders and spellings) must all succeed, without
/// deadlocking, and create each permission once: one row, one `permission.create` event.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_adds_of_one_new_slug_create_it_once() {
    with_schema("rbac_auto_create", |schema| async move {
        let nodes = [schema.node().await, schema.node().await];
        create_api(&nodes[0]).await;
        for k in 0..8 {
            nodes[0]
                .create_key(&new_key(&format!("key_{k}"), Credits::UNLIMITED, None), &[], &RbacEvents)
                .await
                .unwrap();
        }
        let mut tasks = Vec::new();
        for t in 0..16 {
            let node = nodes[t % 2].clone();
            tasks.push(tokio::spawn(async move {
                // Two writers per key, so the key's row lock is contended too.
                let key_id = format!("key_{}", t % 8);
                let shared = if t % 2 == 0 { ["shared.one", "SHARED.TWO"] } else { ["Shared.Two", "shared.ONE"] };
                let slugs = vec![shared[0].to_string(), shared[1].to_string(), format!("own.{t}")];
                let write = LinkWrite {
                    workspace_id: WORKSPACE.into(),
                    owner_id: key_id,
                    change: LinkChange::Add,
                    new_permission_ids: slugs.iter().map(|_| new_id(IdKind::Permission)).collect(),
                    items: slugs,
                    now: 5,
                };
                node.change_key_permissions(&write, &RbacEvents).await.unwrap().expect("the key is live")
            }));
        }
        let mut shared_ids = Vec::new();
        for task in tasks {
            let held = task.await.unwrap();
            shared_ids
                .extend(held.iter().filter(|p| p.slug.to_lowercase().starts_with("shared")).map(|p| p.id.clone()));
        }
        shared_ids.sort();
        shared_ids.dedup();
        assert_eq!(shared_ids.len(), 2, "every writer holds the same two shared permissions");
        let page = PageRequest { cursor: String::new(), limit: 100 };
        assert_eq!(nodes[1].list_permissions(WORKSPACE, None, &page).await.unwrap().len(), 2 + 16);
        let events = nodes[0].list_audit_events(WORKSPACE, 1000).await.unwrap();
        let count = |name: &str| events.iter().filter(|e| e.event == name).count();
        assert_eq!(count("permission.create"), 2 + 16, "each permission is reported by the write that made it");
        // Per key: the first writer links both shared permissions and its own, the second only its own.
        assert_eq!(count("rbac.link"), 8 * 4);
        for k in 0..8 {
            let key = nodes[k % 2].get_key(WORKSPACE, &format!("key_{k}")).await.unwrap().unwrap();
            assert_eq!(key.permissions.len(), 4, "{:?}", key.permissions);
        }
    })
    .await;
}
