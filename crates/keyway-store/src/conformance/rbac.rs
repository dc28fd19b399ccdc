//! Conformance cases of customers' permissions and roles (`RbacStore`, and the permissions and
//! roles keys carry).
//!
//! The audit events of one write are compared as a set: their order within the write is not part
//! of the contract. Where a write is refused because of several missing slugs or names, the first
//! one in request order is the one reported.

use super::fixtures::{
    T0, changes, event, events, insert, link_write, new_key, page, permission_ids, setup, with_permission_ids,
};
use crate::{
    ImportedKey, Key, LinkChange, Missing, NewKey, NewRole, PageRequest, Permission, RbacEffect, Role, Store,
    StoreError, StoreResult,
};
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::KeyHash;
use std::sync::Arc;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn permission(workspace_id: &str, slug: &str) -> Permission {
    Permission {
        id: new_id(IdKind::Permission),
        workspace_id: workspace_id.into(),
        name: format!("Can {slug}"),
        slug: slug.into(),
        description: None,
        created_at: T0,
    }
}

async fn create_permission(store: &Arc<dyn Store>, permission: Permission) -> Permission {
    store.create_permission(&permission, &[]).await.unwrap();
    permission
}

fn new_role(workspace_id: &str, name: &str, slugs: &[&str]) -> NewRole {
    NewRole {
        id: new_id(IdKind::Role),
        workspace_id: workspace_id.into(),
        name: name.into(),
        description: None,
        permissions: strings(slugs),
        new_permission_ids: permission_ids(&strings(slugs), true),
        created_at: T0,
    }
}

/// Creates the role, creating its missing permissions.
async fn create_role(store: &Arc<dyn Store>, role: NewRole) -> Role {
    store.create_role(&role, &[], &changes(&role.workspace_id)).await.unwrap()
}

async fn find_permission(store: &Arc<dyn Store>, workspace_id: &str, id_or_slug: &str) -> Option<Permission> {
    store.find_permission(workspace_id, id_or_slug).await.unwrap()
}

async fn find_role(store: &Arc<dyn Store>, workspace_id: &str, id_or_name: &str) -> Option<Role> {
    store.find_role(workspace_id, id_or_name).await.unwrap()
}

async fn read_key(store: &Arc<dyn Store>, workspace_id: &str, key_id: &str) -> Key {
    store.get_key(workspace_id, key_id).await.unwrap().expect("the key is live")
}

/// The key's direct permissions, read through a change that changes nothing.
async fn direct(store: &Arc<dyn Store>, workspace_id: &str, key_id: &str) -> Vec<Permission> {
    store
        .change_key_permissions(&link_write(workspace_id, key_id, LinkChange::Add, &[], false), &changes(workspace_id))
        .await
        .unwrap()
        .expect("the key is live")
}

fn slugs(permissions: &[Permission]) -> Vec<&str> {
    permissions.iter().map(|p| p.slug.as_str()).collect()
}

fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

fn missing<T: std::fmt::Debug>(result: StoreResult<T>) -> Missing {
    match result {
        Err(StoreError::Missing(missing)) => missing,
        other => panic!("expected Missing, got {other:?}"),
    }
}

/// Asserts a permission was created by a write: name = slug, no description, the write's time.
fn assert_auto_created(permission: &Permission, workspace_id: &str, slug: &str) {
    assert!(permission.id.starts_with("perm_"), "{permission:?}");
    assert_eq!(permission.workspace_id, workspace_id);
    assert_eq!(permission.slug, slug);
    assert_eq!(permission.name, slug, "an auto-created permission is named by its slug");
    assert_eq!(permission.description, None);
}

// The descriptions the test `RbacAudit` gives each change.

fn created(slug: &str) -> String {
    format!("permission.create {slug}")
}

fn key_linked(key_id: &str, slug: &str) -> String {
    format!("authorization.connect_permission_and_key {key_id} {slug}")
}

fn key_unlinked(key_id: &str, slug: &str) -> String {
    format!("authorization.disconnect_permission_and_key {key_id} {slug}")
}

fn role_linked(key_id: &str, role_name: &str) -> String {
    format!("authorization.connect_role_and_key {key_id} {role_name}")
}

fn role_unlinked(key_id: &str, role_name: &str) -> String {
    format!("authorization.disconnect_role_and_key {key_id} {role_name}")
}

fn granted(role_id: &str, slug: &str) -> String {
    format!("authorization.connect_role_and_permission {role_id} {slug}")
}

fn revoked(role_id: &str, slug: &str) -> String {
    format!("authorization.disconnect_role_and_permission {role_id} {slug}")
}

/// What a workspace's audit trail should hold, compared as sorted descriptions.
struct Trail {
    store: Arc<dyn Store>,
    workspace_id: String,
    expected: Vec<String>,
}

impl Trail {
    async fn of(store: &Arc<dyn Store>, workspace_id: &str) -> Trail {
        let mut trail = Trail { store: store.clone(), workspace_id: workspace_id.into(), expected: Vec::new() };
        trail.expected = trail.written().await;
        trail
    }

    async fn written(&self) -> Vec<String> {
        sorted(events(&self.store, &self.workspace_id).await.into_iter().map(|e| e.description).collect())
    }

    /// Asserts that exactly `added` was written since the last check.
    async fn expect(&mut self, added: impl IntoIterator<Item = String>, context: &str) {
        self.expected.extend(added);
        self.expected.sort();
        assert_eq!(self.written().await, self.expected, "{context}");
    }
}

pub async fn permission_create_and_find(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    let (other_ws, _) = setup(&store).await;
    let read = Permission { description: Some("Read documents".into()), ..permission(&ws.id, "Documents.Read") };
    let audit = [event(&ws.id, "permission.create", &read.id)];
    store.create_permission(&read, &audit).await.unwrap();
    assert_eq!(find_permission(&store, &ws.id, &read.id).await, Some(read.clone()));
    assert_eq!(find_permission(&store, &ws.id, "Documents.Read").await, Some(read.clone()));
    assert_eq!(find_permission(&store, &ws.id, "documents.read").await, Some(read.clone()), "slugs ignore case");
    assert_eq!(find_permission(&store, &ws.id, "DOCUMENTS.READ").await, Some(read.clone()));
    assert_eq!(find_permission(&store, &ws.id, &read.id.to_uppercase()).await, None, "ids are case-sensitive");
    assert_eq!(find_permission(&store, &ws.id, "documents.write").await, None);

    let write = create_permission(&store, permission(&ws.id, "documents.write")).await;
    assert_eq!(find_permission(&store, &ws.id, "documents.write").await, Some(write.clone()), "no description");

    let dup = permission(&ws.id, "DOCUMENTS.read");
    let err = store.create_permission(&dup, &[event(&ws.id, "permission.create", &dup.id)]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "slugs are unique ignoring case: {err:?}");
    assert_eq!(find_permission(&store, &ws.id, &dup.id).await, None);

    assert_eq!(find_permission(&store, &other_ws.id, &read.id).await, None);
    assert_eq!(find_permission(&store, &other_ws.id, "documents.read").await, None);
    let theirs = create_permission(&store, permission(&other_ws.id, "documents.read")).await;
    assert_eq!(find_permission(&store, &other_ws.id, "Documents.Read").await, Some(theirs), "slugs are per workspace");
    assert_eq!(find_permission(&store, &ws.id, "documents.read").await, Some(read.clone()));

    let lookalike = create_permission(&store, permission(&ws.id, &write.id)).await;
    assert_eq!(find_permission(&store, &ws.id, &write.id).await, Some(write), "the id is tried first");
    assert_eq!(find_permission(&store, &ws.id, &lookalike.id).await, Some(lookalike));
    assert_eq!(events(&store, &ws.id).await, audit.to_vec(), "the failed create wrote no audit event");
}

pub async fn permission_list_search_and_pagination(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    let (other_ws, _) = setup(&store).await;
    let specs: [(&str, &str, Option<&str>); 6] = [
        ("docs.read", "Read docs", None),
        ("docs.write", "Write_Docs", Some("Lets a key WRITE")),
        ("billing.all", "100% billing", None),
        ("admin", "Admin", Some("everything, docs_included")),
        ("index", "Docs Index", None),
        ("reports.view", "Reports", Some("Monthly")),
    ];
    let mut all = Vec::new();
    for (slug, name, description) in specs {
        let p =
            Permission { name: name.into(), description: description.map(str::to_string), ..permission(&ws.id, slug) };
        all.push(create_permission(&store, p).await);
    }
    all.sort_by(|a, b| a.id.cmp(&b.id));
    create_permission(&store, permission(&other_ws.id, "docs.read")).await;

    let list = |search: Option<&str>, page: PageRequest| {
        let store = store.clone();
        let ws = ws.id.clone();
        let search = search.map(str::to_string);
        async move { store.list_permissions(&ws, search.as_deref(), &page).await.unwrap() }
    };
    let matching =
        |wanted: &[&str]| all.iter().filter(|p| wanted.contains(&p.slug.as_str())).cloned().collect::<Vec<_>>();
    assert_eq!(list(None, page("", 100)).await, all, "other workspaces' permissions are excluded");
    assert_eq!(list(None, page("", 2)).await, all[..3], "limit + 1 rows");
    assert_eq!(list(None, page(&all[2].id, 2)).await, all[2..5], "cursor inclusive");

    let docs = matching(&["docs.read", "docs.write", "admin", "index"]);
    assert_eq!(list(Some("DOCS"), page("", 100)).await, docs, "slug, name and description, ignoring case");
    assert_eq!(list(Some("docs"), page("", 1)).await, docs[..2]);
    assert_eq!(list(Some("docs"), page(&docs[1].id, 100)).await, docs[1..]);
    assert_eq!(list(Some("write"), page("", 100)).await, matching(&["docs.write"]));
    assert_eq!(list(Some("monthly"), page("", 100)).await, matching(&["reports.view"]), "the description");
    assert_eq!(list(Some("%"), page("", 100)).await, matching(&["billing.all"]), "% is literal");
    assert_eq!(list(Some("s_i"), page("", 100)).await, matching(&["admin"]), "_ is literal");
    let by_id = all[3].id[5..].to_lowercase();
    assert_eq!(list(Some(&by_id), page("", 100)).await, all[3..4], "the id is searched too");
    assert!(list(Some("zzz"), page("", 100)).await.is_empty());
    assert!(store.list_permissions("ws_missing", None, &page("", 100)).await.unwrap().is_empty());
}

/// A hard delete: the permission's links go with it, and the live keys that held it, directly or
/// through a role, are reported once each.
pub async fn permission_delete_unlinks_and_reports_keys(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let target = create_permission(&store, permission(&ws.id, "docs.read")).await;
    let kept = create_permission(&store, permission(&ws.id, "docs.write")).await;
    let reader = create_role(&store, new_role(&ws.id, "reader", &["docs.read", "docs.write"])).await;
    let with = |permissions: &[&str], roles: &[&str]| NewKey {
        permissions: strings(permissions),
        roles: strings(roles),
        ..new_key(&api)
    };
    let by_direct = insert(&store, with(&["docs.read"], &[])).await;
    let by_role = insert(&store, with(&[], &["reader"])).await;
    let by_both = insert(&store, with(&["docs.read"], &["reader"])).await;
    let unrelated = insert(&store, with(&["docs.write"], &[])).await;
    let gone = insert(&store, with(&["docs.read"], &[])).await;
    store.delete_key(&ws.id, &gone.id, false, T0 + 1, &[]).await.unwrap().unwrap();

    let mut trail = Trail::of(&store, &ws.id).await;
    let refused = [event(&ws.id, "permission.delete", "refused")];
    assert_eq!(store.delete_permission(&ws.id, "perm_missing", &refused).await.unwrap(), None);
    assert_eq!(store.delete_permission(&ws.id, "docs.write", &refused).await.unwrap(), None, "by id only");

    let audit = [event(&ws.id, "permission.delete", &target.id)];
    let effect = store.delete_permission(&ws.id, &target.id, &audit).await.unwrap().unwrap();
    assert_eq!(effect.value, target, "returns the permission as it was");
    assert_eq!(
        sorted(effect.key_hashes),
        sorted(vec![by_direct.hash.clone(), by_role.hash.clone(), by_both.hash.clone()]),
        "live holders, each once; soft-deleted keys and other keys excluded"
    );
    trail.expect(audit.iter().map(|e| e.description.clone()), "only the given events").await;

    assert_eq!(find_permission(&store, &ws.id, &target.id).await, None);
    assert_eq!(find_permission(&store, &ws.id, "docs.read").await, None);
    assert_eq!(find_role(&store, &ws.id, &reader.id).await.unwrap().permissions, vec![kept.clone()]);
    assert!(read_key(&store, &ws.id, &by_direct.id).await.permissions.is_empty());
    assert!(direct(&store, &ws.id, &by_direct.id).await.is_empty());
    assert_eq!(read_key(&store, &ws.id, &by_role.id).await.permissions, strings(&["docs.write"]));
    let both = read_key(&store, &ws.id, &by_both.id).await;
    assert_eq!((both.permissions, both.roles), (strings(&["docs.write"]), strings(&["reader"])));
    assert_eq!(read_key(&store, &ws.id, &unrelated.id).await.permissions, strings(&["docs.write"]));
    assert_eq!(store.delete_permission(&ws.id, &target.id, &refused).await.unwrap(), None, "already gone");

    let again = create_permission(&store, permission(&ws.id, "docs.read")).await;
    assert_eq!(find_permission(&store, &ws.id, "docs.read").await, Some(again), "the slug is free again");
    assert!(read_key(&store, &ws.id, &by_direct.id).await.permissions.is_empty(), "and nobody holds it");
    trail.expect([], "refused deletes wrote nothing").await;
}

pub async fn role_create_with_permissions(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    let existing = create_permission(&store, permission(&ws.id, "docs.Read")).await;
    let mut trail = Trail::of(&store, &ws.id).await;

    let editor = NewRole {
        description: Some("Edits docs".into()),
        ..new_role(&ws.id, "Editor", &["docs.write", "DOCS.READ", "docs.read", "billing.view", "Docs.Write"])
    };
    let audit = [event(&ws.id, "role.create", &editor.id)];
    let role = store.create_role(&editor, &audit, &changes(&ws.id)).await.unwrap();
    assert_eq!(
        (&role.id, &role.workspace_id, &role.name, &role.description, role.created_at),
        (&editor.id, &editor.workspace_id, &editor.name, &editor.description, editor.created_at)
    );
    assert_eq!(
        slugs(&role.permissions),
        ["billing.view", "docs.Read", "docs.write"],
        "de-duplicated ignoring case (the first spelling wins), sorted by slug in byte order"
    );
    assert_eq!(role.permissions[1], existing, "an existing slug is linked whatever its case");
    for made in [&role.permissions[0], &role.permissions[2]] {
        assert_auto_created(made, &ws.id, &made.slug);
        assert_eq!(made.created_at, editor.created_at);
        assert_eq!(find_permission(&store, &ws.id, &made.slug).await.as_ref(), Some(made));
    }
    trail
        .expect(
            [
                audit[0].description.clone(),
                created("billing.view"),
                created("docs.write"),
                granted(&role.id, "billing.view"),
                granted(&role.id, "docs.Read"),
                granted(&role.id, "docs.write"),
            ],
            "the given events, one per created permission and one per link",
        )
        .await;

    assert_eq!(find_role(&store, &ws.id, &role.id).await, Some(role.clone()));
    assert_eq!(find_role(&store, &ws.id, "Editor").await, Some(role.clone()));
    assert_eq!(find_role(&store, &ws.id, "eDITOR").await, Some(role.clone()), "names ignore case");
    assert_eq!(find_role(&store, &ws.id, &role.id.to_uppercase()).await, None, "ids are case-sensitive");
    assert_eq!(find_role(&store, &ws.id, "viewer").await, None);

    let empty = create_role(&store, new_role(&ws.id, "Empty", &[])).await;
    assert!(empty.permissions.is_empty());
    assert_eq!(empty.description, None);
    assert_eq!(find_role(&store, &ws.id, "empty").await, Some(empty));

    let lookalike = create_role(&store, new_role(&ws.id, &role.id, &[])).await;
    assert_eq!(find_role(&store, &ws.id, &role.id).await, Some(role), "the id is tried first");
    assert_eq!(find_role(&store, &ws.id, &lookalike.id).await, Some(lookalike));
}

pub async fn role_create_missing_or_conflict_writes_nothing(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    create_permission(&store, permission(&ws.id, "docs.read")).await;
    let editor = create_role(&store, new_role(&ws.id, "Editor", &["docs.read"])).await;
    let mut trail = Trail::of(&store, &ws.id).await;

    let strict = new_role(&ws.id, "Viewer", &["DOCS.READ", "reports.view", "reports.export"]);
    let audit = [event(&ws.id, "role.create", &strict.id)];
    let refused =
        store.create_role(&NewRole { new_permission_ids: vec![], ..strict.clone() }, &audit, &changes(&ws.id)).await;
    assert_eq!(missing(refused), Missing::Permission("reports.view".into()), "the first missing slug, as given");
    assert_eq!(find_role(&store, &ws.id, &strict.id).await, None);
    assert_eq!(find_role(&store, &ws.id, "Viewer").await, None);
    assert_eq!(find_permission(&store, &ws.id, "reports.view").await, None);
    assert_eq!(find_permission(&store, &ws.id, "reports.export").await, None);

    let dup = new_role(&ws.id, "EDITOR", &["brand.new", "docs.read"]);
    let audit = [event(&ws.id, "role.create", &dup.id)];
    let err = store.create_role(&dup, &audit, &changes(&ws.id)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "names are unique ignoring case: {err:?}");
    assert_eq!(find_role(&store, &ws.id, &dup.id).await, None);
    assert_eq!(find_permission(&store, &ws.id, "brand.new").await, None, "the created permission is rolled back");
    assert_eq!(find_role(&store, &ws.id, "editor").await, Some(editor));
    trail.expect([], "refused creates write no audit event").await;
}

pub async fn role_list_search_and_pagination(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    let (other_ws, _) = setup(&store).await;
    let specs: [(&str, Option<&str>, &[&str]); 6] = [
        ("Admin", Some("Everything"), &["docs.read", "Docs.Admin"]),
        ("editor", Some("Edits_docs"), &["docs.write"]),
        ("Viewer", None, &[]),
        ("100% reader", None, &["docs.read"]),
        ("docs-auditor", None, &[]),
        ("Docs Desk", Some("front"), &["billing.view"]),
    ];
    let mut all = Vec::new();
    for (name, description, permissions) in specs {
        let new = NewRole { description: description.map(str::to_string), ..new_role(&ws.id, name, permissions) };
        all.push(create_role(&store, new).await);
    }
    all.sort_by(|a, b| a.id.cmp(&b.id));
    create_role(&store, new_role(&other_ws.id, "Admin", &["docs.read"])).await;

    let list = |search: Option<&str>, page: PageRequest| {
        let store = store.clone();
        let ws = ws.id.clone();
        let search = search.map(str::to_string);
        async move { store.list_roles(&ws, search.as_deref(), &page).await.unwrap() }
    };
    let matching =
        |wanted: &[&str]| all.iter().filter(|r| wanted.contains(&r.name.as_str())).cloned().collect::<Vec<_>>();
    let listed = list(None, page("", 100)).await;
    assert_eq!(listed, all, "each with its permissions; other workspaces' roles are excluded");
    let admin = listed.iter().find(|r| r.name == "Admin").unwrap();
    assert_eq!(slugs(&admin.permissions), ["Docs.Admin", "docs.read"], "sorted by slug in byte order");
    assert_eq!(list(None, page("", 2)).await, all[..3], "limit + 1 rows");
    assert_eq!(list(None, page(&all[2].id, 2)).await, all[2..5], "cursor inclusive");

    let docs = matching(&["editor", "docs-auditor", "Docs Desk"]);
    assert_eq!(list(Some("DOCS"), page("", 100)).await, docs, "name and description, ignoring case");
    assert_eq!(list(Some("docs"), page("", 1)).await, docs[..2]);
    assert_eq!(list(Some("docs"), page(&docs[1].id, 100)).await, docs[1..]);
    assert_eq!(list(Some("everything"), page("", 100)).await, matching(&["Admin"]), "the description");
    assert_eq!(list(Some("%"), page("", 100)).await, matching(&["100% reader"]), "% is literal");
    assert_eq!(list(Some("s_d"), page("", 100)).await, matching(&["editor"]), "_ is literal");
    assert!(list(Some("docs.read"), page("", 100)).await.is_empty(), "permissions are not searched");
    let by_id = all[3].id[5..].to_lowercase();
    assert_eq!(list(Some(&by_id), page("", 100)).await, all[3..4], "the id is searched too");
    assert!(store.list_roles("ws_missing", None, &page("", 100)).await.unwrap().is_empty());
}

pub async fn role_delete_unlinks_and_reports_keys(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let reader = create_role(&store, new_role(&ws.id, "reader", &["docs.read", "docs.list"])).await;
    create_role(&store, new_role(&ws.id, "writer", &["docs.write"])).await;
    let with = |permissions: &[&str], roles: &[&str]| NewKey {
        permissions: strings(permissions),
        roles: strings(roles),
        ..new_key(&api)
    };
    let only_reader = insert(&store, with(&[], &["reader"])).await;
    let both = insert(&store, with(&["docs.read"], &["reader", "writer"])).await;
    let only_writer = insert(&store, with(&[], &["writer"])).await;
    let gone = insert(&store, with(&[], &["reader"])).await;
    store.delete_key(&ws.id, &gone.id, false, T0 + 1, &[]).await.unwrap().unwrap();

    let mut trail = Trail::of(&store, &ws.id).await;
    let refused = [event(&ws.id, "role.delete", "refused")];
    assert_eq!(store.delete_role(&ws.id, "role_missing", &refused).await.unwrap(), None);
    assert_eq!(store.delete_role(&ws.id, "writer", &refused).await.unwrap(), None, "by id only");

    let audit = [event(&ws.id, "role.delete", &reader.id)];
    let effect = store.delete_role(&ws.id, &reader.id, &audit).await.unwrap().unwrap();
    assert_eq!(effect.value, reader, "returns the role as it was, with its permissions");
    assert_eq!(
        sorted(effect.key_hashes),
        sorted(vec![only_reader.hash.clone(), both.hash.clone()]),
        "live holders; soft-deleted keys excluded"
    );
    trail.expect(audit.iter().map(|e| e.description.clone()), "only the given events").await;

    assert_eq!(find_role(&store, &ws.id, &reader.id).await, None);
    assert_eq!(find_role(&store, &ws.id, "reader").await, None);
    let after = read_key(&store, &ws.id, &only_reader.id).await;
    assert!(after.roles.is_empty() && after.permissions.is_empty(), "{after:?}");
    let after = read_key(&store, &ws.id, &both.id).await;
    assert_eq!((after.roles, after.permissions), (strings(&["writer"]), strings(&["docs.read", "docs.write"])));
    assert_eq!(read_key(&store, &ws.id, &only_writer.id).await.roles, strings(&["writer"]));
    for slug in ["docs.read", "docs.list"] {
        assert!(find_permission(&store, &ws.id, slug).await.is_some(), "the role's permissions remain");
    }
    assert_eq!(store.delete_role(&ws.id, &reader.id, &refused).await.unwrap(), None, "already gone");

    let again = create_role(&store, new_role(&ws.id, "reader", &[])).await;
    assert_eq!(find_role(&store, &ws.id, "reader").await, Some(again), "the name is free again");
    assert!(read_key(&store, &ws.id, &only_reader.id).await.roles.is_empty(), "and nobody holds it");
    trail.expect([], "refused deletes wrote nothing").await;
}

pub async fn role_set_permissions(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let (other_ws, _) = setup(&store).await;
    let role = create_role(&store, new_role(&ws.id, "editor", &["docs.read", "docs.write"])).await;
    let idle = create_role(&store, new_role(&ws.id, "idle", &[])).await;
    let holder = insert(&store, NewKey { roles: strings(&["editor"]), ..new_key(&api) }).await;
    let also = insert(&store, NewKey { roles: strings(&["editor", "idle"]), ..new_key(&api) }).await;
    let gone = insert(&store, NewKey { roles: strings(&["editor"]), ..new_key(&api) }).await;
    store.delete_key(&ws.id, &gone.id, false, T0 + 1, &[]).await.unwrap().unwrap();
    let bystander = insert(&store, NewKey { permissions: strings(&["docs.read"]), ..new_key(&api) }).await;
    let holders = sorted(vec![holder.hash.clone(), also.hash.clone()]);
    let mut trail = Trail::of(&store, &ws.id).await;
    let set = |role_id: &str, slugs: &[&str], create_missing: bool| {
        let store = store.clone();
        let (ws, role_id, slugs) = (ws.id.clone(), role_id.to_string(), strings(slugs));
        async move {
            store
                .set_role_permissions(
                    &link_write(&ws, &role_id, LinkChange::Set, &slugs, create_missing),
                    &changes(&ws),
                )
                .await
        }
    };
    let effect = |result: StoreResult<Option<RbacEffect<Role>>>| {
        let effect = result.unwrap().expect("the role exists");
        (effect.value, sorted(effect.key_hashes))
    };

    let (changed, hashes) = effect(set(&role.id, &["DOCS.WRITE", "docs.delete", "Docs.Delete"], true).await);
    assert_eq!(slugs(&changed.permissions), ["docs.delete", "docs.write"], "de-duplicated ignoring case");
    assert_auto_created(&changed.permissions[0], &ws.id, "docs.delete");
    assert_eq!(
        Role { permissions: changed.permissions.clone(), ..role.clone() },
        changed,
        "only the permissions change"
    );
    assert_eq!(hashes, holders, "the live keys holding the role");
    assert_eq!(find_role(&store, &ws.id, &role.id).await, Some(changed.clone()));
    trail
        .expect(
            [created("docs.delete"), granted(&role.id, "docs.delete"), revoked(&role.id, "docs.read")],
            "events for real changes only",
        )
        .await;
    assert_eq!(read_key(&store, &ws.id, &holder.id).await.permissions, strings(&["docs.delete", "docs.write"]));
    assert!(find_permission(&store, &ws.id, "docs.read").await.is_some(), "unlinked permissions remain");
    assert_eq!(read_key(&store, &ws.id, &bystander.id).await.permissions, strings(&["docs.read"]));

    let (same, hashes) = effect(set(&role.id, &["docs.write", "docs.delete"], false).await);
    assert_eq!((same, hashes), (changed.clone(), holders.clone()), "no change still reports the holders");
    trail.expect([], "setting the same set writes nothing").await;

    let refused = set(&role.id, &["docs.read", "nope", "nada"], false).await;
    assert_eq!(missing(refused), Missing::Permission("nope".into()));
    assert_eq!(find_role(&store, &ws.id, &role.id).await, Some(changed.clone()), "nothing written");
    trail.expect([], "a refused set writes nothing").await;

    let (cleared, hashes) = effect(set(&role.id, &[], false).await);
    assert!(cleared.permissions.is_empty());
    assert_eq!(hashes, holders);
    trail.expect([revoked(&role.id, "docs.delete"), revoked(&role.id, "docs.write")], "[] clears").await;
    assert!(read_key(&store, &ws.id, &holder.id).await.permissions.is_empty());

    let (idle_after, hashes) = effect(set(&idle.id, &["docs.read"], false).await);
    assert_eq!(slugs(&idle_after.permissions), ["docs.read"]);
    assert_eq!(hashes, vec![also.hash.clone()]);
    trail.expect([granted(&idle.id, "docs.read")], "a link to an existing permission").await;

    assert!(set("role_missing", &["fresh.one"], true).await.unwrap().is_none());
    assert!(set("editor", &["fresh.one"], true).await.unwrap().is_none(), "by id only");
    let fresh = strings(&["fresh.one"]);
    let foreign = store
        .set_role_permissions(
            &link_write(&other_ws.id, &role.id, LinkChange::Set, &fresh, true),
            &changes(&other_ws.id),
        )
        .await;
    assert!(foreign.unwrap().is_none(), "another workspace's role");
    assert_eq!(find_permission(&store, &ws.id, "fresh.one").await, None, "nothing created for an unknown role");
    assert_eq!(find_permission(&store, &other_ws.id, "fresh.one").await, None);
    trail.expect([], "unknown roles write nothing").await;
}

pub async fn key_permissions_add_remove_set(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    create_role(&store, new_role(&ws.id, "writer", &["docs.write"])).await;
    create_permission(&store, permission(&ws.id, "unlinked.one")).await;
    let key =
        insert(&store, NewKey { permissions: strings(&["docs.read"]), roles: strings(&["writer"]), ..new_key(&api) })
            .await;
    let k = key.id.as_str();
    let mut trail = Trail::of(&store, &ws.id).await;
    let change = |change: LinkChange, slugs: &[&str], create_missing: bool| {
        let store = store.clone();
        let (ws, key_id, slugs) = (ws.id.clone(), key.id.clone(), strings(slugs));
        async move {
            let result = store
                .change_key_permissions(&link_write(&ws, &key_id, change, &slugs, create_missing), &changes(&ws))
                .await;
            result.unwrap().expect("the key is live")
        }
    };

    let added = change(LinkChange::Add, &["DOCS.READ", "docs.list", "Docs.List", "billing.view"], true).await;
    assert_eq!(slugs(&added), ["billing.view", "docs.list", "docs.read"], "direct permissions, sorted by slug");
    assert_auto_created(&added[1], &ws.id, "docs.list");
    assert_eq!(find_permission(&store, &ws.id, "docs.list").await.as_ref(), Some(&added[1]));
    trail
        .expect(
            [created("docs.list"), created("billing.view"), key_linked(k, "docs.list"), key_linked(k, "billing.view")],
            "held permissions are skipped",
        )
        .await;
    let read = read_key(&store, &ws.id, k).await;
    assert_eq!(read.permissions, strings(&["billing.view", "docs.list", "docs.read", "docs.write"]));

    assert_eq!(change(LinkChange::Add, &["docs.list", "billing.view"], true).await, added, "idempotent");
    trail.expect([], "adding held permissions writes nothing").await;

    let with_write = change(LinkChange::Add, &["docs.write"], false).await;
    assert_eq!(slugs(&with_write), ["billing.view", "docs.list", "docs.read", "docs.write"]);
    trail.expect([key_linked(k, "docs.write")], "a permission held through a role can be held directly").await;
    assert_eq!(
        read_key(&store, &ws.id, k).await.permissions,
        strings(&["billing.view", "docs.list", "docs.read", "docs.write"]),
        "held both ways, listed once"
    );

    let removed = change(LinkChange::Remove, &["DOCS.LIST", "docs.read", "unlinked.one", "docs.read"], false).await;
    assert_eq!(slugs(&removed), ["billing.view", "docs.write"]);
    trail
        .expect([key_unlinked(k, "docs.list"), key_unlinked(k, "docs.read")], "unlinked permissions are skipped")
        .await;
    assert!(find_permission(&store, &ws.id, "docs.list").await.is_some(), "removing unlinks, never deletes");

    let replaced = change(LinkChange::Set, &["docs.read", "fresh.one", "billing.view"], true).await;
    assert_eq!(slugs(&replaced), ["billing.view", "docs.read", "fresh.one"]);
    trail
        .expect(
            [
                created("fresh.one"),
                key_linked(k, "docs.read"),
                key_linked(k, "fresh.one"),
                key_unlinked(k, "docs.write"),
            ],
            "Set writes only the differences",
        )
        .await;

    assert!(change(LinkChange::Set, &[], false).await.is_empty(), "[] clears");
    trail
        .expect(
            [key_unlinked(k, "billing.view"), key_unlinked(k, "docs.read"), key_unlinked(k, "fresh.one")],
            "every link removed",
        )
        .await;
    let read = read_key(&store, &ws.id, k).await;
    assert_eq!(read.permissions, strings(&["docs.write"]), "the role's permissions stay");
    assert_eq!(read.roles, strings(&["writer"]));
}

pub async fn key_permissions_missing_or_unknown_key_writes_nothing(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let (other_ws, _) = setup(&store).await;
    create_permission(&store, permission(&ws.id, "docs.write")).await;
    let key = insert(&store, NewKey { permissions: strings(&["docs.read"]), ..new_key(&api) }).await;
    let gone = insert(&store, NewKey { permissions: strings(&["docs.read"]), ..new_key(&api) }).await;
    store.delete_key(&ws.id, &gone.id, false, T0 + 1, &[]).await.unwrap().unwrap();
    let mut trail = Trail::of(&store, &ws.id).await;
    let change = |ws_id: &str, key_id: &str, change: LinkChange, slugs: &[&str], create_missing: bool| {
        let store = store.clone();
        let (ws, key_id, slugs) = (ws_id.to_string(), key_id.to_string(), strings(slugs));
        async move {
            store.change_key_permissions(&link_write(&ws, &key_id, change, &slugs, create_missing), &changes(&ws)).await
        }
    };

    for (kind, given, create_missing) in [
        (LinkChange::Add, &["docs.write", "new.one", "new.two"][..], false),
        (LinkChange::Set, &["docs.write", "new.one", "new.two"][..], false),
        (LinkChange::Remove, &["docs.read", "new.one", "new.two"][..], false),
        (LinkChange::Remove, &["docs.read", "new.one", "new.two"][..], true),
    ] {
        let refused = change(&ws.id, &key.id, kind, given, create_missing).await;
        assert_eq!(missing(refused), Missing::Permission("new.one".into()), "{kind:?} {create_missing}");
        assert_eq!(slugs(&direct(&store, &ws.id, &key.id).await), ["docs.read"], "{kind:?}: nothing written");
    }
    assert_eq!(find_permission(&store, &ws.id, "new.one").await, None, "Remove never creates");

    for (ws_id, key_id) in [(&ws.id, "key_missing"), (&ws.id, gone.id.as_str()), (&other_ws.id, key.id.as_str())] {
        for kind in [LinkChange::Add, LinkChange::Remove, LinkChange::Set] {
            let result = change(ws_id, key_id, kind, &["docs.write", "new.one"], true).await.unwrap();
            assert_eq!(result, None, "{kind:?} on {key_id} in {ws_id}: no live key, before any slug is checked");
        }
    }
    assert_eq!(find_permission(&store, &ws.id, "new.one").await, None, "nothing created for an unknown key");
    assert_eq!(find_permission(&store, &other_ws.id, "new.one").await, None);
    assert_eq!(slugs(&direct(&store, &ws.id, &key.id).await), ["docs.read"]);
    trail.expect([], "refused changes write no audit event").await;
}

pub async fn key_roles_add_remove_set(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let (other_ws, other_api) = setup(&store).await;
    let reader = create_role(&store, new_role(&ws.id, "Reader", &["docs.read"])).await;
    let writer = create_role(&store, new_role(&ws.id, "writer", &["docs.write", "docs.read"])).await;
    let admin = create_role(&store, new_role(&ws.id, "admin", &[])).await;
    let key = insert(&store, new_key(&api)).await;
    let gone = insert(&store, NewKey { roles: strings(&["Reader"]), ..new_key(&api) }).await;
    store.delete_key(&ws.id, &gone.id, false, T0 + 1, &[]).await.unwrap().unwrap();
    let foreign = insert(&store, new_key(&other_api)).await;
    let k = key.id.as_str();
    let mut trail = Trail::of(&store, &ws.id).await;
    let change = |ws_id: &str, key_id: &str, change: LinkChange, names: &[&str]| {
        let store = store.clone();
        let (ws, key_id, names) = (ws_id.to_string(), key_id.to_string(), strings(names));
        async move { store.change_key_roles(&link_write(&ws, &key_id, change, &names, false), &changes(&ws)).await }
    };
    let roles = async |kind: LinkChange, names: &[&str]| {
        change(&ws.id, k, kind, names).await.unwrap().expect("the key is live")
    };

    let added = roles(LinkChange::Add, &["reader", "WRITER", "Writer"]).await;
    assert_eq!(added, vec![reader.clone(), writer.clone()], "sorted by name in byte order, with their permissions");
    trail
        .expect([role_linked(k, "Reader"), role_linked(k, "writer")], "one event per new link, with the stored name")
        .await;
    let read = read_key(&store, &ws.id, k).await;
    assert_eq!(read.roles, strings(&["Reader", "writer"]));
    assert_eq!(read.permissions, strings(&["docs.read", "docs.write"]), "through the roles, listed once");

    assert_eq!(roles(LinkChange::Add, &["reader"]).await, added, "idempotent");
    trail.expect([], "adding a held role writes nothing").await;

    for (kind, names) in [
        (LinkChange::Add, &["admin", "nope", "nada"][..]),
        (LinkChange::Remove, &["reader", "nope", "nada"][..]),
        (LinkChange::Set, &["admin", "nope", "nada"][..]),
    ] {
        assert_eq!(missing(change(&ws.id, k, kind, names).await), Missing::Role("nope".into()), "{kind:?}");
        assert_eq!(read_key(&store, &ws.id, k).await.roles, strings(&["Reader", "writer"]), "{kind:?}: unchanged");
    }
    trail.expect([], "refused changes write nothing").await;

    let removed = roles(LinkChange::Remove, &["READER", "admin"]).await;
    assert_eq!(removed, vec![writer.clone()]);
    trail.expect([role_unlinked(k, "Reader")], "roles that exist but are not held are skipped").await;

    let replaced = roles(LinkChange::Set, &["admin", "reader"]).await;
    assert_eq!(replaced, vec![reader.clone(), admin.clone()]);
    trail
        .expect([role_linked(k, "admin"), role_linked(k, "Reader"), role_unlinked(k, "writer")], "only differences")
        .await;
    assert_eq!(read_key(&store, &ws.id, k).await.permissions, strings(&["docs.read"]));

    assert!(roles(LinkChange::Set, &[]).await.is_empty(), "[] clears");
    trail.expect([role_unlinked(k, "Reader"), role_unlinked(k, "admin")], "every link removed").await;
    let read = read_key(&store, &ws.id, k).await;
    assert!(read.roles.is_empty() && read.permissions.is_empty(), "{read:?}");

    for (ws_id, key_id) in [(&ws.id, "key_missing"), (&ws.id, gone.id.as_str()), (&other_ws.id, k)] {
        for kind in [LinkChange::Add, LinkChange::Remove, LinkChange::Set] {
            assert_eq!(change(ws_id, key_id, kind, &["admin"]).await.unwrap(), None, "{kind:?} {key_id} {ws_id}");
        }
    }
    let refused = change(&other_ws.id, &foreign.id, LinkChange::Add, &["admin"]).await;
    assert_eq!(missing(refused), Missing::Role("admin".into()), "another workspace's role");
    trail.expect([], "nothing written for unknown keys").await;
}

/// The store mints no id: a permission or role a write creates takes the id core gave for it, the
/// n-th distinct slug or name (ignoring case) the n-th id, and a slug without one is missing.
pub async fn created_permissions_and_roles_take_the_ids_core_minted(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    create_permission(&store, permission(&ws.id, "docs.read")).await;
    let key = insert(&store, new_key(&api)).await;
    let mut write =
        link_write(&ws.id, &key.id, LinkChange::Add, &strings(&["a.one", "DOCS.READ", "A.ONE", "b.two"]), true);
    write.new_permission_ids = strings(&["perm_first", "perm_unused", "perm_third"]);
    let held = store.change_key_permissions(&write, &changes(&ws.id)).await.unwrap().expect("the key is live");
    let ids = |slug: &str| held.iter().find(|p| p.slug == slug).map(|p| p.id.clone());
    assert_eq!((ids("a.one").as_deref(), ids("b.two").as_deref()), (Some("perm_first"), Some("perm_third")));

    write.items = strings(&["c.three", "d.four"]);
    write.new_permission_ids = strings(&["perm_c"]);
    let refused = store.change_key_permissions(&write, &changes(&ws.id)).await;
    assert_eq!(missing(refused), Missing::Permission("d.four".into()), "a slug without an id is missing");
    assert_eq!(find_permission(&store, &ws.id, "c.three").await, None, "nothing is written");

    let imported = ImportedKey {
        key: NewKey { roles: strings(&["Ops", "ops", "dev"]), hash: KeyHash::of("imported"), ..new_key(&api) },
        audit: event(&ws.id, "key.create", "imported"),
        new_role_ids: strings(&["role_ops", "role_dev"]),
    };
    store.migrate_keys(&[imported], None, &changes(&ws.id)).await.unwrap();
    let role_ids =
        [find_role(&store, &ws.id, "OPS").await, find_role(&store, &ws.id, "dev").await].map(|r| r.map(|r| r.id));
    assert_eq!(role_ids, [Some("role_ops".to_string()), Some("role_dev".to_string())]);
}

pub async fn key_create_with_permissions_and_roles(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let existing = create_permission(&store, permission(&ws.id, "docs.Read")).await;
    create_role(&store, new_role(&ws.id, "Writer", &["docs.write"])).await;
    create_role(&store, new_role(&ws.id, "auditor", &["docs.read"])).await;
    let mut trail = Trail::of(&store, &ws.id).await;

    let key = with_permission_ids(NewKey {
        permissions: strings(&["docs.read", "billing.view", "BILLING.VIEW", "reports.*"]),
        roles: strings(&["writer", "AUDITOR", "Writer"]),
        ..new_key(&api)
    });
    let k = key.id.as_str();
    let audit = [event(&ws.id, "key.create", k)];
    store.create_key(&key, &audit, &changes(&ws.id)).await.unwrap();
    trail
        .expect(
            [
                audit[0].description.clone(),
                created("billing.view"),
                created("reports.*"),
                key_linked(k, "billing.view"),
                key_linked(k, "docs.Read"),
                key_linked(k, "reports.*"),
                role_linked(k, "Writer"),
                role_linked(k, "auditor"),
            ],
            "the given events, one per created permission, one per link",
        )
        .await;

    let read = read_key(&store, &ws.id, k).await;
    assert_eq!(
        read.permissions,
        strings(&["billing.view", "docs.Read", "docs.write", "reports.*"]),
        "direct and through roles, listed once, sorted in byte order"
    );
    assert_eq!(read.roles, strings(&["Writer", "auditor"]), "sorted in byte order");
    let held = direct(&store, &ws.id, k).await;
    assert_eq!(slugs(&held), ["billing.view", "docs.Read", "reports.*"]);
    assert_eq!(held[1], existing, "an existing slug is linked whatever its case");
    let billing = find_permission(&store, &ws.id, "billing.view").await.unwrap();
    assert_auto_created(&billing, &ws.id, "billing.view");
    assert_eq!(billing.created_at, key.created_at);
    assert_eq!(held[0], billing);

    let plain = insert(&store, new_key(&api)).await;
    let read = read_key(&store, &ws.id, &plain.id).await;
    assert!(read.permissions.is_empty() && read.roles.is_empty(), "{read:?}");
}

pub async fn key_create_missing_role_writes_nothing(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    create_role(&store, new_role(&ws.id, "reader", &["docs.read"])).await;
    let mut trail = Trail::of(&store, &ws.id).await;

    let key = NewKey {
        external_id: Some("user_1".into()),
        permissions: strings(&["new.perm"]),
        roles: strings(&["reader", "ghost", "phantom"]),
        ..new_key(&api)
    };
    let refused = store.create_key(&key, &[event(&ws.id, "key.create", &key.id)], &changes(&ws.id)).await;
    assert_eq!(missing(refused), Missing::Role("ghost".into()), "the first missing role, as given");
    assert_eq!(store.get_key(&ws.id, &key.id).await.unwrap(), None);
    assert_eq!(store.find_key_by_hash(&key.hash).await.unwrap(), None);
    assert_eq!(store.find_identity_by_external_id(&ws.id, "user_1").await.unwrap(), None, "no identity");
    assert_eq!(find_permission(&store, &ws.id, "new.perm").await, None, "no auto-created permission");
    trail.expect([], "no audit event").await;

    let created = insert(&store, NewKey { roles: strings(&["reader"]), ..key.clone() }).await;
    let read = read_key(&store, &ws.id, &created.id).await;
    assert_eq!((read.permissions, read.roles), (strings(&["docs.read", "new.perm"]), strings(&["reader"])));

    let dup = NewKey { hash: key.hash.clone(), permissions: strings(&["other.new"]), ..new_key(&api) };
    let err = store.create_key(&dup, &[], &changes(&ws.id)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(find_permission(&store, &ws.id, "other.new").await, None, "a conflicting insert creates nothing");
}

/// Like rate limits, a key's permissions and roles come with it from every read, each key with
/// its own (list pages included).
pub async fn key_permissions_and_roles_on_every_read_path(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    create_role(&store, new_role(&ws.id, "ops", &["b.perm", "A.perm"])).await;
    create_role(&store, new_role(&ws.id, "Dev", &["b.perm"])).await;
    let key = insert(
        &store,
        NewKey {
            external_id: Some("user_1".into()),
            permissions: strings(&["c.perm", "b.perm"]),
            roles: strings(&["ops", "dev"]),
            ..new_key(&api)
        },
    )
    .await;
    let role_only = insert(&store, NewKey { roles: strings(&["Dev"]), ..new_key(&api) }).await;
    let plain = insert(&store, new_key(&api)).await;
    let check = |read: &Key, path: &str| {
        assert_eq!(read.permissions, strings(&["A.perm", "b.perm", "c.perm"]), "{path}");
        assert_eq!(read.roles, strings(&["Dev", "ops"]), "{path}");
    };

    check(&read_key(&store, &ws.id, &key.id).await, "get_key");
    check(&store.find_key_by_hash(&key.hash).await.unwrap().unwrap().key, "find_key_by_hash");
    let listed = store.list_keys(&api.id, None, &page("", 10)).await.unwrap();
    assert_eq!(listed.len(), 3);
    for read in &listed {
        if read.id == key.id {
            check(read, "list_keys");
        } else if read.id == role_only.id {
            assert_eq!((&read.permissions, &read.roles), (&strings(&["b.perm"]), &strings(&["Dev"])), "list_keys");
        } else {
            assert_eq!(read.id, plain.id);
            assert!(read.permissions.is_empty() && read.roles.is_empty(), "list_keys: {read:?}");
        }
    }
    let identity = store.find_identity_by_external_id(&ws.id, "user_1").await.unwrap().unwrap();
    let by_identity = store.list_keys(&api.id, Some(&identity.id), &page("", 10)).await.unwrap();
    assert_eq!(by_identity.len(), 1);
    check(&by_identity[0], "list_keys by identity");
    let touch = crate::KeyUpdate { updated_at: T0 + 1, ..crate::KeyUpdate::default() };
    check(&store.update_key(&ws.id, &key.id, &touch, &[], &changes(&ws.id)).await.unwrap().unwrap(), "update_key");
    check(&store.delete_key(&ws.id, &key.id, false, T0 + 2, &[]).await.unwrap().unwrap(), "delete_key");
}

/// Observed through the ports: the permission and role remain, nobody holds them any more, and
/// the same key id can be inserted again holding nothing.
pub async fn delete_key_permanent_removes_rbac_links(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let ops = create_role(&store, new_role(&ws.id, "ops", &["docs.read"])).await;
    let key =
        insert(&store, NewKey { permissions: strings(&["docs.write"]), roles: strings(&["ops"]), ..new_key(&api) })
            .await;
    let deleted = store.delete_key(&ws.id, &key.id, true, T0 + 1, &[]).await.unwrap().unwrap();
    assert_eq!(deleted.permissions, strings(&["docs.read", "docs.write"]), "returns the key as it was");
    assert_eq!(deleted.roles, strings(&["ops"]));

    assert_eq!(find_role(&store, &ws.id, "ops").await, Some(ops.clone()));
    let write = find_permission(&store, &ws.id, "docs.write").await.expect("the permission remains");
    let again = insert(&store, NewKey { id: key.id.clone(), ..new_key(&api) }).await;
    let read = read_key(&store, &ws.id, &again.id).await;
    assert!(read.permissions.is_empty() && read.roles.is_empty(), "{read:?}");

    let effect = store.delete_role(&ws.id, &ops.id, &[]).await.unwrap().unwrap();
    assert_eq!(effect.key_hashes, Vec::<KeyHash>::new());
    let effect = store.delete_permission(&ws.id, &write.id, &[]).await.unwrap().unwrap();
    assert_eq!(effect.key_hashes, Vec::<KeyHash>::new());
}

/// A role or permission of one workspace cannot be found, linked, changed or deleted through
/// another, whose own slugs and names are independent.
pub async fn rbac_workspace_isolation(store: Arc<dyn Store>) {
    let (a, a_api) = setup(&store).await;
    let (b, b_api) = setup(&store).await;
    let read = create_permission(&store, permission(&a.id, "docs.read")).await;
    let reader = create_role(&store, new_role(&a.id, "reader", &["docs.read"])).await;
    let a_key = insert(&store, NewKey { roles: strings(&["reader"]), ..new_key(&a_api) }).await;
    let b_key = insert(&store, new_key(&b_api)).await;
    let mut a_trail = Trail::of(&store, &a.id).await;
    let b_changes = changes(&b.id);

    assert_eq!(find_permission(&store, &b.id, &read.id).await, None);
    assert_eq!(find_permission(&store, &b.id, "docs.read").await, None);
    assert_eq!(find_role(&store, &b.id, &reader.id).await, None);
    assert_eq!(find_role(&store, &b.id, "reader").await, None);
    assert!(store.list_permissions(&b.id, None, &page("", 10)).await.unwrap().is_empty());
    assert!(store.list_roles(&b.id, None, &page("", 10)).await.unwrap().is_empty());

    let strict = new_role(&b.id, "reader", &["docs.read"]);
    let refused = store.create_role(&NewRole { new_permission_ids: vec![], ..strict.clone() }, &[], &b_changes).await;
    assert_eq!(missing(refused), Missing::Permission("docs.read".into()), "A's permission cannot be linked");
    let ghost = NewKey { roles: strings(&["reader"]), ..new_key(&b_api) };
    let refused = store.create_key(&ghost, &[], &b_changes).await;
    assert_eq!(missing(refused), Missing::Role("reader".into()), "A's role cannot be linked");
    let refused = store
        .change_key_roles(&link_write(&b.id, &b_key.id, LinkChange::Add, &strings(&["reader"]), false), &b_changes)
        .await;
    assert_eq!(missing(refused), Missing::Role("reader".into()));
    let refused = store
        .change_key_permissions(
            &link_write(&b.id, &b_key.id, LinkChange::Add, &strings(&["docs.read"]), false),
            &b_changes,
        )
        .await;
    assert_eq!(missing(refused), Missing::Permission("docs.read".into()));

    let add = strings(&["docs.read"]);
    let through_b =
        store.change_key_permissions(&link_write(&b.id, &a_key.id, LinkChange::Set, &add, true), &b_changes).await;
    assert_eq!(through_b.unwrap(), None, "A's key through B");
    let through_b =
        store.change_key_roles(&link_write(&b.id, &a_key.id, LinkChange::Set, &[], false), &b_changes).await;
    assert_eq!(through_b.unwrap(), None);
    assert_eq!(
        store
            .set_role_permissions(&link_write(&b.id, &reader.id, LinkChange::Set, &[], false), &b_changes)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.delete_role(&b.id, &reader.id, &[]).await.unwrap(), None);
    assert_eq!(store.delete_permission(&b.id, &read.id, &[]).await.unwrap(), None);

    let b_read = store
        .change_key_permissions(&link_write(&b.id, &b_key.id, LinkChange::Add, &add, true), &b_changes)
        .await
        .unwrap()
        .expect("B's key is live");
    assert_eq!(slugs(&b_read), ["docs.read"]);
    assert_ne!(b_read[0].id, read.id, "B gets its own permission of the same slug");
    assert_eq!(b_read[0].workspace_id, b.id);
    let b_reader = create_role(&store, new_role(&b.id, "READER", &["docs.read"])).await;
    assert_eq!(b_reader.permissions, b_read, "B's role links B's permission");
    assert_eq!(find_role(&store, &b.id, "reader").await, Some(b_reader));

    assert_eq!(find_permission(&store, &a.id, "docs.read").await, Some(read.clone()));
    assert_eq!(find_role(&store, &a.id, "reader").await, Some(reader));
    let a_read = read_key(&store, &a.id, &a_key.id).await;
    assert_eq!((a_read.permissions, a_read.roles), (strings(&["docs.read"]), strings(&["reader"])));
    assert_eq!(store.list_permissions(&a.id, None, &page("", 10)).await.unwrap(), vec![read]);
    a_trail.expect([], "nothing done through B is written to A's trail").await;
}

/// updateKey's `permissions` and `roles` replace the key's direct permissions and its roles in
/// the update's transaction: missing slugs are created, a missing role refuses the whole update.
pub async fn key_update_replaces_permissions_and_roles(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    create_role(&store, new_role(&ws.id, "reader", &["docs.read"])).await;
    create_role(&store, new_role(&ws.id, "writer", &["docs.write"])).await;
    let key =
        insert(&store, NewKey { permissions: strings(&["old.perm"]), roles: strings(&["reader"]), ..new_key(&api) })
            .await;
    let mut trail = Trail::of(&store, &ws.id).await;

    let update = crate::KeyUpdate {
        name: keyway_domain::Patch::Set("renamed".into()),
        permissions: Some(strings(&["new.perm", "OLD.PERM"])),
        new_permission_ids: permission_ids(&strings(&["new.perm", "OLD.PERM"]), true),
        roles: Some(strings(&["WRITER"])),
        updated_at: T0 + 5,
        ..Default::default()
    };
    let audit = [event(&ws.id, "key.update", &key.id)];
    let updated = store.update_key(&ws.id, &key.id, &update, &audit, &changes(&ws.id)).await.unwrap().unwrap();
    assert_eq!(updated.permissions, strings(&["docs.write", "new.perm", "old.perm"]));
    assert_eq!(updated.roles, strings(&["writer"]));
    assert_eq!(updated.name.as_deref(), Some("renamed"));
    assert_eq!(read_key(&store, &ws.id, &key.id).await, updated);
    assert_eq!(find_permission(&store, &ws.id, "new.perm").await.map(|p| p.created_at), Some(T0 + 5));
    let k = &key.id;
    trail
        .expect(
            [
                format!("key.update {k}"),
                "permission.create new.perm".into(),
                format!("authorization.connect_permission_and_key {k} new.perm"),
                format!("authorization.disconnect_role_and_key {k} reader"),
                format!("authorization.connect_role_and_key {k} writer"),
            ],
            "one event per change",
        )
        .await;

    let refused = crate::KeyUpdate {
        name: keyway_domain::Patch::Set("again".into()),
        permissions: Some(strings(&["never.created"])),
        roles: Some(strings(&["ghost"])),
        updated_at: T0 + 6,
        ..Default::default()
    };
    let result = store.update_key(&ws.id, &key.id, &refused, &audit, &changes(&ws.id)).await;
    assert_eq!(missing(result), Missing::Role("ghost".into()));
    assert_eq!(read_key(&store, &ws.id, &key.id).await, updated, "a refused update changes nothing");
    assert_eq!(find_permission(&store, &ws.id, "never.created").await, None);
    trail.expect([], "and writes no audit event").await;

    let cleared =
        crate::KeyUpdate { permissions: Some(vec![]), roles: Some(vec![]), updated_at: T0 + 7, ..Default::default() };
    let after = store.update_key(&ws.id, &key.id, &cleared, &[], &changes(&ws.id)).await.unwrap().unwrap();
    assert_eq!((after.permissions, after.roles), (Vec::<String>::new(), Vec::<String>::new()));
}
