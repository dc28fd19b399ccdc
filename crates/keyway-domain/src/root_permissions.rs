//! What a root key may do (reference §10): the permission vocabulary, requirement expressions, and
//! the rule that decides whether a set of grants satisfies a requirement.
//!
//! Tuple permissions (`api.<id|*>.<action>`) match by exact string equality: `*` is a literal id
//! that handlers list as an alternative, never a pattern. Resource names
//! (`unkey:v1:<ws>:<path>#<action>`) are the one place grants act as patterns: `*` matches one
//! path segment and a trailing `**` matches the rest.

use std::collections::HashSet;
use std::fmt;

/// Every tuple permission with the `*` id: what a workspace's first root key holds.
pub const ALL_TUPLE_PERMISSIONS: &[&str] = &[
    "api.*.create_api",
    "api.*.read_api",
    "api.*.update_api",
    "api.*.delete_api",
    "api.*.create_key",
    "api.*.read_key",
    "api.*.update_key",
    "api.*.delete_key",
    "api.*.verify_key",
    "api.*.encrypt_key",
    "api.*.decrypt_key",
    "api.*.read_analytics",
    "ratelimit.*.limit",
    "ratelimit.*.create_namespace",
    "ratelimit.*.read_namespace",
    "ratelimit.*.update_namespace",
    "ratelimit.*.delete_namespace",
    "ratelimit.*.set_override",
    "ratelimit.*.read_override",
    "ratelimit.*.delete_override",
    "ratelimit.*.read_analytics",
    "rbac.*.create_permission",
    "rbac.*.read_permission",
    "rbac.*.update_permission",
    "rbac.*.delete_permission",
    "rbac.*.create_role",
    "rbac.*.read_role",
    "rbac.*.update_role",
    "rbac.*.delete_role",
    "rbac.*.add_permission_to_key",
    "rbac.*.remove_permission_from_key",
    "rbac.*.add_role_to_key",
    "rbac.*.remove_role_from_key",
    "rbac.*.add_permission_to_role",
    "rbac.*.remove_permission_from_role",
    "identity.*.create_identity",
    "identity.*.read_identity",
    "identity.*.update_identity",
    "identity.*.delete_identity",
    // Keyway's own: reading the audit log (`auditLogs.list`). Unkey's v2 API has no such endpoint.
    "audit_log.*.read_event",
];

/// Every permission a workspace's administrator root key holds: all tuples, and the resource-name
/// admin grant of the workspace.
pub fn all_permissions(workspace_id: &str) -> Vec<String> {
    let mut all: Vec<String> = ALL_TUPLE_PERMISSIONS.iter().map(|p| p.to_string()).collect();
    all.push(format!("unkey:v1:{workspace_id}:**#*"));
    all
}

/// A requirement on a root key's permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Leaf(String),
    Any(Vec<Requirement>),
    All(Vec<Requirement>),
}

impl Requirement {
    pub fn leaf(p: impl Into<String>) -> Self {
        Requirement::Leaf(p.into())
    }

    fn render(&self, top: bool) -> String {
        match self {
            Requirement::Leaf(p) => p.clone(),
            Requirement::Any(items) => {
                let inner = items.iter().map(|r| r.render(false)).collect::<Vec<_>>().join(" or ");
                if top { inner } else { format!("({inner})") }
            }
            Requirement::All(items) => {
                let inner = items.iter().map(|r| r.render(false)).collect::<Vec<_>>().join(" and ");
                if top { inner } else { format!("({inner})") }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// The detail of a 403 `insufficient_permissions`, worded as the reference (§1.2).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::Leaf(p) => write!(f, "Missing permission: '{p}'"),
            Requirement::Any(_) => {
                write!(f, "Missing one of these permissions: {}", self.render(true))
            }
            Requirement::All(_) => write!(f, "Missing permissions: {}", self.render(true)),
        }
    }
}

/// The permissions a root key holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    exact: HashSet<String>,
    resource_names: Vec<ResourceName>,
}

impl Grants {
    pub fn new<I, S>(permissions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut exact = HashSet::new();
        let mut resource_names = Vec::new();
        for p in permissions {
            let p = p.into();
            if let Ok(urn) = ResourceName::parse(&p) {
                resource_names.push(urn);
            }
            exact.insert(p);
        }
        Grants { exact, resource_names }
    }

    /// Whether one permission string is granted: held exactly, or, for a resource name, covered by
    /// a resource-name grant.
    pub fn grants(&self, permission: &str) -> bool {
        if self.exact.contains(permission) {
            return true;
        }
        match ResourceName::parse(permission) {
            Ok(required) => self.resource_names.iter().any(|g| g.covers(&required)),
            Err(_) => false,
        }
    }

    /// Whether a root key with these grants may hand `permission` to another root key: it holds
    /// it, or holds the same action on every id (`api.*.read_key` may delegate `api.api_1.read_key`).
    pub fn can_delegate(&self, permission: &str) -> bool {
        if self.grants(permission) {
            return true;
        }
        let mut parts = permission.splitn(3, '.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(resource), Some(_), Some(action)) if !permission.starts_with("unkey:") => {
                self.exact.contains(&format!("{resource}.*.{action}"))
            }
            _ => false,
        }
    }

    /// The ids `<id>` of the legacy tuples `<resource>.<id>.<action>` held exactly, `*` excluded:
    /// the resources a per-id grant (e.g. `api.<apiId>.read_analytics`) names.
    pub fn ids_with(&self, resource: &str, action: &str) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .exact
            .iter()
            .filter_map(|p| p.strip_prefix(resource)?.strip_prefix('.')?.strip_suffix(action)?.strip_suffix('.'))
            .filter(|id| *id != "*" && !id.is_empty() && !id.contains('.'))
            .collect();
        ids.sort_unstable();
        ids
    }

    pub fn satisfies(&self, requirement: &Requirement) -> bool {
        match requirement {
            Requirement::Leaf(p) => self.grants(p),
            Requirement::Any(items) => items.iter().any(|r| self.satisfies(r)),
            Requirement::All(items) => items.iter().all(|r| self.satisfies(r)),
        }
    }
}

/// Why a permission string is not a valid grant for a root key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a valid root key permission")]
pub struct InvalidPermission(pub String);

/// Checks that `permission` is a tuple of the vocabulary (with `*` or an id) or a well-formed
/// resource name. Invalid grants are refused at creation rather than silently granting nothing.
pub fn validate_permission(permission: &str) -> Result<(), InvalidPermission> {
    if permission.starts_with("unkey:") {
        return ResourceName::parse(permission).map(|_| ()).map_err(|_| InvalidPermission(permission.to_string()));
    }
    let invalid = || InvalidPermission(permission.to_string());
    let mut parts = permission.splitn(3, '.');
    let (resource, id, action) =
        (parts.next().ok_or_else(invalid)?, parts.next().ok_or_else(invalid)?, parts.next().ok_or_else(invalid)?);
    let known = ALL_TUPLE_PERMISSIONS
        .iter()
        .any(|p| p.starts_with(&format!("{resource}.*.")) && p.ends_with(&format!(".{action}")));
    let id_ok = id == "*"
        || (!id.is_empty()
            && id.len() <= 255
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    if known && id_ok && !action.contains('.') { Ok(()) } else { Err(invalid()) }
}

/// A parsed resource name `unkey:v1:<ws>:<path>#<action>` (reference §10.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceName {
    workspace: String,
    path: Vec<String>,
    action: String,
}

impl ResourceName {
    pub fn parse(s: &str) -> Result<Self, InvalidPermission> {
        let invalid = || InvalidPermission(s.to_string());
        let fields: Vec<&str> = s.split(':').collect();
        if fields.len() != 4 || fields[0] != "unkey" || fields[1] != "v1" {
            return Err(invalid());
        }
        let workspace = fields[2];
        if workspace.is_empty() || workspace.contains(['#', '/']) {
            return Err(invalid());
        }
        let (path, action) = fields[3].split_once('#').ok_or_else(invalid)?;
        if action.is_empty()
            || action.contains(['#', '/', ':'])
            || (action.contains('*') && action != "*")
            || action.starts_with('_')
            || action.ends_with('_')
        {
            return Err(invalid());
        }
        let segments: Vec<String> = path.split('/').map(str::to_string).collect();
        let last = segments.len() - 1;
        for (i, seg) in segments.iter().enumerate() {
            let ok = !seg.is_empty() && (seg == "*" || (seg == "**" && i == last) || !seg.contains('*'));
            if !ok {
                return Err(invalid());
            }
        }
        if action == "*" && path != "**" {
            return Err(invalid());
        }
        Ok(ResourceName { workspace: workspace.to_string(), path: segments, action: action.to_string() })
    }

    /// Whether this grant covers `required`: same workspace, equal action (or `*`), and a path that
    /// matches segment by segment.
    pub fn covers(&self, required: &ResourceName) -> bool {
        if self.workspace != required.workspace || (self.action != "*" && self.action != required.action) {
            return false;
        }
        for (i, seg) in self.path.iter().enumerate() {
            if seg == "**" {
                return true;
            }
            match required.path.get(i) {
                Some(r) if seg == "*" || seg == r => {}
                _ => return false,
            }
        }
        self.path.len() == required.path.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_match_exactly_and_star_is_literal() {
        let g = Grants::new(["api.*.create_key", "api.*.*"]);
        assert!(g.satisfies(&crate::access::api("api_123", "create_key")));
        assert!(!g.satisfies(&crate::access::api("api_123", "read_key")));
        assert!(!Grants::new(["*"]).satisfies(&crate::access::api("api_1", "read_key")));
        let specific = Grants::new(["api.api_1.read_key"]);
        assert!(specific.satisfies(&crate::access::api("api_1", "read_key")));
        assert!(!specific.satisfies(&crate::access::api("api_2", "read_key")));
    }

    #[test]
    fn ids_with_lists_per_id_tuples_only() {
        let g = Grants::new([
            "api.*.read_analytics",
            "api.api_2.read_analytics",
            "api.api_1.read_analytics",
            "api.api_3.read_key",
            "ratelimit.rlns_1.read_analytics",
            "unkey:v1:ws_1:**#*",
        ]);
        assert_eq!(g.ids_with("api", "read_analytics"), ["api_1", "api_2"]);
        assert_eq!(g.ids_with("ratelimit", "read_analytics"), ["rlns_1"]);
        assert!(g.ids_with("identity", "read_analytics").is_empty());
    }

    #[test]
    fn resource_names_cover_by_segment() {
        let admin = Grants::new(["unkey:v1:ws_1:**#*"]);
        assert!(admin.grants("unkey:v1:ws_1:rootKeys/*#write"));
        assert!(admin.grants("unkey:v1:ws_1:keyspaces/ks_1/keys/key_1#verify_key"));
        assert!(!admin.grants("unkey:v1:ws_2:rootKeys/*#write"));
        assert!(!admin.grants("api.*.read_key"));
        let star = Grants::new(["unkey:v1:ws_1:rootKeys/*#read"]);
        assert!(star.grants("unkey:v1:ws_1:rootKeys/key_9#read"));
        assert!(!star.grants("unkey:v1:ws_1:rootKeys/key_9#write"));
        let one = Grants::new(["unkey:v1:ws_1:rootKeys/key_9#read"]);
        assert!(!one.grants("unkey:v1:ws_1:rootKeys/*#read"));
    }

    #[test]
    fn parse_rules() {
        for bad in [
            "unkey:v1:ws:a/**/b#read",
            "unkey:v1:ws:a/b*#read",
            "unkey:v1:ws:a#*",
            "unkey:v1:ws:a#_read",
            "unkey:v1:ws:a//b#read",
            "unkey:v2:ws:a#read",
            "unkey:v1::a#read",
        ] {
            assert!(ResourceName::parse(bad).is_err(), "{bad}");
        }
        assert!(ResourceName::parse("unkey:v1:ws:**#*").is_ok());
    }

    #[test]
    fn validation_of_grants() {
        assert!(validate_permission("api.*.verify_key").is_ok());
        assert!(validate_permission("api.api_123.read_key").is_ok());
        assert!(validate_permission("api.*.fly").is_err());
        assert!(validate_permission("*").is_err());
        assert!(validate_permission("unkey:v1:ws_1:**#*").is_ok());
        assert!(validate_permission("unkey:v1:ws_1:a*#read").is_err());
    }

    #[test]
    fn wildcard_tuples_delegate_specific_ids_but_not_the_reverse() {
        let wide = Grants::new(["api.*.read_key"]);
        assert!(wide.can_delegate("api.api_1.read_key"));
        assert!(wide.can_delegate("api.*.read_key"));
        assert!(!wide.can_delegate("api.api_1.update_key"));
        let narrow = Grants::new(["api.api_1.read_key"]);
        assert!(!narrow.can_delegate("api.*.read_key"));
        assert!(!narrow.can_delegate("api.api_2.read_key"));
    }

    #[test]
    fn denial_details() {
        assert_eq!(Requirement::leaf("api.*.create_api").to_string(), "Missing permission: 'api.*.create_api'");
        assert_eq!(
            crate::access::api("api_1", "read_api").to_string(),
            "Missing one of these permissions: api.*.read_api or api.api_1.read_api"
        );
    }
}
