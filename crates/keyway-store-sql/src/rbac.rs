//! RBAC statements that are the same on both databases: the link tables, and the lookups and
//! listings of permissions and roles. Slugs and role names are matched through their folded
//! copies (`slug_folded`, `name_folded`), so "ignoring case" means `fold_case` whatever the
//! database's `LIKE` or collation does.

use crate::rows::{PERMISSION_COLUMNS, contains_pattern, page_limit, permission, role};
use crate::sql::{Backend, Bind, Conn, Run};
use keyway_domain::case_fold::fold_case;
use keyway_domain::link_plan::{LinkChange, LinkPlan, plan_links};
use keyway_domain::time::UnixMs;
use keyway_store::{PageRequest, Permission, Role, StoreResult};
use sqlx::Database;

/// One of the three link tables.
#[derive(Debug, Clone, Copy)]
pub enum Links {
    KeyPermissions,
    KeyRoles,
    RolePermissions,
}

impl Links {
    /// The table, its owner column and its item column.
    pub fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Links::KeyPermissions => ("keys_permissions", "key_id", "permission_id"),
            Links::KeyRoles => ("keys_roles", "key_id", "role_id"),
            Links::RolePermissions => ("roles_permissions", "role_id", "permission_id"),
        }
    }
}

/// The links of one key or role in one link table, and the time new ones are made at.
pub struct LinkOwner<'a> {
    pub links: Links,
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub now: UnixMs,
}

/// Applies `change` to the owner's links, from the `current` items (read in this transaction) to
/// the `target` ones, as [`plan_links`] plans it. Returns what it really linked and unlinked, for
/// the caller to report: each statement is insert-if-absent or delete-if-present and counts as a
/// change only when it changed a row, so a link a concurrent write made or broke first is not
/// reported twice.
pub async fn relink<'a, B: Backend, T: Sync>(
    conn: &mut Conn<B>,
    owner: &LinkOwner<'_>,
    change: LinkChange,
    current: &'a [T],
    target: &'a [T],
    id: impl Fn(&T) -> &str + Sync,
) -> StoreResult<(Vec<&'a T>, Vec<&'a T>)> {
    let LinkPlan { link, unlink } = plan_links(change, current, target, &id);
    let (table, owner_column, item_column) = owner.links.columns();
    let delete = format!("DELETE FROM {table} WHERE {owner_column} = $1 AND {item_column} = $2");
    let mut unlinked = Vec::with_capacity(unlink.len());
    for item in unlink {
        if sqlx::query::<B::Db>(&delete).arg(owner.id).arg(id(item)).run(&mut *conn).await? > 0 {
            unlinked.push(item);
        }
    }
    let insert = format!(
        "INSERT INTO {table} ({owner_column}, {item_column}, workspace_id, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING"
    );
    let mut linked = Vec::with_capacity(link.len());
    for item in link {
        let made = sqlx::query::<B::Db>(&insert)
            .arg(owner.id)
            .arg(id(item))
            .arg(owner.workspace_id)
            .arg(owner.now)
            .run(&mut *conn)
            .await?;
        if made > 0 {
            linked.push(item);
        }
    }
    Ok((linked, unlinked))
}

/// A permission's or role's row by id, or else by its folded slug or name (`$1` the workspace,
/// `$2` the id, `$3` the folded text): the id wins when one row's slug or name is another's id.
async fn lookup<B: Backend>(
    b: &B,
    select: &str,
    workspace_id: &str,
    id_or_name: &str,
) -> StoreResult<Option<<B::Db as Database>::Row>> {
    sqlx::query::<B::Db>(select)
        .arg(workspace_id)
        .arg(id_or_name)
        .arg(fold_case(id_or_name))
        .optional(&mut *b.read_conn().await?)
        .await
}

/// A page of permission or role rows matching `search` (`$1` the workspace, `$2` the cursor,
/// `$3` the search as a pattern, `$4` the same folded, for the folded slug or name, `$5` the limit).
async fn search<B: Backend>(
    b: &B,
    select: &str,
    workspace_id: &str,
    search: Option<&str>,
    page: &PageRequest,
) -> StoreResult<Vec<<B::Db as Database>::Row>> {
    sqlx::query::<B::Db>(select)
        .arg(workspace_id)
        .arg(&page.cursor)
        .arg(search.map(contains_pattern))
        .arg(search.map(|s| contains_pattern(&fold_case(s))))
        .arg(page_limit(page.limit))
        .all(&mut *b.read_conn().await?)
        .await
}

pub async fn find_permission<B: Backend>(
    b: &B,
    workspace_id: &str,
    id_or_slug: &str,
) -> StoreResult<Option<Permission>> {
    let select = format!(
        "SELECT {PERMISSION_COLUMNS} FROM permissions p \
         WHERE p.workspace_id = $1 AND (p.id = $2 OR p.slug_folded = $3) ORDER BY p.id = $2 DESC LIMIT 1"
    );
    lookup(b, &select, workspace_id, id_or_slug).await?.as_ref().map(permission).transpose()
}

pub async fn list_permissions<B: Backend>(
    b: &B,
    workspace_id: &str,
    query: Option<&str>,
    page: &PageRequest,
) -> StoreResult<Vec<Permission>> {
    let like = B::ILIKE;
    let select = format!(
        "SELECT {PERMISSION_COLUMNS} FROM permissions p \
         WHERE p.workspace_id = $1 AND p.id >= $2 \
           AND (CAST($3 AS TEXT) IS NULL \
                OR p.id {like} $3 ESCAPE '\\' OR p.name {like} $3 ESCAPE '\\' \
                OR p.slug_folded LIKE $4 ESCAPE '\\' OR p.description {like} $3 ESCAPE '\\') \
         ORDER BY p.id LIMIT $5"
    );
    search(b, &select, workspace_id, query, page).await?.iter().map(permission).collect()
}

pub async fn find_role<B: Backend>(b: &B, workspace_id: &str, id_or_name: &str) -> StoreResult<Option<Role>> {
    let select = format!(
        "SELECT {} FROM roles r \
         WHERE r.workspace_id = $1 AND (r.id = $2 OR r.name_folded = $3) ORDER BY r.id = $2 DESC LIMIT 1",
        B::ROLE_COLUMNS
    );
    lookup(b, &select, workspace_id, id_or_name).await?.as_ref().map(role).transpose()
}

pub async fn list_roles<B: Backend>(
    b: &B,
    workspace_id: &str,
    query: Option<&str>,
    page: &PageRequest,
) -> StoreResult<Vec<Role>> {
    let like = B::ILIKE;
    let select = format!(
        "SELECT {} FROM roles r \
         WHERE r.workspace_id = $1 AND r.id >= $2 \
           AND (CAST($3 AS TEXT) IS NULL \
                OR r.id {like} $3 ESCAPE '\\' OR r.name_folded LIKE $4 ESCAPE '\\' \
                OR r.description {like} $3 ESCAPE '\\') \
         ORDER BY r.id LIMIT $5",
        B::ROLE_COLUMNS
    );
    search(b, &select, workspace_id, query, page).await?.iter().map(role).collect()
}
