//! The walk of reference §10.4: every endpoint, called by a root key with no permissions, by one
//! with the minimal set minus any one of its permissions, by one whose permissions name another
//! resource of the same kind (another API, namespace or identity), and by one with exactly the
//! minimal set. Each gets the documented answer: 403, a masked 404, or verify's `200 NOT_FOUND`
//! when denied, and success with the minimal set. A last walk calls every endpoint that names a
//! resource with an administrator root key of another workspace, which must see nothing.

use crate::app::{Reply, TestApp, spawn};
use serde_json::{Value, json};

/// The resources each case acts on, fresh per case so destructive calls cannot disturb others.
struct World {
    ws: String,
    api: String,
    other_api: String,
    key_id: String,
    key: String,
    permission: String,
    role: String,
    role_id: String,
    identity_id: String,
    other_identity_id: String,
    namespace_id: String,
    other_namespace_id: String,
    root_key_id: String,
    migration_id: String,
}

async fn world(app: &TestApp, n: usize) -> World {
    let api = app.create_api().await;
    let other_api = app.create_api().await;
    let permission = format!("docs.read.{n}");
    let role = format!("reader-{n}");
    app.call("permissions.createRole", json!({"name": role, "permissions": [permission]})).await.assert_ok();
    let role_id =
        app.call("permissions.getRole", json!({"role": role})).await.assert_ok()["id"].as_str().unwrap().into();
    let (key_id, key) = app.create_key(&api, json!({"permissions": [permission], "credits": {"remaining": 100}})).await;
    let identity = |external: String| async move {
        let reply = app.call("identities.createIdentity", json!({"externalId": external})).await;
        reply.assert_ok()["identityId"].as_str().unwrap().to_string()
    };
    let identity_id = identity(format!("user-{n}")).await;
    let other_identity_id = identity(format!("other-user-{n}")).await;
    let admin = app.keyway.authenticate(&app.root_key).await.unwrap();
    let ws = admin.workspace_id().to_string();
    // A namespace (created by its first limit) with one override; the API does not expose
    // namespace ids, so the store tells.
    let namespace = |name: String| {
        let ws = ws.clone();
        async move {
            let limit = json!({"namespace": name, "identifier": "x", "limit": 5, "duration": 60000});
            app.call("ratelimit.limit", limit).await.assert_ok();
            let body = json!({"namespace": name, "identifier": "seed", "limit": 10, "duration": 60000});
            app.call("ratelimit.setOverride", body).await.assert_ok();
            app.store.find_namespace(&ws, &name).await.unwrap().expect("namespace exists").id
        }
    };
    let namespace_id = namespace(format!("ns-{n}")).await;
    let other_namespace_id = namespace(format!("other-ns-{n}")).await;
    let created =
        app.call("rootKeys.createKey", json!({"permissions": ["api.*.read_api"], "name": format!("target-{n}")})).await;
    let root_key_id = created.assert_ok()["keyId"].as_str().unwrap().to_string();
    let migration = app.call("migrations.createMigration", json!({"algorithm": "sha256"})).await;
    let migration_id = migration.assert_ok()["migrationId"].as_str().unwrap().to_string();
    World {
        ws,
        api,
        other_api,
        key_id,
        key,
        permission,
        role,
        role_id,
        identity_id,
        other_identity_id,
        namespace_id,
        other_namespace_id,
        root_key_id,
        migration_id,
    }
}

/// How an endpoint answers a root key that lacks the permission.
#[derive(Debug, Clone, Copy)]
enum Denial {
    Forbidden,
    /// A 404 of this type, as if the resource did not exist.
    Masked(&'static str),
    /// verifyKey: `200 {valid:false, code:NOT_FOUND}`.
    VerifyNotFound,
}

struct Case {
    op: &'static str,
    body: fn(&World) -> Value,
    /// The minimal permission set.
    minimal: fn(&World) -> Vec<String>,
    /// The minimal set with its resource id swapped for another resource of the same kind, where
    /// the endpoint has such an id.
    other: Option<fn(&World) -> Vec<String>>,
    denial: Denial,
}

fn p(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn cases() -> Vec<Case> {
    use Denial::*;
    let api_not_found = Masked("unkey/data/api_not_found");
    vec![
        Case {
            op: "apis.createApi",
            body: |_| json!({"name": "walked"}),
            minimal: |_| p(&["api.*.create_api"]),
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "apis.getApi",
            body: |w| json!({"apiId": w.api}),
            minimal: |w| vec![format!("api.{}.read_api", w.api)],
            other: Some(|w| vec![format!("api.{}.read_api", w.other_api)]),
            denial: Forbidden,
        },
        Case {
            op: "apis.listKeys",
            body: |w| json!({"apiId": w.api}),
            minimal: |w| vec![format!("api.{}.read_api", w.api), format!("api.{}.read_key", w.api)],
            other: Some(|w| vec![format!("api.{}.read_api", w.other_api), format!("api.{}.read_key", w.other_api)]),
            denial: api_not_found,
        },
        Case {
            op: "apis.deleteApi",
            body: |w| json!({"apiId": w.api}),
            minimal: |w| vec![format!("api.{}.delete_api", w.api)],
            other: Some(|w| vec![format!("api.{}.delete_api", w.other_api)]),
            denial: Forbidden,
        },
        Case {
            op: "apis.setIpAllowlist",
            body: |w| json!({"apiId": w.api, "ipAllowlist": ["10.0.0.0/8"]}),
            minimal: |w| vec![format!("api.{}.update_api", w.api)],
            other: Some(|w| vec![format!("api.{}.update_api", w.other_api)]),
            denial: Forbidden,
        },
        Case {
            op: "keys.createKey",
            body: |w| json!({"apiId": w.api}),
            minimal: |w| vec![format!("api.{}.create_key", w.api)],
            other: Some(|w| vec![format!("api.{}.create_key", w.other_api)]),
            denial: api_not_found,
        },
        Case {
            op: "keys.migrateKeys",
            // The same hash each time: the calls after the first report it in `failed`, still 200.
            body: |w| {
                let hash = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=";
                json!({"migrationId": w.migration_id, "apiId": w.api, "keys": [{"hash": hash}]})
            },
            minimal: |w| vec![format!("api.{}.create_key", w.api)],
            other: Some(|w| vec![format!("api.{}.create_key", w.other_api)]),
            denial: Forbidden,
        },
        Case {
            op: "migrations.createMigration",
            body: |_| json!({"algorithm": "bcrypt"}),
            minimal: |_| p(&["api.*.create_key"]),
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "keys.getKey",
            body: |w| json!({"keyId": w.key_id}),
            minimal: |w| vec![format!("api.{}.read_key", w.api)],
            other: Some(|w| vec![format!("api.{}.read_key", w.other_api)]),
            denial: Forbidden,
        },
        Case {
            op: "keys.whoami",
            body: |w| json!({"key": w.key}),
            minimal: |w| vec![format!("api.{}.read_key", w.api)],
            other: Some(|w| vec![format!("api.{}.read_key", w.other_api)]),
            denial: Masked("unkey/data/key_not_found"),
        },
        Case {
            op: "keys.updateKey",
            body: |w| json!({"keyId": w.key_id, "name": "renamed"}),
            minimal: |w| vec![format!("api.{}.update_key", w.api)],
            other: Some(|w| vec![format!("api.{}.update_key", w.other_api)]),
            denial: Forbidden,
        },
        Case {
            op: "keys.updateCredits",
            body: |w| json!({"keyId": w.key_id, "operation": "set", "value": 5}),
            minimal: |w| vec![format!("api.{}.update_key", w.api)],
            other: Some(|w| vec![format!("api.{}.update_key", w.other_api)]),
            denial: Forbidden,
        },
        Case {
            op: "keys.deleteKey",
            body: |w| json!({"keyId": w.key_id}),
            minimal: |w| vec![format!("api.{}.delete_key", w.api)],
            other: Some(|w| vec![format!("api.{}.delete_key", w.other_api)]),
            denial: Forbidden,
        },
        Case {
            op: "keys.rerollKey",
            body: |w| json!({"keyId": w.key_id, "expiration": 60_000}),
            minimal: |w| vec![format!("api.{}.create_key", w.api)],
            other: Some(|w| vec![format!("api.{}.create_key", w.other_api)]),
            denial: Forbidden,
        },
        Case {
            op: "keys.verifyKey",
            body: |w| json!({"key": w.key}),
            minimal: |w| vec![format!("api.{}.verify_key", w.api)],
            other: Some(|w| vec![format!("api.{}.verify_key", w.other_api)]),
            denial: VerifyNotFound,
        },
        Case {
            op: "keys.addPermissions",
            body: |w| json!({"keyId": w.key_id, "permissions": [w.permission]}),
            minimal: |w| vec![format!("api.{}.update_key", w.api), "rbac.*.add_permission_to_key".into()],
            other: Some(|w| vec![format!("api.{}.update_key", w.other_api), "rbac.*.add_permission_to_key".into()]),
            denial: Forbidden,
        },
        Case {
            op: "keys.removePermissions",
            body: |w| json!({"keyId": w.key_id, "permissions": [w.permission]}),
            minimal: |w| vec![format!("api.{}.update_key", w.api), "rbac.*.remove_permission_from_key".into()],
            other: Some(|w| {
                vec![format!("api.{}.update_key", w.other_api), "rbac.*.remove_permission_from_key".into()]
            }),
            denial: Forbidden,
        },
        Case {
            op: "keys.setPermissions",
            body: |w| json!({"keyId": w.key_id, "permissions": [w.permission]}),
            minimal: |w| {
                vec![
                    format!("api.{}.update_key", w.api),
                    "rbac.*.add_permission_to_key".into(),
                    "rbac.*.remove_permission_from_key".into(),
                ]
            },
            other: Some(|w| {
                vec![
                    format!("api.{}.update_key", w.other_api),
                    "rbac.*.add_permission_to_key".into(),
                    "rbac.*.remove_permission_from_key".into(),
                ]
            }),
            denial: Forbidden,
        },
        Case {
            op: "keys.addRoles",
            body: |w| json!({"keyId": w.key_id, "roles": [w.role]}),
            minimal: |w| vec![format!("api.{}.update_key", w.api), "rbac.*.add_role_to_key".into()],
            other: Some(|w| vec![format!("api.{}.update_key", w.other_api), "rbac.*.add_role_to_key".into()]),
            denial: Forbidden,
        },
        Case {
            op: "keys.removeRoles",
            body: |w| json!({"keyId": w.key_id, "roles": [w.role]}),
            minimal: |w| vec![format!("api.{}.update_key", w.api)],
            other: Some(|w| vec![format!("api.{}.update_key", w.other_api)]),
            denial: Forbidden,
        },
        Case {
            op: "keys.setRoles",
            body: |w| json!({"keyId": w.key_id, "roles": []}),
            minimal: |w| vec![format!("api.{}.update_key", w.api)],
            other: Some(|w| vec![format!("api.{}.update_key", w.other_api)]),
            denial: Forbidden,
        },
        Case {
            op: "permissions.createPermission",
            body: |_| json!({"name": "walked", "slug": "walked.perm"}),
            minimal: |_| p(&["rbac.*.create_permission"]),
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "permissions.getPermission",
            body: |w| json!({"permission": w.permission}),
            minimal: |_| p(&["rbac.*.read_permission"]),
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "permissions.listPermissions",
            body: |_| json!({}),
            minimal: |_| p(&["rbac.*.read_permission"]),
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "permissions.deletePermission",
            body: |w| json!({"permission": w.permission}),
            minimal: |_| p(&["rbac.*.delete_permission"]),
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "permissions.createRole",
            body: |w| json!({"name": "walked", "permissions": [w.permission]}),
            minimal: |_| p(&["rbac.*.create_role", "rbac.*.add_permission_to_role"]),
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "permissions.getRole",
            body: |w| json!({"role": w.role_id}),
            minimal: |_| p(&["rbac.*.read_role"]),
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "permissions.listRoles",
            body: |_| json!({}),
            minimal: |_| p(&["rbac.*.read_role"]),
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "permissions.deleteRole",
            body: |w| json!({"role": w.role_id}),
            minimal: |_| p(&["rbac.*.delete_role"]),
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "permissions.setRolePermissions",
            body: |w| json!({"roleId": w.role_id, "permissions": [w.permission]}),
            minimal: |_| p(&["rbac.*.add_permission_to_role", "rbac.*.remove_permission_from_role"]),
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "identities.createIdentity",
            body: |_| json!({"externalId": "walked"}),
            minimal: |_| p(&["identity.*.create_identity"]),
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "identities.getIdentity",
            body: |w| json!({"identity": w.identity_id}),
            minimal: |w| vec![format!("identity.{}.read_identity", w.identity_id)],
            other: Some(|w| vec![format!("identity.{}.read_identity", w.other_identity_id)]),
            denial: Forbidden,
        },
        Case {
            op: "identities.listIdentities",
            body: |_| json!({}),
            minimal: |_| p(&["identity.*.read_identity"]),
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "identities.updateIdentity",
            body: |w| json!({"identity": w.identity_id, "meta": {"a": 1}}),
            minimal: |_| p(&["identity.*.update_identity"]),
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "identities.deleteIdentity",
            body: |w| json!({"identity": w.identity_id}),
            minimal: |_| p(&["identity.*.delete_identity"]),
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "ratelimit.limit",
            body: |w| json!({"namespace": w.namespace_id, "identifier": "u", "limit": 5, "duration": 60000}),
            minimal: |w| vec![format!("ratelimit.{}.limit", w.namespace_id)],
            other: Some(|w| vec![format!("ratelimit.{}.limit", w.other_namespace_id)]),
            denial: Forbidden,
        },
        Case {
            op: "ratelimit.multiLimit",
            body: |w| {
                json!([
                    {"namespace": w.namespace_id, "identifier": "u", "limit": 5, "duration": 60000},
                    {"namespace": w.other_namespace_id, "identifier": "u", "limit": 5, "duration": 60000}
                ])
            },
            minimal: |w| {
                vec![format!("ratelimit.{}.limit", w.namespace_id), format!("ratelimit.{}.limit", w.other_namespace_id)]
            },
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "ratelimit.setOverride",
            body: |w| json!({"namespace": w.namespace_id, "identifier": "vip", "limit": 50, "duration": 60000}),
            minimal: |w| vec![format!("ratelimit.{}.set_override", w.namespace_id)],
            other: Some(|w| vec![format!("ratelimit.{}.set_override", w.other_namespace_id)]),
            denial: Forbidden,
        },
        Case {
            op: "ratelimit.getOverride",
            body: |w| json!({"namespace": w.namespace_id, "identifier": "seed"}),
            minimal: |w| vec![format!("ratelimit.{}.read_override", w.namespace_id)],
            other: Some(|w| vec![format!("ratelimit.{}.read_override", w.other_namespace_id)]),
            denial: Masked("unkey/data/ratelimit_override_not_found"),
        },
        Case {
            op: "ratelimit.listOverrides",
            body: |w| json!({"namespace": w.namespace_id}),
            minimal: |w| vec![format!("ratelimit.{}.read_override", w.namespace_id)],
            other: Some(|w| vec![format!("ratelimit.{}.read_override", w.other_namespace_id)]),
            denial: Forbidden,
        },
        Case {
            op: "ratelimit.deleteOverride",
            body: |w| json!({"namespace": w.namespace_id, "identifier": "seed"}),
            minimal: |w| vec![format!("ratelimit.{}.delete_override", w.namespace_id)],
            other: Some(|w| vec![format!("ratelimit.{}.delete_override", w.other_namespace_id)]),
            denial: Forbidden,
        },
        Case {
            op: "rootKeys.createKey",
            body: |_| json!({"permissions": []}),
            minimal: |w| vec![format!("unkey:v1:{}:rootKeys/*#write", w.ws)],
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "rootKeys.updateKey",
            body: |w| json!({"keyId": w.root_key_id, "name": "renamed"}),
            minimal: |w| vec![format!("unkey:v1:{}:rootKeys/{}#write", w.ws, w.root_key_id)],
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "rootKeys.deleteKey",
            body: |w| json!({"keyId": w.root_key_id}),
            minimal: |w| vec![format!("unkey:v1:{}:rootKeys/{}#delete", w.ws, w.root_key_id)],
            other: None,
            denial: Forbidden,
        },
        Case {
            op: "auditLogs.list",
            body: |w| json!({"resourceId": w.key_id}),
            minimal: |_| vec!["audit_log.*.read_event".into()],
            other: None,
            denial: Forbidden,
        },
    ]
}

#[track_caller]
fn assert_denied(reply: &Reply, denial: Denial, what: &str) {
    match denial {
        Denial::Forbidden => {
            assert_eq!(reply.status, 403, "{what}: {}", reply.body);
            assert_eq!(
                reply.error_type(),
                "https://unkey.com/docs/errors/unkey/authorization/insufficient_permissions",
                "{what}"
            );
        }
        Denial::Masked(type_suffix) => {
            assert_eq!(reply.status, 404, "{what}: {}", reply.body);
            assert_eq!(reply.error_type(), format!("https://unkey.com/docs/errors/{type_suffix}"), "{what}");
        }
        Denial::VerifyNotFound => {
            assert_eq!(reply.status, 200, "{what}: {}", reply.body);
            assert_eq!(reply.data(), &json!({"valid": false, "code": "NOT_FOUND"}), "{what}");
        }
    }
}

#[tokio::test]
async fn every_endpoint_enforces_its_row_of_the_table() {
    let app = spawn().await;
    let nobody = app.root_key_with(&[]).await;
    for (n, case) in cases().into_iter().enumerate() {
        let w = world(&app, n).await;
        let body = (case.body)(&w);
        let minimal = (case.minimal)(&w);
        let reply = app.call_as(&nobody, case.op, body.clone()).await;
        assert_denied(&reply, case.denial, &format!("{} without permissions", case.op));
        if minimal.len() > 1 {
            for dropped in 0..minimal.len() {
                let mut partial = minimal.clone();
                let missing = partial.remove(dropped);
                let key = app.root_key_with(&partial.iter().map(String::as_str).collect::<Vec<_>>()).await;
                let reply = app.call_as(&key, case.op, body.clone()).await;
                assert_denied(&reply, case.denial, &format!("{} without {missing}", case.op));
            }
        }
        if let Some(other) = case.other {
            let key = app.root_key_with(&other(&w).iter().map(String::as_str).collect::<Vec<_>>()).await;
            let reply = app.call_as(&key, case.op, body.clone()).await;
            assert_denied(&reply, case.denial, &format!("{} with another resource's permission", case.op));
        }
        let key = app.root_key_with(&minimal.iter().map(String::as_str).collect::<Vec<_>>()).await;
        let reply = app.call_as(&key, case.op, body).await;
        assert_eq!(reply.status, 200, "{} with {minimal:?}: {}", case.op, reply.body);
        if case.op == "keys.verifyKey" {
            assert_eq!(reply.data()["code"], "VALID");
        }
    }
}

#[tokio::test]
async fn liveness_needs_no_permission() {
    let app = spawn().await;
    let reply = app.raw(app.client.get(format!("{}/v2/liveness", app.base))).await;
    assert_eq!(reply.status, 200);
}

/// An administrator of another workspace holds every permission of its own workspace, and none
/// of them reaches into this one.
#[tokio::test]
async fn another_workspace_sees_nothing_on_any_endpoint() {
    let app = spawn().await;
    let stranger = app.other_workspace_root_key().await;
    for (n, case) in cases().into_iter().enumerate() {
        let w = world(&app, n).await;
        let body = (case.body)(&w);
        let reply = app.call_as(&stranger, case.op, body).await;
        let status = reply.status.as_u16();
        let touches_nothing_here = match case.op {
            // Calls that name nothing of this workspace act in the stranger's own.
            "apis.createApi"
            | "permissions.createPermission"
            | "permissions.listPermissions"
            | "permissions.createRole"
            | "permissions.listRoles"
            | "identities.createIdentity"
            | "identities.listIdentities"
            | "rootKeys.createKey"
            | "migrations.createMigration" => true,
            // Limits by namespace id create the stranger's own namespace of that name.
            "ratelimit.limit" | "ratelimit.multiLimit" | "ratelimit.setOverride" => true,
            _ => false,
        };
        if case.op == "keys.verifyKey" {
            assert_eq!(reply.data(), &json!({"valid": false, "code": "NOT_FOUND"}), "{}", case.op);
        } else if case.op == "auditLogs.list" {
            // A filter by this workspace's key id reads the stranger's own log: no event of it.
            assert_eq!(reply.data(), &json!([]), "{}", case.op);
        } else if !touches_nothing_here {
            assert_eq!(status, 404, "{}: {}", case.op, reply.body);
        }
        // Whatever it answered, this workspace's resources are untouched.
        app.call("apis.getApi", json!({"apiId": w.api})).await.assert_ok();
        let key = app.call("keys.getKey", json!({"keyId": w.key_id})).await;
        let data = key.assert_ok();
        assert!(data.get("name").is_none(), "{} renamed a foreign key", case.op);
        assert_eq!(data["credits"]["remaining"], 100, "{} touched a foreign key's credits", case.op);
        app.call("permissions.getRole", json!({"role": w.role_id})).await.assert_ok();
        app.call("permissions.getPermission", json!({"permission": w.permission})).await.assert_ok();
        app.call("identities.getIdentity", json!({"identity": w.identity_id})).await.assert_ok();
    }
}
