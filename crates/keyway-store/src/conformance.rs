//! The conformance suite: the behaviour every storage adapter must have, written once against the
//! ports and run by each adapter's test binary through [`conformance_tests!`].
//!
//! An adapter's tests provide a factory `async fn() -> Option<Harness>`: `None` skips (a backend
//! that is not configured on a developer's machine; in CI the factory must panic instead).

use crate::Store;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A fresh, empty store for one case, and what to run afterwards to clean it up.
pub struct Harness {
    pub store: Arc<dyn Store>,
    pub cleanup: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

/// Runs one case on a fresh store, then its cleanup, even when the case panics.
pub async fn run_case<F, Fut>(harness: Option<Harness>, name: &str, case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(harness) = harness else {
        eprintln!("skipping conformance case {name}: backend not configured");
        return;
    };
    let outcome = tokio::spawn(case(harness.store)).await;
    if let Some(cleanup) = harness.cleanup {
        cleanup.await;
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// One `#[tokio::test]` per conformance case, each on a fresh store from `$factory`.
#[macro_export]
macro_rules! conformance_tests {
    ($factory:path) => {
        $crate::conformance_tests!(@cases $factory;
            // CASES: every case function in `keyway_store::conformance::cases` is listed here.
        );
    };
    (@cases $factory:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::run_case($factory().await, stringify!($case), $crate::conformance::cases::$case).await;
            }
        )*
    };
}

/// The cases. Each takes a fresh, migrated, empty store.
pub mod cases {}
