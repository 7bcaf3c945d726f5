//! The JetStream store against real nats-server processes (>= 2.12, installed by the tests
//! on first use, see `es_nats::testing`): the conformance suite on one server and on a 3-node
//! cluster, racing appenders, the stream leader killed and a follower terminated mid-append,
//! and OS processes on one hot aggregate and on one leased projection.

#[path = "../../../examples/bank/domain.rs"]
#[allow(dead_code)]
mod bank;
mod conformance;
mod failover;
mod follower;
mod hot;
mod race;
mod worker_failover;

/// The servers: `es_nats::testing`, shared with `es`'s tests and the benchmarks.
use es_nats::testing as server;

use std::sync::OnceLock;

use es_nats::{JetStreamOptions, JetStreamStore};

/// A fresh stream name, so that tests sharing servers never share a stream.
pub fn fresh_name() -> String {
    format!("T{}", es_core::Uuid::new_v4().simple())
}

/// A store on its own streams at `url`.
pub async fn store_at(url: &str, replicas: usize) -> JetStreamStore {
    let options = JetStreamOptions::new(fresh_name()).replicas(replicas);
    JetStreamStore::connect(url, options).await.unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// Servers shared by the conformance tests of one kind (each test on its own streams), started
/// on a runtime of their own that lives as long as the test process.
pub fn shared(cluster: bool) -> String {
    static SINGLE: OnceLock<String> = OnceLock::new();
    static CLUSTER: OnceLock<String> = OnceLock::new();
    let cell = if cluster { &CLUSTER } else { &SINGLE };
    cell.get_or_init(|| {
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            let servers = rt.block_on(async {
                if cluster {
                    server::Servers::cluster().await
                } else {
                    server::Servers::single().await
                }
            });
            // Kept for the whole process, and killed when it exits.
            servers.keep_until_exit()
        })
        .join()
        .expect("starting the shared servers")
    })
    .clone()
}
