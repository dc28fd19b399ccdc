//! The table of reference §10.4: which root permissions each endpoint requires. Every handler
//! asks here and nowhere else, so the table can be read (and reviewed against the reference) in
//! one place. How a denial is answered (403, a masked 404, or verify's `200 NOT_FOUND`) is the
//! caller's part, noted on each function.
//!
//! Tuple leaves (`api.<id>.<action>`) match exactly, with `*` as a literal id offered as an
//! alternative; resource-name leaves (`unkey:v1:<ws>:<path>#<action>`) are matched against
//! resource-name grants as patterns (see [`crate::root_permissions`]).

use crate::root_permissions::Requirement;

fn leaf(p: impl Into<String>) -> Requirement {
    Requirement::Leaf(p.into())
}

fn any(items: Vec<Requirement>) -> Requirement {
    Requirement::Any(items)
}

fn all(items: Vec<Requirement>) -> Requirement {
    Requirement::All(items)
}

/// The resources a key endpoint acts on.
#[derive(Debug, Clone, Copy)]
pub struct KeyTarget<'a> {
    pub workspace_id: &'a str,
    pub api_id: &'a str,
    pub keyspace_id: &'a str,
    pub key_id: &'a str,
}

/// `api.*.<action> | api.<apiId>.<action>`: getApi, deleteApi (403 before the lookup).
pub fn api(api_id: &str, action: &str) -> Requirement {
    any(vec![leaf(format!("api.*.{action}")), leaf(format!("api.{api_id}.{action}"))])
}

/// apis.setIpAllowlist, a Keyway extension (403 before the lookup, like getApi).
pub fn update_api(api_id: &str) -> Requirement {
    api(api_id, "update_api")
}

/// apis.createApi (403).
pub fn create_api() -> Requirement {
    leaf("api.*.create_api")
}

/// keys.createKey and rerollKey: denied as a masked 404 by createKey, 403 by rerollKey.
pub fn create_key(workspace_id: &str, api_id: &str, keyspace_id: &str) -> Requirement {
    any(vec![
        leaf("api.*.create_key"),
        leaf(format!("api.{api_id}.create_key")),
        leaf(format!("unkey:v1:{workspace_id}:keyspaces/{keyspace_id}#create_key")),
    ])
}

/// keys.migrateKeys: tuple permissions only, as in Unkey (403).
pub fn migrate_keys(api_id: &str) -> Requirement {
    any(vec![leaf("api.*.create_key"), leaf(format!("api.{api_id}.create_key"))])
}

/// migrations.createMigration (Keyway's own endpoint, 403): a migration only lets its holder
/// import keys, which needs `create_key` on every API it names, so any-API `create_key` suffices.
pub fn create_migration() -> Requirement {
    leaf("api.*.create_key")
}

/// One action on one key: `verify_key` (denied as `200 NOT_FOUND`), `read_key` (403; whoami masks
/// it as 404), `update_key` (updateKey, updateCredits, removeRoles, setRoles), `delete_key`,
/// `decrypt_key` (403).
pub fn key(target: KeyTarget<'_>, action: &str) -> Requirement {
    let KeyTarget { workspace_id, api_id, keyspace_id, key_id } = target;
    any(vec![
        leaf(format!("api.*.{action}")),
        leaf(format!("api.{api_id}.{action}")),
        leaf(format!("unkey:v1:{workspace_id}:keyspaces/{keyspace_id}/keys/{key_id}#{action}")),
    ])
}

/// A key permission change: `update_key` by resource name, or `update_key` by tuple together with
/// every one of the named `rbac.*` actions (addPermissions, removePermissions, setPermissions,
/// addRoles; 403).
fn key_rbac(target: KeyTarget<'_>, rbac_actions: &[&str]) -> Requirement {
    let KeyTarget { workspace_id, api_id, keyspace_id, key_id } = target;
    let mut tuple = vec![any(vec![leaf("api.*.update_key"), leaf(format!("api.{api_id}.update_key"))])];
    tuple.extend(rbac_actions.iter().map(|a| leaf(format!("rbac.*.{a}"))));
    any(vec![leaf(format!("unkey:v1:{workspace_id}:keyspaces/{keyspace_id}/keys/{key_id}#update_key")), all(tuple)])
}

/// keys.addPermissions.
pub fn add_permissions_to_key(target: KeyTarget<'_>) -> Requirement {
    key_rbac(target, &["add_permission_to_key"])
}

/// keys.removePermissions.
pub fn remove_permissions_from_key(target: KeyTarget<'_>) -> Requirement {
    key_rbac(target, &["remove_permission_from_key"])
}

/// keys.setPermissions.
pub fn set_key_permissions(target: KeyTarget<'_>) -> Requirement {
    key_rbac(target, &["add_permission_to_key", "remove_permission_from_key"])
}

/// keys.addRoles. (removeRoles and setRoles need only [`key`] `update_key`, as in Unkey.)
pub fn add_roles_to_key(target: KeyTarget<'_>) -> Requirement {
    key_rbac(target, &["add_role_to_key"])
}

/// apis.listKeys: reading the API and its keys, by tuples or by resource names (masked 404).
pub fn list_keys(workspace_id: &str, api_id: &str, keyspace_id: &str) -> Requirement {
    any(vec![
        all(vec![api(api_id, "read_key"), api(api_id, "read_api")]),
        all(vec![
            leaf(format!("unkey:v1:{workspace_id}:keyspaces/{keyspace_id}/keys/*#read_key")),
            leaf(format!("unkey:v1:{workspace_id}:keyspaces/{keyspace_id}#read_keyspace")),
        ]),
    ])
}

/// An action on every key of an API: `encrypt_key` (createKey with `recoverable`, a masked 404;
/// rerollKey of a recoverable key, 403) and `decrypt_key` (listKeys with `decrypt`, 403). getKey's
/// `decrypt_key` names the one key: see [`key`].
pub fn keyspace_keys(workspace_id: &str, api_id: &str, keyspace_id: &str, action: &str) -> Requirement {
    any(vec![
        leaf(format!("api.*.{action}")),
        leaf(format!("api.{api_id}.{action}")),
        leaf(format!("unkey:v1:{workspace_id}:keyspaces/{keyspace_id}/keys/*#{action}")),
    ])
}

/// An `rbac.*.<action>` permission: createPermission, get/listPermissions (`read_permission`),
/// deletePermission, createRole, get/listRoles (`read_role`), deleteRole (403).
pub fn rbac(action: &str) -> Requirement {
    leaf(format!("rbac.*.{action}"))
}

/// Creating the permissions a write names but the workspace lacks (add/setPermissions,
/// createRole, setRolePermissions; 403). createKey creates them without it, as Unkey does.
pub fn create_missing_permissions(workspace_id: &str) -> Requirement {
    any(vec![leaf(format!("unkey:v1:{workspace_id}:rbac/permissions/*#create_permission")), rbac("create_permission")])
}

/// permissions.createRole: `add_permission_to_role` too when it names permissions (403).
pub fn create_role(with_permissions: bool) -> Requirement {
    if with_permissions { all(vec![rbac("create_role"), rbac("add_permission_to_role")]) } else { rbac("create_role") }
}

/// permissions.setRolePermissions (403).
pub fn set_role_permissions() -> Requirement {
    all(vec![rbac("add_permission_to_role"), rbac("remove_permission_from_role")])
}

/// Identity endpoints: `identity.*.<action>`, `identity.<id>.<action>` when the identity is
/// known, or the identities resource name (403).
pub fn identity(workspace_id: &str, identity_id: Option<&str>, action: &str) -> Requirement {
    let mut alternatives = vec![leaf(format!("identity.*.{action}"))];
    if let Some(id) = identity_id {
        alternatives.push(leaf(format!("identity.{id}.{action}")));
    }
    alternatives.push(leaf(format!("unkey:v1:{workspace_id}:projects/*/identities/*#{action}")));
    any(alternatives)
}

/// `ratelimit.*.<action> | ratelimit.<namespaceId>.<action>`: setOverride, listOverrides,
/// deleteOverride (403).
pub fn namespace(namespace_id: &str, action: &str) -> Requirement {
    any(vec![leaf(format!("ratelimit.*.{action}")), leaf(format!("ratelimit.{namespace_id}.{action}"))])
}

/// ratelimit.limit / multiLimit: `limit` on every namespace involved (403).
pub fn limit(namespace_ids: &[&str]) -> Requirement {
    any(vec![
        leaf("ratelimit.*.limit"),
        all(namespace_ids.iter().map(|id| leaf(format!("ratelimit.{id}.limit"))).collect()),
    ])
}

/// Creating a namespace on first use by ratelimit.limit (403).
pub fn create_namespace() -> Requirement {
    leaf("ratelimit.*.create_namespace")
}

/// ratelimit.getOverride (masked 404).
pub fn read_override(workspace_id: &str, namespace_id: &str, override_id: &str) -> Requirement {
    any(vec![
        leaf(format!(
            "unkey:v1:{workspace_id}:ratelimits/namespaces/{namespace_id}/overrides/{override_id}#read_override"
        )),
        namespace(namespace_id, "read_override"),
    ])
}

/// Keyway's root-key management: `unkey:v1:<ws>:rootKeys/<target>#<action>`, where `target` is
/// a root key id or `*` (403).
pub fn root_keys(workspace_id: &str, target: &str, action: &str) -> Requirement {
    leaf(format!("unkey:v1:{workspace_id}:rootKeys/{target}#{action}"))
}

/// auditLogs.list, a Keyway extension: `audit_log.*.read_event` or the resource name
/// `unkey:v1:<ws>:auditLog#read_event` (403). One grant reads the whole log: its events name
/// resources of every kind, so a per-resource grant could not say which events it covers.
pub fn read_audit_log(workspace_id: &str) -> Requirement {
    any(vec![leaf("audit_log.*.read_event"), leaf(format!("unkey:v1:{workspace_id}:auditLog#read_event"))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root_permissions::Grants;

    const TARGET: KeyTarget<'static> =
        KeyTarget { workspace_id: "ws_1", api_id: "api_1", keyspace_id: "ks_1", key_id: "key_1" };

    #[test]
    fn keyspace_keys_accepts_the_wildcard_tuple_the_api_tuple_or_the_keyspace_resource_name() {
        let encrypt = keyspace_keys("ws_1", "api_1", "ks_1", "encrypt_key");
        assert!(Grants::new(["api.*.encrypt_key"]).satisfies(&encrypt));
        assert!(Grants::new(["api.api_1.encrypt_key"]).satisfies(&encrypt));
        assert!(Grants::new(["unkey:v1:ws_1:keyspaces/ks_1/keys/*#encrypt_key"]).satisfies(&encrypt));
        assert!(!Grants::new(["api.api_2.encrypt_key", "api.*.decrypt_key"]).satisfies(&encrypt));
        assert!(!Grants::new(["unkey:v1:ws_1:keyspaces/ks_2/keys/*#encrypt_key"]).satisfies(&encrypt));
    }

    #[test]
    fn key_rbac_needs_update_key_and_the_rbac_action_unless_granted_by_resource_name() {
        let add = add_permissions_to_key(TARGET);
        assert!(!Grants::new(["api.*.update_key"]).satisfies(&add));
        assert!(!Grants::new(["rbac.*.add_permission_to_key"]).satisfies(&add));
        assert!(Grants::new(["api.api_1.update_key", "rbac.*.add_permission_to_key"]).satisfies(&add));
        assert!(!Grants::new(["api.api_2.update_key", "rbac.*.add_permission_to_key"]).satisfies(&add));
        assert!(Grants::new(["unkey:v1:ws_1:keyspaces/ks_1/keys/*#update_key"]).satisfies(&add));
        let set = set_key_permissions(TARGET);
        assert!(!Grants::new(["api.*.update_key", "rbac.*.add_permission_to_key"]).satisfies(&set));
        assert!(
            Grants::new(["api.*.update_key", "rbac.*.add_permission_to_key", "rbac.*.remove_permission_from_key"])
                .satisfies(&set)
        );
    }

    #[test]
    fn migrate_keys_takes_tuples_only() {
        let migrate = migrate_keys("api_1");
        assert!(Grants::new(["api.api_1.create_key"]).satisfies(&migrate));
        assert!(Grants::new(["api.*.create_key"]).satisfies(&migrate));
        assert!(!Grants::new(["api.api_2.create_key"]).satisfies(&migrate));
        assert!(!Grants::new(["unkey:v1:ws_1:keyspaces/ks_1#create_key"]).satisfies(&migrate));
        assert!(!Grants::new(["api.api_1.create_key"]).satisfies(&create_migration()));
    }

    #[test]
    fn denial_detail_names_the_alternatives() {
        assert_eq!(
            add_roles_to_key(TARGET).to_string(),
            "Missing one of these permissions: unkey:v1:ws_1:keyspaces/ks_1/keys/key_1#update_key or \
             ((api.*.update_key or api.api_1.update_key) and rbac.*.add_role_to_key)"
        );
        assert_eq!(create_role(false).to_string(), "Missing permission: 'rbac.*.create_role'");
    }

    #[test]
    fn creating_missing_permissions_by_tuple_or_resource_name() {
        let r = create_missing_permissions("ws_1");
        assert!(Grants::new(["rbac.*.create_permission"]).satisfies(&r));
        assert!(Grants::new(["unkey:v1:ws_1:rbac/**#create_permission"]).satisfies(&r));
        assert!(!Grants::new(["unkey:v1:ws_2:rbac/**#create_permission"]).satisfies(&r));
    }

    #[test]
    fn audit_log_reads_need_the_audit_grant_of_the_workspace() {
        let read = read_audit_log("ws_1");
        assert!(Grants::new(["audit_log.*.read_event"]).satisfies(&read));
        assert!(Grants::new(["unkey:v1:ws_1:auditLog#read_event"]).satisfies(&read));
        assert!(Grants::new(crate::root_permissions::all_permissions("ws_1")).satisfies(&read));
        assert!(!Grants::new(["unkey:v1:ws_2:**#*", "api.*.read_api", "audit_log.ws_1.read_event"]).satisfies(&read));
    }
}
