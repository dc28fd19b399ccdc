//! `permissions.*` (reference §5.2) and the permission/role assignment of keys (§3.10).

use crate::validate::{Validate, Violations};
use keyway_store::{Permission, Role};
use serde::{Deserialize, Serialize};

/// A permission slug: 1..=128 of `[a-zA-Z0-9_:\-.*]`.
pub fn slug(v: &mut Violations, field: &str, value: &str) {
    v.len_between(field, value, 1, 128);
    v.charset(field, value, "_:-.*", r"^[a-zA-Z0-9_:\-\.\*]+$");
}

fn slugs(v: &mut Violations, field: &str, values: &[String], min: usize, max: usize) {
    v.items_between(field, values.len(), min, max);
    for value in values {
        slug(v, field, value);
    }
}

fn role_names(v: &mut Violations, field: &str, values: &[String], min: usize, max: usize) {
    v.items_between(field, values.len(), min, max);
    for value in values {
        v.len_between(field, value, 1, 128);
    }
}

fn description(v: &mut Violations, value: &Option<String>) {
    if let Some(d) = value {
        v.len_between("description", d, 0, 512);
    }
}

fn list_query(v: &mut Violations, limit: Option<i64>, cursor: &Option<String>, search: &Option<String>) {
    if let Some(limit) = limit {
        v.int_between("limit", limit, 1, 100);
    }
    if let Some(cursor) = cursor {
        v.len_between("cursor", cursor, 1, 1024);
    }
    if let Some(search) = search {
        v.len_between("search", search, 0, 256);
    }
}

/// `Permission`.
#[derive(Debug, Clone, Serialize)]
pub struct PermissionData {
    pub id: String,
    pub name: String,
    pub slug: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl From<Permission> for PermissionData {
    fn from(p: Permission) -> Self {
        PermissionData { id: p.id, name: p.name, slug: p.slug, description: p.description.filter(|d| !d.is_empty()) }
    }
}

/// `Role`, with its permissions (omitted when it has none).
#[derive(Debug, Clone, Serialize)]
pub struct RoleData {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<PermissionData>,
}

impl From<Role> for RoleData {
    fn from(r: Role) -> Self {
        RoleData {
            id: r.id,
            name: r.name,
            description: r.description.filter(|d| !d.is_empty()),
            permissions: r.permissions.into_iter().map(PermissionData::from).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePermissionBody {
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
}

impl Validate for CreatePermissionBody {
    fn validate(&self, v: &mut Violations) {
        v.len_between("name", &self.name, 1, 512);
        slug(v, "slug", &self.slug);
        description(v, &self.description);
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePermissionData {
    pub permission_id: String,
}

/// getPermission and deletePermission: a permission by id or slug.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PermissionRefBody {
    pub permission: String,
}

impl Validate for PermissionRefBody {
    fn validate(&self, v: &mut Violations) {
        slug(v, "permission", &self.permission);
    }
}

/// listPermissions and listRoles.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListRbacBody {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub search: Option<String>,
}

impl Validate for ListRbacBody {
    fn validate(&self, v: &mut Violations) {
        list_query(v, self.limit, &self.cursor, &self.search);
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRoleBody {
    pub name: String,
    pub description: Option<String>,
    pub permissions: Option<Vec<String>>,
}

impl Validate for CreateRoleBody {
    fn validate(&self, v: &mut Violations) {
        v.len_between("name", &self.name, 1, 128);
        description(v, &self.description);
        if let Some(permissions) = &self.permissions {
            slugs(v, "permissions", permissions, 0, 1000);
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRoleData {
    pub role_id: String,
}

/// getRole and deleteRole: a role by id or name.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleRefBody {
    pub role: String,
}

impl Validate for RoleRefBody {
    fn validate(&self, v: &mut Violations) {
        v.len_between("role", &self.role, 1, 128);
    }
}

/// The role is named by `role` (id or name), or by `roleId`, its older spelling, which the SDKs
/// still send.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetRolePermissionsBody {
    pub role: Option<String>,
    pub role_id: Option<String>,
    pub permissions: Vec<String>,
}

impl SetRolePermissionsBody {
    pub fn role(&self) -> &str {
        self.role.as_deref().or(self.role_id.as_deref()).unwrap_or_default()
    }
}

impl Validate for SetRolePermissionsBody {
    fn validate(&self, v: &mut Violations) {
        match (&self.role, &self.role_id) {
            (None, None) => v.push("role", "required", "missing property 'role'"),
            (Some(role), _) => v.len_between("role", role, 1, 255),
            (None, Some(role_id)) => v.len_between("roleId", role_id, 1, 255),
        }
        slugs(v, "permissions", &self.permissions, 0, 1000);
    }
}

/// keys.addPermissions and removePermissions take 1..=1000 slugs (`MIN` = 1); setPermissions
/// may clear with `[]` (`MIN` = 0).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyPermissionsBody<const MIN: usize> {
    pub key_id: String,
    pub permissions: Vec<String>,
}

impl<const MIN: usize> Validate for KeyPermissionsBody<MIN> {
    fn validate(&self, v: &mut Violations) {
        v.identifier("keyId", &self.key_id, 3);
        // Unkey bounds only add and remove; setPermissions is bounded here too, as a request
        // with more than 1000 slugs is surely a mistake.
        slugs(v, "permissions", &self.permissions, MIN, 1000);
    }
}

/// keys.addRoles and removeRoles take 1..=100 names (`MIN` = 1); setRoles may clear with `[]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyRolesBody<const MIN: usize> {
    pub key_id: String,
    pub roles: Vec<String>,
}

impl<const MIN: usize> Validate for KeyRolesBody<MIN> {
    fn validate(&self, v: &mut Violations) {
        v.identifier("keyId", &self.key_id, 3);
        role_names(v, "roles", &self.roles, MIN, 100);
    }
}
