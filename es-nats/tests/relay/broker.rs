//! The broker unreachable at start, and lost in the middle of a run: the relay waits, then
//! publishes everything, once, in order. Each test runs a NATS server of its own on a free port.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use es_core::{EventStore, ExpectedVersion, NewEvent};
use es_nats::async_nats::{self, Client};
use es_nats::Relay;

use crate::{assert_once_in_order, options, read_back, Payments};

/// A `nats-server` of the test's own (`ES_NATS_SERVER`, or `nats-server` on the PATH or in
/// /usr/sbin), killed when dropped.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    jetstream: bool,
}

fn binary() -> String {
    std::env::var("ES_NATS_SERVER").unwrap_or_else(|_| {
        if std::path::Path::new("/usr/sbin/nats-server").exists() {
            "/usr/sbin/nats-server".into()
        } else {
            "nats-server".into()
        }
    })
}

impl NatsServer {
    /// A server on a free port, with JetStream or without.
    pub fn start(jetstream: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("addr")
            .port();
        let mut server =
            NatsServer { child: None, port, dir: tempfile::tempdir().expect("temp dir"), jetstream };
        server.restart();
        server
    }

    /// A server that will listen on a free port once [`restart`](Self::restart)ed.
    pub fn not_started() -> Self {
        let mut server = Self::start(true);
        server.kill();
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// (Re)starts it on the same port and storage.
    pub fn restart(&mut self) {
        let mut cmd = Command::new(binary());
        cmd.args(["-a", "127.0.0.1", "-p", &self.port.to_string()]);
        if self.jetstream {
            cmd.arg("-js").arg("-sd").arg(self.dir.path());
        }
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| {
            panic!("these tests start their own nats-server ({e}): install it (`apt install nats-server`) or set ES_NATS_SERVER")
        });
        self.child = Some(child);
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until `client` is connected to it.
    pub async fn wait_ready(&self, client: &Client) {
        for _ in 0..200 {
            if client.connection_state() == async_nats::connection::State::Connected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the test's nats-server on port {} did not come up", self.port);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn filled_store(events: u64) -> es_core::MemoryStore {
    let store = es_core::MemoryStore::new();
    for s in 0..events / 100 {
        let batch =
            (1..=100u64).map(|n| NewEvent::new("Deposited", 1, serde_json::json!({ "n": n }))).collect();
        store.append(&format!("Account-{s}"), ExpectedVersion::NoStream, batch).await.expect("append");
    }
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_down_at_start_is_waited_for() {
    let mut server = NatsServer::not_started();
    let store = filled_store(2_000).await;
    let client = es_nats::connect(&server.url()).await.expect("a client that retries in the background");
    let (options, stream) = options();
    let options = options
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .ack_timeout(Duration::from_secs(1));
    let relay = tokio::spawn(async move {
        let mut relay = Relay::start("payments", Payments, store, client, options).await.expect("start");
        relay.catch_up().await.expect("catch up")
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!relay.is_finished(), "the relay waits for the broker");
    server.restart();
    let read = tokio::time::timeout(Duration::from_secs(60), relay)
        .await
        .expect("done in time")
        .expect("the relay task");
    assert_eq!(read, 2_000);
    let reader = es_nats::connect(&server.url()).await.expect("connect");
    server.wait_ready(&reader).await;
    let received = read_back(&reader, &stream).await;
    assert_eq!(received.len(), 2_000);
    assert_once_in_order(&received);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_lost_mid_run_gets_everything_once_in_order() {
    let mut server = NatsServer::start(true);
    let store = filled_store(40_000).await;
    let client = es_nats::connect(&server.url()).await.expect("connect");
    server.wait_ready(&client).await;
    let (options, stream) = options();
    let options = options
        .batch(20)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .ack_timeout(Duration::from_secs(1));
    let mut relay =
        Relay::start("payments", Payments, store.clone(), client.clone(), options).await.expect("start");
    let run = tokio::spawn(async move {
        let read = relay.catch_up().await.expect("catch up");
        (read, relay.status().await.expect("status"))
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!run.is_finished(), "the outage comes in the middle of the run");
    server.kill();
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.restart();
    let (read, status) =
        tokio::time::timeout(Duration::from_secs(120), run).await.expect("done in time").expect("task");
    assert_eq!(read, 40_000);
    assert!(!status.broker_down);
    server.wait_ready(&client).await;
    let received = read_back(&client, &stream).await;
    assert_eq!(received.len(), 40_000, "nothing lost (duplicates dropped: {})", status.duplicates);
    assert_once_in_order(&received);
}
