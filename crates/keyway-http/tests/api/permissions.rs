//! Permissions and roles (reference §5.2), their assignment to keys (§3.10), and the permission
//! query of verifyKey (§6.5).

use crate::app::{TestApp, spawn};
use serde_json::{Value, json};

fn slugs(data: &Value) -> Vec<String> {
    data.as_array().unwrap().iter().map(|p| p["slug"].as_str().unwrap().to_string()).collect()
}

fn names(data: &Value) -> Vec<String> {
    data.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_string()).collect()
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect()).unwrap_or_default()
}

async fn create_permission(app: &TestApp, slug: &str) -> String {
    let reply = app.call("permissions.createPermission", json!({"name": slug, "slug": slug})).await;
    reply.assert_ok()["permissionId"].as_str().unwrap().to_string()
}

async fn create_role(app: &TestApp, name: &str, permissions: &[&str]) -> String {
    let reply = app.call("permissions.createRole", json!({"name": name, "permissions": permissions})).await;
    reply.assert_ok()["roleId"].as_str().unwrap().to_string()
}

async fn verify_query(app: &TestApp, key: &str, query: &str) -> Value {
    app.call("keys.verifyKey", json!({"key": key, "permissions": query})).await.assert_ok().clone()
}

#[tokio::test]
async fn permission_lifecycle() {
    let app = spawn().await;
    let created = app
        .call(
            "permissions.createPermission",
            json!({"name": "Read documents", "slug": "documents.read", "description": "may read"}),
        )
        .await;
    let id = created.assert_ok()["permissionId"].as_str().unwrap().to_string();
    assert!(id.starts_with("perm_"));
    for by in [id.as_str(), "documents.read"] {
        let got = app.call("permissions.getPermission", json!({"permission": by})).await;
        assert_eq!(
            got.assert_ok(),
            &json!({"id": id, "name": "Read documents", "slug": "documents.read", "description": "may read"})
        );
    }
    let dup = app.call("permissions.createPermission", json!({"name": "x", "slug": "Documents.READ"})).await;
    dup.assert_error(409, "unkey/data/permission_already_exists");
    assert_eq!(dup.body["error"]["detail"], "A permission with slug 'Documents.READ' already exists in this workspace");

    let bad = app.call("permissions.createPermission", json!({"name": "x", "slug": "has space"})).await;
    bad.assert_error(400, "unkey/application/invalid_input");
    assert_eq!(bad.body["error"]["errors"][0]["location"], "/properties/slug/pattern");

    app.call("permissions.deletePermission", json!({"permission": "documents.read"})).await.assert_ok();
    app.call("permissions.getPermission", json!({"permission": id}))
        .await
        .assert_error(404, "unkey/data/permission_not_found");
    app.call("permissions.deletePermission", json!({"permission": id}))
        .await
        .assert_error(404, "unkey/data/permission_not_found");
}

#[tokio::test]
async fn permissions_list_pages_and_searches() {
    let app = spawn().await;
    for i in 0..5 {
        create_permission(&app, &format!("files.{i}")).await;
    }
    create_permission(&app, "billing.read").await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut body = json!({"limit": 2});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let reply = app.call("permissions.listPermissions", body).await;
        seen.extend(slugs(reply.assert_ok()));
        if reply.body["pagination"]["hasMore"] == false {
            assert!(reply.body["pagination"].get("cursor").is_none());
            break;
        }
        cursor = Some(reply.body["pagination"]["cursor"].as_str().unwrap().to_string());
    }
    seen.sort();
    assert_eq!(seen, ["billing.read", "files.0", "files.1", "files.2", "files.3", "files.4"]);
    let found = app.call("permissions.listPermissions", json!({"search": "BILLING"})).await;
    assert_eq!(slugs(found.assert_ok()), ["billing.read"]);
}

/// A search of only whitespace is no filter, and surrounding whitespace is ignored, in both lists
/// as in listIdentities (§5.1, §5.2).
#[tokio::test]
async fn permission_and_role_lists_ignore_whitespace_around_the_search() {
    let app = spawn().await;
    create_permission(&app, "files.read").await;
    create_permission(&app, "billing.read").await;
    create_role(&app, "editor", &[]).await;
    create_role(&app, "viewer", &[]).await;
    for blank in [" ", "   ", "\t\n"] {
        let permissions = app.call("permissions.listPermissions", json!({"search": blank})).await;
        assert_eq!(slugs(permissions.assert_ok()).len(), 2, "search {blank:?}");
        let roles = app.call("permissions.listRoles", json!({"search": blank})).await;
        let mut listed = names(roles.assert_ok());
        listed.sort();
        assert_eq!(listed, ["editor", "viewer"], "search {blank:?}");
    }
    let permissions = app.call("permissions.listPermissions", json!({"search": "  billing "})).await;
    assert_eq!(slugs(permissions.assert_ok()), ["billing.read"]);
    let roles = app.call("permissions.listRoles", json!({"search": " view  "})).await;
    assert_eq!(names(roles.assert_ok()), ["viewer"]);
}

#[tokio::test]
async fn role_lifecycle() {
    let app = spawn().await;
    create_permission(&app, "docs.read").await;
    let role_id = create_role(&app, "editor", &["docs.write", "docs.read", "DOCS.READ"]).await;
    assert!(role_id.starts_with("role_"));
    for by in [role_id.as_str(), "EDITOR"] {
        let got = app.call("permissions.getRole", json!({"role": by})).await;
        let data = got.assert_ok();
        assert_eq!(data["name"], "editor");
        assert_eq!(slugs(&data["permissions"]), ["docs.read", "docs.write"], "created, de-duplicated, sorted");
        assert!(data.get("description").is_none());
    }
    let auto = app.call("permissions.getPermission", json!({"permission": "docs.write"})).await;
    assert_eq!(auto.assert_ok()["name"], "docs.write", "a missing slug is created with its slug as name");

    let dup = app.call("permissions.createRole", json!({"name": "Editor"})).await;
    dup.assert_error(409, "unkey/data/role_already_exists");
    assert_eq!(dup.body["error"]["detail"], "A role with name 'Editor' already exists in this workspace");

    let set = app
        .call("permissions.setRolePermissions", json!({"roleId": role_id, "permissions": ["docs.admin", "docs.read"]}))
        .await;
    assert_eq!(slugs(set.assert_ok()), ["docs.admin", "docs.read"]);
    // `role` (the SDKs' newer field) and `roleId` both take an id or a name.
    let by_name =
        app.call("permissions.setRolePermissions", json!({"role": "EDITOR", "permissions": ["docs.read"]})).await;
    assert_eq!(slugs(by_name.assert_ok()), ["docs.read"]);
    let set = app
        .call("permissions.setRolePermissions", json!({"roleId": "editor", "permissions": ["docs.admin", "docs.read"]}))
        .await;
    assert_eq!(slugs(set.assert_ok()), ["docs.admin", "docs.read"]);
    let unknown = app.call("permissions.setRolePermissions", json!({"role": "ghost", "permissions": []})).await;
    unknown.assert_error(404, "unkey/data/role_not_found");
    let unnamed = app.call("permissions.setRolePermissions", json!({"permissions": []})).await;
    unnamed.assert_error(400, "unkey/application/invalid_input");

    create_role(&app, "viewer", &[]).await;
    let listed = app.call("permissions.listRoles", json!({"search": "edit"})).await;
    let data = listed.assert_ok();
    assert_eq!(names(data), ["editor"]);
    assert_eq!(slugs(&data[0]["permissions"]), ["docs.admin", "docs.read"]);
    let all = app.call("permissions.listRoles", json!({})).await;
    assert_eq!(all.assert_ok().as_array().unwrap().len(), 2);
    assert!(all.data()[1].get("permissions").is_none() || all.data()[0].get("permissions").is_none());

    app.call("permissions.deleteRole", json!({"role": "editor"})).await.assert_ok();
    app.call("permissions.getRole", json!({"role": role_id})).await.assert_error(404, "unkey/data/role_not_found");
    app.call("permissions.deleteRole", json!({"role": role_id})).await.assert_error(404, "unkey/data/role_not_found");
}

#[tokio::test]
async fn creating_missing_permissions_needs_create_permission_except_in_create_key() {
    let app = spawn().await;
    let api = app.create_api().await;
    let (key_id, _) = app.create_key(&api, json!({"permissions": ["auto.created"]})).await;
    let auto = app.call("permissions.getPermission", json!({"permission": "auto.created"})).await;
    auto.assert_ok();

    let limited = app.root_key_with(&["api.*.update_key", "rbac.*.add_permission_to_key", "rbac.*.create_role"]).await;
    let reply =
        app.call_as(&limited, "keys.addPermissions", json!({"keyId": key_id, "permissions": ["brand.new"]})).await;
    reply.assert_error(403, "unkey/authorization/insufficient_permissions");
    assert!(reply.body["error"]["detail"].as_str().unwrap().contains("rbac.*.create_permission"));
    app.call("permissions.getPermission", json!({"permission": "brand.new"}))
        .await
        .assert_error(404, "unkey/data/permission_not_found");
    // Existing slugs need no create permission.
    let reply =
        app.call_as(&limited, "keys.addPermissions", json!({"keyId": key_id, "permissions": ["auto.created"]})).await;
    assert_eq!(slugs(reply.assert_ok()), ["auto.created"]);
    let reply = app.call_as(&limited, "permissions.createRole", json!({"name": "r", "permissions": ["x.y"]})).await;
    reply.assert_error(403, "unkey/authorization/insufficient_permissions");
}

#[tokio::test]
async fn key_permissions_and_roles_are_assigned_and_shown() {
    let app = spawn().await;
    let api = app.create_api().await;
    create_role(&app, "reader", &["docs.read", "docs.list"]).await;
    create_role(&app, "writer", &["docs.write"]).await;

    let missing = app.call("keys.createKey", json!({"apiId": api, "roles": ["reader", "ghost"]})).await;
    missing.assert_error(404, "unkey/data/role_not_found");
    assert_eq!(missing.body["error"]["detail"], "Role 'ghost' was not found.");
    let listed = app.call("apis.listKeys", json!({"apiId": api})).await;
    assert_eq!(listed.assert_ok(), &json!([]), "a refused create writes nothing");

    let (key_id, key) =
        app.create_key(&api, json!({"permissions": ["docs.read", "billing.read"], "roles": ["reader"]})).await;
    let got = app.call("keys.getKey", json!({"keyId": key_id})).await;
    let data = got.assert_ok();
    assert_eq!(strings(&data["permissions"]), ["billing.read", "docs.list", "docs.read"], "direct and via roles, once");
    assert_eq!(strings(&data["roles"]), ["reader"]);
    let verified = app.verify(&key).await;
    assert_eq!(strings(&verified["permissions"]), ["billing.read", "docs.list", "docs.read"]);
    assert_eq!(strings(&verified["roles"]), ["reader"]);

    let added = app
        .call("keys.addPermissions", json!({"keyId": key_id, "permissions": ["docs.read", "admin.all", "admin.all"]}))
        .await;
    assert_eq!(slugs(added.assert_ok()), ["admin.all", "billing.read", "docs.read"], "direct permissions only");
    let removed = app.call("keys.removePermissions", json!({"keyId": key_id, "permissions": ["admin.all"]})).await;
    assert_eq!(slugs(removed.assert_ok()), ["billing.read", "docs.read"]);
    let unknown = app.call("keys.removePermissions", json!({"keyId": key_id, "permissions": ["never.was"]})).await;
    unknown.assert_error(404, "unkey/data/permission_not_found");
    assert_eq!(unknown.body["error"]["detail"], "Permission 'never.was' was not found.");
    let set = app.call("keys.setPermissions", json!({"keyId": key_id, "permissions": ["docs.write"]})).await;
    assert_eq!(slugs(set.assert_ok()), ["docs.write"]);

    let roles = app.call("keys.addRoles", json!({"keyId": key_id, "roles": ["writer"]})).await;
    let data = roles.assert_ok();
    assert_eq!(names(data), ["reader", "writer"]);
    assert_eq!(slugs(&data[0]["permissions"]), ["docs.list", "docs.read"]);
    let roles = app.call("keys.removeRoles", json!({"keyId": key_id, "roles": ["reader"]})).await;
    assert_eq!(names(roles.assert_ok()), ["writer"]);
    let roles = app.call("keys.setRoles", json!({"keyId": key_id, "roles": []})).await;
    assert_eq!(roles.assert_ok(), &json!([]));
    let unknown = app.call("keys.addRoles", json!({"keyId": key_id, "roles": ["ghost"]})).await;
    unknown.assert_error(404, "unkey/data/role_not_found");

    let got = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(strings(&got.assert_ok()["permissions"]), ["docs.write"]);
    assert!(got.data().get("roles").is_none(), "empty lists are omitted: {}", got.body);

    let empty = app.call("keys.addPermissions", json!({"keyId": key_id, "permissions": []})).await;
    empty.assert_error(400, "unkey/application/invalid_input");
    let gone = app.call("keys.addRoles", json!({"keyId": "key_missing", "roles": ["writer"]})).await;
    gone.assert_error(404, "unkey/data/key_not_found");
}

#[tokio::test]
async fn update_key_replaces_permissions_and_roles() {
    let app = spawn().await;
    let api = app.create_api().await;
    create_role(&app, "reader", &["docs.read"]).await;
    let (key_id, key) = app.create_key(&api, json!({"permissions": ["a.b"]})).await;
    app.call("keys.updateKey", json!({"keyId": key_id, "permissions": ["c.d"], "roles": ["reader"]})).await.assert_ok();
    let verified = app.verify(&key).await;
    assert_eq!(strings(&verified["permissions"]), ["c.d", "docs.read"]);
    assert_eq!(strings(&verified["roles"]), ["reader"]);
    let missing = app.call("keys.updateKey", json!({"keyId": key_id, "name": "n", "roles": ["ghost"]})).await;
    missing.assert_error(404, "unkey/data/role_not_found");
    let got = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert!(got.assert_ok().get("name").is_none(), "a refused update changes nothing");
}

#[tokio::test]
async fn verify_evaluates_the_permission_query_exactly() {
    let app = spawn().await;
    let api = app.create_api().await;
    let (_, key) = app.create_key(&api, json!({"permissions": ["docs.read", "docs.*", "Billing"]})).await;
    for (query, valid) in [
        ("docs.read", true),
        ("docs.read AND Billing", true),
        ("docs.read and docs.write", false),
        ("docs.write OR docs.read", true),
        ("docs.write OR docs.read AND nope", false),
        ("(docs.write OR docs.read) AND Billing", true),
        ("docs.*", true),
        ("docs.delete", false),
        ("billing", false),
    ] {
        let data = verify_query(&app, &key, query).await;
        let expected = if valid { "VALID" } else { "INSUFFICIENT_PERMISSIONS" };
        assert_eq!(data["code"], expected, "{query}: {data}");
        assert_eq!(data["valid"], valid);
    }
}

#[tokio::test]
async fn a_bad_query_is_a_400_for_every_key_the_caller_may_see() {
    let app = spawn().await;
    let api = app.create_api().await;
    let (_, key) = app.create_key(&api, json!({"enabled": false})).await;
    let reply = app.call("keys.verifyKey", json!({"key": key, "permissions": "a AND"})).await;
    reply.assert_error(400, "user/bad_request/permissions_query_syntax_error");
    assert_eq!(reply.body["error"]["errors"], json!([]));
    assert_eq!(
        reply.body["error"]["detail"],
        "Unexpected end of query. Expected a permission identifier or opening parenthesis."
    );
    let reply = app.call("keys.verifyKey", json!({"key": key, "permissions": "a @ b"})).await;
    reply.assert_error(400, "user/bad_request/permissions_query_syntax_error");

    // A key the caller may not see answers NOT_FOUND before the query is parsed.
    let unknown = app.call("keys.verifyKey", json!({"key": "sk_unknown", "permissions": "a AND"})).await;
    assert_eq!(unknown.assert_ok()["code"], "NOT_FOUND");
    let stranger = app.other_workspace_root_key().await;
    let hidden = app.call_as(&stranger, "keys.verifyKey", json!({"key": key, "permissions": "a AND"})).await;
    assert_eq!(hidden.assert_ok(), &json!({"valid": false, "code": "NOT_FOUND"}));
}

#[tokio::test]
async fn insufficient_permissions_spends_neither_rate_limit_nor_credits() {
    let app = spawn().await;
    let api = app.create_api().await;
    let (key_id, key) = app
        .create_key(
            &api,
            json!({
                "permissions": ["docs.read"],
                "credits": {"remaining": 3},
                "ratelimits": [{"name": "requests", "limit": 1, "duration": 60000, "autoApply": true}]
            }),
        )
        .await;
    for _ in 0..3 {
        let data = verify_query(&app, &key, "docs.write").await;
        assert_eq!(data["code"], "INSUFFICIENT_PERMISSIONS");
        assert_eq!(data["credits"], 3);
        assert!(data.get("ratelimits").is_none(), "no limit was checked: {data}");
    }
    let data = verify_query(&app, &key, "docs.read").await;
    assert_eq!((data["code"].clone(), data["credits"].clone()), (json!("VALID"), json!(2)));
    let got = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(got.assert_ok()["credits"]["remaining"], 2);
}

#[tokio::test]
async fn changes_reach_the_very_next_verification() {
    let app = spawn().await;
    let api = app.create_api().await;
    let role_id = create_role(&app, "reader", &["docs.read"]).await;
    let (key_id, key) = app.create_key(&api, json!({"roles": ["reader"], "permissions": ["own.perm"]})).await;
    assert_eq!(verify_query(&app, &key, "docs.read AND own.perm").await["code"], "VALID");

    // Through the role: replacing its permissions, then deleting a permission it holds.
    app.call("permissions.setRolePermissions", json!({"roleId": role_id, "permissions": ["docs.list"]}))
        .await
        .assert_ok();
    assert_eq!(verify_query(&app, &key, "docs.read").await["code"], "INSUFFICIENT_PERMISSIONS");
    assert_eq!(verify_query(&app, &key, "docs.list").await["code"], "VALID");
    app.call("permissions.deletePermission", json!({"permission": "docs.list"})).await.assert_ok();
    assert_eq!(verify_query(&app, &key, "docs.list").await["code"], "INSUFFICIENT_PERMISSIONS");

    // Directly: deleting the permission takes it from the key; deleting the role, its roles.
    app.call("permissions.deletePermission", json!({"permission": "own.perm"})).await.assert_ok();
    assert_eq!(verify_query(&app, &key, "own.perm").await["code"], "INSUFFICIENT_PERMISSIONS");
    app.call("permissions.deleteRole", json!({"role": role_id})).await.assert_ok();
    let verified = app.verify(&key).await;
    assert!(verified.get("roles").is_none() && verified.get("permissions").is_none(), "{verified}");

    app.call("keys.addPermissions", json!({"keyId": key_id, "permissions": ["late.perm"]})).await.assert_ok();
    assert_eq!(verify_query(&app, &key, "late.perm").await["code"], "VALID");
}

#[tokio::test]
async fn rbac_objects_of_another_workspace_are_invisible() {
    let app = spawn().await;
    let api = app.create_api().await;
    let perm_id = create_permission(&app, "docs.read").await;
    let role_id = create_role(&app, "reader", &["docs.read"]).await;
    let (key_id, _) = app.create_key(&api, json!({})).await;
    let stranger = app.other_workspace_root_key().await;

    for (op, body, type_suffix) in [
        ("permissions.getPermission", json!({"permission": perm_id}), "unkey/data/permission_not_found"),
        ("permissions.getPermission", json!({"permission": "docs.read"}), "unkey/data/permission_not_found"),
        ("permissions.deletePermission", json!({"permission": perm_id}), "unkey/data/permission_not_found"),
        ("permissions.getRole", json!({"role": role_id}), "unkey/data/role_not_found"),
        ("permissions.deleteRole", json!({"role": "reader"}), "unkey/data/role_not_found"),
        ("permissions.setRolePermissions", json!({"roleId": role_id, "permissions": []}), "unkey/data/role_not_found"),
        ("keys.addPermissions", json!({"keyId": key_id, "permissions": ["docs.read"]}), "unkey/data/key_not_found"),
        ("keys.setRoles", json!({"keyId": key_id, "roles": []}), "unkey/data/key_not_found"),
    ] {
        app.call_as(&stranger, op, body).await.assert_error(404, type_suffix);
    }
    let listed = app.call_as(&stranger, "permissions.listPermissions", json!({})).await;
    assert_eq!(listed.assert_ok(), &json!([]));
    let listed = app.call_as(&stranger, "permissions.listRoles", json!({})).await;
    assert_eq!(listed.assert_ok(), &json!([]));
    // The same slug and name are free in the other workspace.
    app.call_as(&stranger, "permissions.createPermission", json!({"name": "d", "slug": "docs.read"})).await.assert_ok();
    app.call_as(&stranger, "permissions.createRole", json!({"name": "reader"})).await.assert_ok();
    // And this workspace's objects are untouched.
    app.call("permissions.getRole", json!({"role": role_id})).await.assert_ok();
}

#[tokio::test]
async fn rbac_changes_are_audited() {
    let app = spawn().await;
    let api = app.create_api().await;
    create_role(&app, "reader", &["docs.read"]).await;
    let (key_id, _) = app.create_key(&api, json!({"roles": ["reader"], "permissions": ["own.perm"]})).await;
    app.call("keys.removePermissions", json!({"keyId": key_id, "permissions": ["own.perm"]})).await.assert_ok();
    let admin = app.keyway.authenticate(&app.root_key).await.unwrap();
    let events: Vec<String> =
        app.store.list_audit_events(admin.workspace_id(), 1000).await.unwrap().into_iter().map(|e| e.event).collect();
    for expected in [
        "role.create",
        "permission.create",
        "authorization.connect_role_and_permission",
        "authorization.connect_permission_and_key",
        "authorization.connect_role_and_key",
        "key.create",
        "authorization.disconnect_permission_and_key",
    ] {
        assert!(events.iter().any(|e| e == expected), "no {expected} in {events:?}");
    }
    assert_eq!(events.iter().filter(|e| *e == "permission.create").count(), 2);
}
