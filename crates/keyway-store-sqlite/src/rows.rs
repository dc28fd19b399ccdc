//! The shared row decoders and column lists, and the SELECTs this adapter's RBAC statements start
//! from.

pub(crate) use keyway_store_sql::rows::*;

pub(crate) const PERMISSION_SELECT: &str =
    "SELECT id, workspace_id, name, slug, description, created_at FROM permissions";

/// The dialect of the store's `json_columns!`, named again because a constant cannot be
/// concatenated.
pub(crate) const ROLE_SELECT: &str =
    concat!("SELECT ", keyway_store_sql::json_columns!(@role "json_group_array", "json_object", ""), " FROM roles r");
