//! The storage conformance suite on PostgreSQL, each case in a fresh schema.

mod common;

use common::TestSchema;
use keyway_store::conformance::Harness;
use std::sync::Arc;

/// One migrated store in a fresh schema, dropped after the case.
async fn factory() -> Option<Harness> {
    let schema = TestSchema::create().await?;
    let store = schema.node().await;
    let handle = store.clone();
    Some(Harness {
        store: Arc::new(store),
        cleanup: Some(Box::pin(async move {
            // Close the pool first so no session still sits in the schema being dropped.
            handle.close().await;
            schema.drop_schema().await;
        })),
    })
}

keyway_store::conformance_tests!(factory);
