//! The store conformance suite: what every [`EventStore`] must do, as async checks.
//!
//! Run all of them for your store with [`store_conformance!`](crate::store_conformance), which
//! generates one `#[tokio::test]` per check, each on a fresh store:
//!
//! ```
//! es_testing::store_conformance!(es_core::MemoryStore::new());
//! # fn main() {}
//! ```
//!
//! Each check panics with a message saying what the store did wrong.

mod appends;
mod concurrency;
mod reads;

pub use appends::{
    atomic_batches, expected_versions, idempotent_retries, metadata_and_time_round_trip,
    versions_start_at_one_without_gaps,
};
pub use concurrency::{
    concurrent_any_appends, concurrent_exact_appends, readers_never_skip, subscription_follows_without_gap,
};
pub use reads::{
    large_payloads, odd_stream_names, read_all_in_position_order, read_stream_from_and_limit,
    visits_match_reads,
};

use es_core::{ExpectedVersion, NewEvent};

/// The names of every check, in the order the macro runs them.
pub const CHECKS: &[&str] = &[
    "expected_versions",
    "versions_start_at_one_without_gaps",
    "atomic_batches",
    "idempotent_retries",
    "metadata_and_time_round_trip",
    "read_stream_from_and_limit",
    "read_all_in_position_order",
    "large_payloads",
    "odd_stream_names",
    "visits_match_reads",
    "concurrent_exact_appends",
    "concurrent_any_appends",
    "readers_never_skip",
    "subscription_follows_without_gap",
];

/// A small raw event numbered `n`, as the checks write them.
pub fn numbered(n: u64) -> NewEvent {
    NewEvent::new("Numbered", 1, serde_json::json!({ "n": n }))
}

/// `n` numbered events from `first`.
pub fn batch(first: u64, n: u64) -> Vec<NewEvent> {
    (first..first + n).map(numbered).collect()
}

/// The `expected` values a check uses, shown in messages.
fn show(e: ExpectedVersion) -> String {
    format!("{e:?}")
}

/// Generates one `#[tokio::test]` per conformance check for a store.
///
/// `$fresh` is an expression (it may `.await`) that gives a fresh, empty store each time it is
/// evaluated. An optional `teardown = |store| async { .. }` runs after a check passed.
#[macro_export]
macro_rules! store_conformance {
    ($fresh:expr $(,)?) => {
        $crate::store_conformance!($fresh, teardown = |_store| async {});
    };
    ($fresh:expr, teardown = $teardown:expr $(,)?) => {
        $crate::store_conformance!(@checks ($fresh) ($teardown)
            expected_versions versions_start_at_one_without_gaps atomic_batches idempotent_retries
            metadata_and_time_round_trip read_stream_from_and_limit read_all_in_position_order
            large_payloads odd_stream_names visits_match_reads concurrent_exact_appends concurrent_any_appends
            readers_never_skip subscription_follows_without_gap);
    };
    (@checks ($fresh:expr) ($teardown:expr) $($check:ident)*) => {
        $(
            #[$crate::__private::tokio::test(
                flavor = "multi_thread",
                worker_threads = 4,
                crate = "es_testing::__private::tokio"
            )]
            async fn $check() {
                let store = $fresh;
                $crate::conformance::$check(::core::clone::Clone::clone(&store)).await;
                ($teardown)(store).await;
            }
        )*
    };
}
