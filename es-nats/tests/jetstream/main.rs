//! The JetStream store against real nats-server processes (>= 2.12, installed by the tests
//! on first use, see `server/install.rs`): the conformance suite on one server and on a 3-node
//! cluster, racing appenders, and the stream leader killed mid-append.

mod conformance;
mod failover;
mod race;
mod server;

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
            let url = servers.url();
            // Kept for the whole process: the servers die with it (SIGKILL on exit is not
            // guaranteed, so each also gets its own temp dir, and the OS reaps the children).
            std::mem::forget(servers);
            url
        })
        .join()
        .expect("starting the shared servers")
    })
    .clone()
}
