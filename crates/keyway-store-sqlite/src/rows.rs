//! The shared row decoders and column lists, and the SELECTs this adapter's RBAC statements start
//! from.

use crate::SqliteStore;
use keyway_store::PageRequest;
use keyway_store_sql::Backend;
pub(crate) use keyway_store_sql::rows::*;

pub(crate) const KEY_COLUMNS: &str = <SqliteStore as Backend>::KEY_COLUMNS;
pub(crate) const IDENTITY_COLUMNS: &str = <SqliteStore as Backend>::IDENTITY_COLUMNS;
pub(crate) use keyway_store_sql::rows::optional_json as meta_text;

pub(crate) const PERMISSION_SELECT: &str =
    "SELECT id, workspace_id, name, slug, description, created_at FROM permissions";

/// The dialect of [`SqliteStore`]'s `json_columns!`, named again because a constant cannot be
/// concatenated.
pub(crate) const ROLE_SELECT: &str =
    concat!("SELECT ", keyway_store_sql::json_columns!(@role "json_group_array", "json_object", ""), " FROM roles r");

/// `LIMIT` for a page: one row more than asked, so the caller can tell whether more exist.
pub(crate) fn page_limit(page: &PageRequest) -> i64 {
    keyway_store_sql::rows::page_limit(page.limit)
}
