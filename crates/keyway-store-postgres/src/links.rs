//! A new key's links to permissions and roles, for createKey and for imported keys.

use crate::rbac::{self, Changes};
use keyway_store::{LinkChange, NewKey, StoreResult};
use sqlx::PgConnection;

/// Links a key just inserted to its permissions (creating missing ones) and roles.
pub(crate) async fn link_new_key(conn: &mut PgConnection, key: &NewKey, changes: &mut Changes<'_>) -> StoreResult<()> {
    let permissions =
        rbac::resolve_permissions(&mut *conn, &key.workspace_id, &key.permissions, Some(key.created_at), changes)
            .await?;
    let (ws, id, at) = (&key.workspace_id, &key.id, key.created_at);
    rbac::change_key_permission_links(&mut *conn, ws, id, LinkChange::Add, &permissions, at, changes).await?;
    rbac::change_key_role_links(&mut *conn, ws, id, LinkChange::Add, &key.roles, at, changes).await
}
