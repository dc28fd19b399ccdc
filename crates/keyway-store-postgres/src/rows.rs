//! The shared row decoders and column lists, with this dialect's aggregating ones.

use crate::PostgresStore;
use keyway_store_sql::Backend;
pub(crate) use keyway_store_sql::rows::*;

pub(crate) const ROLE_COLUMNS: &str = <PostgresStore as Backend>::ROLE_COLUMNS;
