//! The conformance suite: the behaviour every storage adapter must have, written once against the
//! ports and run by each adapter's test binary through [`conformance_tests!`].
//!
//! An adapter's tests provide a factory `async fn() -> Option<Harness>`: `None` skips (a backend
//! that is not configured on a developer's machine; in CI the factory must panic instead).

use crate::Store;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub mod analytics;
pub mod analytics_query;
mod api_settings;
mod audit;
mod credits;
mod expiry;
mod fixtures;
mod identities;
mod keys;
mod migrations;
mod ratelimits;
mod rbac;
mod refill;
mod reroll;
mod root_keys;
mod vault;
mod workspaces;

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
            workspace_create_and_get,
            ensure_default_workspace_creates_once,
            ensure_default_workspace_concurrent_callers_agree,
            api_create_get_delete,
            key_create_and_get,
            key_hash_conflict,
            find_key_by_hash_joins_surroundings,
            external_id_creates_identity_once,
            update_key_three_state_fields,
            update_key_links_and_unlinks_identity,
            update_key_credits_patch,
            update_key_missing_or_other_workspace,
            delete_key_soft,
            delete_key_permanent,
            list_keys_keyset_pagination,
            list_keys_by_identity,
            record_key_usage_only_moves_forward,
            spend_credits_batch_in_request_order,
            spend_credits_concurrent_is_exact,
            update_credits_operations,
            update_credits_refusals,
            refill_candidates_carry_the_key,
            refill_credits_due_rules,
            refill_full_then_spent_waits_for_the_next_date,
            refill_unlimited_key_with_a_schedule,
            apply_refills_refuses_stale_steps,
            root_key_create_and_find_by_hash,
            root_key_get_and_list,
            root_key_update,
            root_key_reroll,
            root_key_delete,
            root_key_usage,
            audit_events_round_trip_in_order,
            audit_read_filters_and_orders_by_time,
            audit_read_pages_without_gaps_or_duplicates,
            hashes_stream_in_creation_order,
            key_ratelimits_on_every_read_path,
            key_ratelimits_replace_by_name,
            delete_key_permanent_removes_ratelimits,
            identity_create_find_and_conflict,
            identity_list_search_and_pagination,
            identity_update_replaces_meta_and_ratelimits,
            identity_delete_semantics,
            identity_key_hashes_of_live_keys,
            namespace_create_and_find,
            namespace_create_race_has_one_winner,
            override_set_delete_and_set_again,
            override_list_keyset_pagination,
            permission_create_and_find,
            permission_list_search_and_pagination,
            permission_delete_unlinks_and_reports_keys,
            role_create_with_permissions,
            role_create_missing_or_conflict_writes_nothing,
            role_list_search_and_pagination,
            role_delete_unlinks_and_reports_keys,
            role_set_permissions,
            key_permissions_add_remove_set,
            key_permissions_missing_or_unknown_key_writes_nothing,
            key_roles_add_remove_set,
            key_create_with_permissions_and_roles,
            created_permissions_and_roles_take_the_ids_core_minted,
            key_create_missing_role_writes_nothing,
            key_update_replaces_permissions_and_roles,
            key_permissions_and_roles_on_every_read_path,
            delete_key_permanent_removes_rbac_links,
            rbac_workspace_isolation,
            api_recoverable_flag,
            data_key_one_per_workspace,
            recoverable_key_is_written_with_its_key,
            data_keys_rewrap_under_a_new_master_key,
            key_shape_round_trips,
            key_reroll_copies_configuration_and_retires_the_old_key,
            key_reroll_of_a_missing_key_writes_nothing,
            key_reroll_hash_conflict_writes_nothing,
            key_reroll_refuses_rate_limits_changed_since_read,
            key_reroll_writes_the_successors_encrypted_copy,
            list_identity_keys_across_apis,
            migration_create_and_get,
            migrate_keys_skips_existing_and_repeated_hashes,
            migrate_keys_creates_missing_roles,
            pending_keys_by_hash_and_by_start,
            complete_migration_rehashes_once,
            api_settings_create_update_and_find,
            api_update_refuses_missing_deleted_or_foreign,
            find_key_by_hash_carries_the_allowlist,
            sweep_expired_keys_deletes_only_keys_past_the_cutoff,
            sweep_expired_keys_batches_earliest_first,
            sweep_expired_keys_concurrent_sweeps_take_each_key_once,
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
pub mod cases {
    pub use super::api_settings::*;
    pub use super::audit::*;
    pub use super::credits::*;
    pub use super::expiry::*;
    pub use super::identities::*;
    pub use super::keys::*;
    pub use super::migrations::*;
    pub use super::ratelimits::*;
    pub use super::rbac::*;
    pub use super::refill::*;
    pub use super::reroll::*;
    pub use super::root_keys::*;
    pub use super::vault::*;
    pub use super::workspaces::*;
}
