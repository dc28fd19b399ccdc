//! Routes: one thin handler per operation.

mod analytics;
mod apis;
mod audit;
mod fallback;
mod identities;
mod keys;
mod liveness;
mod migrations;
mod permissions;
mod ratelimit;
mod reroll;
mod root_keys;

use crate::AppState;
use axum::Router;
use axum::routing::{get, post};
use keyway_store::PageRequest;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/liveness", get(liveness::liveness))
        .route("/v2/analytics.getVerifications", post(analytics::get_verifications))
        .route("/v2/analytics.getRatelimits", post(analytics::get_ratelimits))
        .route("/v2/apis.createApi", post(apis::create_api))
        .route("/v2/apis.getApi", post(apis::get_api))
        .route("/v2/apis.deleteApi", post(apis::delete_api))
        .route("/v2/apis.listKeys", post(apis::list_keys))
        .route("/v2/apis.setIpAllowlist", post(apis::set_ip_allowlist))
        .route("/v2/keys.createKey", post(keys::create_key))
        .route("/v2/keys.getKey", post(keys::get_key))
        .route("/v2/keys.whoami", post(keys::whoami))
        .route("/v2/keys.updateKey", post(keys::update_key))
        .route("/v2/keys.updateCredits", post(keys::update_credits))
        .route("/v2/keys.deleteKey", post(keys::delete_key))
        .route("/v2/keys.rerollKey", post(reroll::reroll_key))
        .route("/v2/keys.verifyKey", post(keys::verify_key))
        .route("/v2/keys.migrateKeys", post(migrations::migrate_keys))
        .route("/v2/migrations.createMigration", post(migrations::create_migration))
        .route("/v2/keys.addPermissions", post(permissions::add_permissions))
        .route("/v2/keys.removePermissions", post(permissions::remove_permissions))
        .route("/v2/keys.setPermissions", post(permissions::set_permissions))
        .route("/v2/keys.addRoles", post(permissions::add_roles))
        .route("/v2/keys.removeRoles", post(permissions::remove_roles))
        .route("/v2/keys.setRoles", post(permissions::set_roles))
        .route("/v2/permissions.createPermission", post(permissions::create_permission))
        .route("/v2/permissions.getPermission", post(permissions::get_permission))
        .route("/v2/permissions.listPermissions", post(permissions::list_permissions))
        .route("/v2/permissions.deletePermission", post(permissions::delete_permission))
        .route("/v2/permissions.createRole", post(permissions::create_role))
        .route("/v2/permissions.getRole", post(permissions::get_role))
        .route("/v2/permissions.listRoles", post(permissions::list_roles))
        .route("/v2/permissions.deleteRole", post(permissions::delete_role))
        .route("/v2/permissions.setRolePermissions", post(permissions::set_role_permissions))
        .route("/v2/identities.createIdentity", post(identities::create_identity))
        .route("/v2/identities.getIdentity", post(identities::get_identity))
        .route("/v2/identities.listIdentities", post(identities::list_identities))
        .route("/v2/identities.updateIdentity", post(identities::update_identity))
        .route("/v2/identities.deleteIdentity", post(identities::delete_identity))
        .route("/v2/ratelimit.limit", post(ratelimit::limit))
        .route("/v2/ratelimit.multiLimit", post(ratelimit::multi_limit))
        .route("/v2/ratelimit.setOverride", post(ratelimit::set_override))
        .route("/v2/ratelimit.getOverride", post(ratelimit::get_override))
        .route("/v2/ratelimit.listOverrides", post(ratelimit::list_overrides))
        .route("/v2/ratelimit.deleteOverride", post(ratelimit::delete_override))
        .route("/v2/rootKeys.createKey", post(root_keys::create_key))
        .route("/v2/rootKeys.listKeys", post(root_keys::list_keys))
        .route("/v2/rootKeys.updateKey", post(root_keys::update_key))
        .route("/v2/rootKeys.rerollKey", post(root_keys::reroll_key))
        .route("/v2/rootKeys.deleteKey", post(root_keys::delete_key))
        .route("/v2/auditLogs.list", post(audit::list_audit_logs))
        // Last: it applies to the routes added before it.
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .fallback(fallback::route_not_found)
}

/// List endpoints default to 100 items.
fn page(cursor: Option<String>, limit: Option<i64>) -> PageRequest {
    PageRequest { cursor: cursor.unwrap_or_default(), limit: limit.unwrap_or(100) as usize }
}
