//! What the conformance cases share: a fixed time, rows to insert, and small helpers.

use crate::{
    Actor, Api, AuditEvent, AuditTarget, Identity, Key, LinkChange, LinkWrite, Namespace, NewIdentity, NewKey,
    Override, PageRequest, RatelimitConfig, RootKey, Store, Workspace,
};
use keyway_domain::credits::{Credits, Refill};
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use std::sync::Arc;

pub(super) const T0: UnixMs = 1_767_225_600_000;

pub(super) fn workspace(enabled: bool) -> Workspace {
    Workspace { id: new_id(IdKind::Workspace), name: "acme".into(), enabled, created_at: T0 }
}

pub(super) fn random_hash() -> KeyHash {
    KeyHash::of(&new_id(IdKind::Key))
}

pub(super) fn root_key(workspace_id: &str) -> RootKey {
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
        new_identity_id: new_id(IdKind::Identity),
        enabled: true,
        expires: None,
        credits: Credits::UNLIMITED,
        ratelimits: vec![],
        permissions: vec![],
        new_permission_ids: vec![],
        roles: vec![],
        created_at: T0,
    }
}

pub(super) fn limited(remaining: i64, refill: Option<Refill>) -> Credits {
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

pub(super) fn meta(value: serde_json::Value) -> crate::JsonObject {
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

/// Inserts the key, creating the permissions it names that the workspace lacks.
pub(super) async fn insert(store: &Arc<dyn Store>, key: NewKey) -> NewKey {
    let key = with_permission_ids(key);
    store.create_key(&key, &[], &changes(&key.workspace_id)).await.unwrap();
    key
}

/// Ids for the permissions a write naming `slugs` may create, minted as core mints them (one per
/// slug); none when it may not create.
pub(super) fn permission_ids(slugs: &[String], create_missing: bool) -> Vec<String> {
    if !create_missing {
        return vec![];
    }
    slugs.iter().map(|_| new_id(IdKind::Permission)).collect()
}

/// The key, with ids for the permissions it names (a new key creates the ones the workspace lacks).
pub(super) fn with_permission_ids(key: NewKey) -> NewKey {
    NewKey { new_permission_ids: permission_ids(&key.permissions, true), ..key }
}

/// A change of the owner's links at `T0`, allowed to create the permissions it names when
/// `create_missing`.
pub(super) fn link_write(
    workspace_id: &str,
    owner_id: &str,
    change: LinkChange,
    items: &[String],
    create_missing: bool,
) -> LinkWrite {
    LinkWrite {
        workspace_id: workspace_id.into(),
        owner_id: owner_id.into(),
        change,
        items: items.to_vec(),
        new_permission_ids: permission_ids(items, create_missing),
        now: T0,
    }
}

pub(super) async fn events(store: &Arc<dyn Store>, workspace_id: &str) -> Vec<AuditEvent> {
    store.list_audit_events(workspace_id, 1000).await.unwrap()
}

pub(super) async fn ensure_default(store: &Arc<dyn Store>) -> Workspace {
    store.ensure_default_workspace(&workspace(true)).await.unwrap()
}

pub(super) fn assert_key_matches(key: &Key, new: &NewKey) {
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
pub(super) fn by_name(mut ratelimits: Vec<RatelimitConfig>) -> Vec<RatelimitConfig> {
    ratelimits.sort_by(|a, b| a.name.cmp(&b.name));
    ratelimits
}

pub(super) fn new_identity(workspace_id: &str, external_id: &str) -> NewIdentity {
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
pub(super) fn identity_of(new: &NewIdentity) -> Identity {
    Identity {
        id: new.id.clone(),
        workspace_id: new.workspace_id.clone(),
        external_id: new.external_id.clone(),
        meta: new.meta.clone().filter(|m| !m.is_empty()),
        ratelimits: by_name(new.ratelimits.clone()),
    }
}

pub(super) async fn create_identity(store: &Arc<dyn Store>, identity: NewIdentity) -> NewIdentity {
    store.create_identity(&identity, &[]).await.unwrap();
    identity
}

pub(super) fn namespace(workspace_id: &str, name: &str) -> Namespace {
    Namespace {
        id: new_id(IdKind::Namespace),
        workspace_id: workspace_id.into(),
        name: name.into(),
        created_at: T0,
        deleted_at: None,
    }
}

pub(super) fn limit_override(namespace: &Namespace, identifier: &str, limit: i64) -> Override {
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
