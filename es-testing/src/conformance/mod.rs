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
pub mod boundaries;
mod concurrency;
pub mod inspect;
mod integrity;
mod reads;
mod rewrite;
mod side_tables;

pub use appends::{
    atomic_batches, expected_versions, idempotent_retries, metadata_and_time_round_trip,
    versions_start_at_one_without_gaps,
};
pub use concurrency::{
    concurrent_any_appends, concurrent_exact_appends, readers_never_skip, subscription_follows_without_gap,
};
pub use integrity::chains_verify;
pub use reads::{
    large_payloads, odd_stream_names, read_all_in_global_order, read_stream_from_and_limit,
    visits_match_reads,
};
pub use rewrite::rewrites_rechain;
pub use side_tables::{
    checkpoints_per_projection, dead_letters_park_and_unpark, leases_have_one_holder_and_fence,
    side_tables_survive_reopen, snapshots_newest_wins_per_stream,
};

use es_core::{Cursor, EventStore, ExpectedVersion, NewEvent, StoredEvent};

/// Calls `$callback!` with the names of every check: the one list of them. Checks in `store`
/// take the store; checks in `reopen` also take the macro's `reopen` function.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_checks {
    ($callback:path { $($args:tt)* }) => {
        $callback! { $($args)*
            store: [
                expected_versions versions_start_at_one_without_gaps atomic_batches idempotent_retries
                metadata_and_time_round_trip read_stream_from_and_limit read_all_in_global_order
                large_payloads odd_stream_names visits_match_reads concurrent_exact_appends
                concurrent_any_appends readers_never_skip subscription_follows_without_gap
                snapshots_newest_wins_per_stream checkpoints_per_projection leases_have_one_holder_and_fence
                dead_letters_park_and_unpark chains_verify rewrites_rechain
            ]
            reopen: [ side_tables_survive_reopen ]
        }
    };
}

macro_rules! check_names {
    (store: [$($check:ident)*] reopen: [$($reopen:ident)*]) => {
        /// The names of every check, in the order the macro runs them.
        pub const CHECKS: &[&str] = &[$(stringify!($check),)* $(stringify!($reopen),)*];
    };
}
__conformance_checks!(check_names {});

/// A small raw event numbered `n`, as the checks write them.
pub fn numbered(n: u64) -> NewEvent {
    NewEvent::new("Numbered", 1, serde_json::json!({ "n": n }))
}

/// The first `n` events of the global order, read once all `n` are visible.
///
/// A store may show a committed event to readers of the global order only once every
/// transaction that could still commit before it has ended (PostgreSQL waits for the oldest
/// running transaction of the server), so under load from other clients an append shows there
/// a moment after it returns. Waits up to 60 s, then fails naming what it saw.
pub async fn read_all_settled<S: EventStore>(store: &S, n: usize) -> Vec<StoredEvent> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let all = store.read_all(Cursor::START, n).await.expect("read_all");
        if all.len() >= n {
            return all;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "read_all shows {} of {n} committed events",
            all.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
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
/// evaluated. The store must keep snapshots, checkpoints, leases and the hash chain too
/// ([`es_core::SnapshotStore`], [`es_core::CheckpointStore`], [`es_core::Leases`],
/// [`es_core::integrity::Links`]) and its sanctioned rewrites ([`es_core::integrity::Rewrite`]).
/// Optional, in this order:
/// - `reopen = |store| async move { .. }` opens the same store again, as a restarted process
///   would (default: a clone, right for stores in memory);
/// - `teardown = |store| async { .. }` runs after a check passed.
#[macro_export]
macro_rules! store_conformance {
    ($fresh:expr $(, reopen = $reopen:expr)? $(, teardown = $teardown:expr)? $(,)?) => {
        $crate::__conformance_checks!($crate::store_conformance {
            @tests ($fresh)
            ($crate::__or!($($reopen)? ; |store| async move { store }))
            ($crate::__or!($($teardown)? ; |_store| async {}))
        });
    };
    (@tests ($fresh:expr) ($reopen:expr) ($teardown:expr)
        store: [$($check:ident)*] reopen: [$($reopen_check:ident)*]) => {
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
        $(
            #[$crate::__private::tokio::test(
                flavor = "multi_thread",
                worker_threads = 4,
                crate = "es_testing::__private::tokio"
            )]
            async fn $reopen_check() {
                let store = $fresh;
                $crate::conformance::$reopen_check(::core::clone::Clone::clone(&store), $reopen).await;
                ($teardown)(store).await;
            }
        )*
    };
}

/// The given expression, or the default after `;`.
#[doc(hidden)]
#[macro_export]
macro_rules! __or {
    (; $default:expr) => {
        $default
    };
    ($given:expr ; $default:expr) => {
        $given
    };
}
