//! The store conformance suite on one server and on a 3-node cluster (R3), each check on its
//! own streams, deleted when it passed. `rewrites_rechain` is left out: JetStream messages are
//! immutable, so the store has no `Rewrite` (see `JetStreamStore`'s docs).

/// The checks this store runs, and those it cannot (asserted against the suite's list, so a new
/// check is not silently skipped).
const SKIPPED: &[&str] = &["rewrites_rechain"];

#[test]
fn every_check_but_rewrites_runs() {
    let run: &[&str] = &[
        "expected_versions",
        "versions_start_at_one_without_gaps",
        "atomic_batches",
        "idempotent_retries",
        "metadata_and_time_round_trip",
        "read_stream_from_and_limit",
        "read_all_in_global_order",
        "large_payloads",
        "odd_stream_names",
        "visits_match_reads",
        "concurrent_exact_appends",
        "concurrent_any_appends",
        "readers_never_skip",
        "subscription_follows_without_gap",
        "snapshots_newest_wins_per_stream",
        "checkpoints_per_projection",
        "leases_have_one_holder_and_fence",
        "dead_letters_park_and_unpark",
        "chains_verify",
        "side_tables_survive_reopen",
    ];
    let mut all: Vec<&str> = run.iter().chain(SKIPPED).copied().collect();
    all.sort_unstable();
    let mut suite = es_testing::conformance::CHECKS.to_vec();
    suite.sort_unstable();
    assert_eq!(all, suite, "a conformance check was added or renamed: run it here");
}

macro_rules! conformance {
    ($module:ident, $cluster:expr, $replicas:expr, [$($name:ident)*]) => {
        mod $module {
            use es_nats::JetStreamStore;
            use es_testing::conformance as c;

            async fn fresh() -> JetStreamStore {
                crate::store_at(&crate::shared($cluster), $replicas).await
            }

            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let store = fresh().await;
                    c::$name(store.clone()).await;
                    let _ = store.destroy().await;
                }
            )*

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn side_tables_survive_reopen() {
                let store = fresh().await;
                let reopen = |s: JetStreamStore| async move {
                    JetStreamStore::connect(&crate::shared($cluster), s.options().clone()).await.expect("reopen")
                };
                c::side_tables_survive_reopen(store.clone(), reopen).await;
                let _ = store.destroy().await;
            }
        }
    };
}

macro_rules! every_check {
    ($module:ident, $cluster:expr, $replicas:expr) => {
        conformance!($module, $cluster, $replicas, [
            expected_versions versions_start_at_one_without_gaps atomic_batches idempotent_retries
            metadata_and_time_round_trip read_stream_from_and_limit read_all_in_global_order
            large_payloads odd_stream_names visits_match_reads concurrent_exact_appends
            concurrent_any_appends readers_never_skip subscription_follows_without_gap
            snapshots_newest_wins_per_stream checkpoints_per_projection leases_have_one_holder_and_fence
            dead_letters_park_and_unpark chains_verify
        ]);
    };
}

every_check!(single, false, 1);
every_check!(cluster, true, 3);
