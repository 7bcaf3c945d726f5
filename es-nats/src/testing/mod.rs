//! Real nats-server processes for tests and benchmarks (feature `testing`): one server, or a
//! 3-node cluster, on free loopback ports with JetStream in a temporary directory; killed when
//! dropped. The binary is nats-server >= 2.12, installed on first use ([`server_binary`]).
//!
//! Shared by this crate's tests, `es`'s tests and the benchmarks, so that every one of them
//! starts servers the same way (one installer, one lock, one config) instead of a copy each.
//!
//! ```no_run
//! # async fn f() {
//! let mut servers = es_nats::testing::Servers::cluster().await;
//! let url = servers.url();                       // nats://127.0.0.1:A,nats://127.0.0.1:B,...
//! servers.node("n2").terminate();                // SIGTERM: a clean shutdown
//! servers.node("n2").restart().await;            // back, with its files
//! # }
//! ```

mod install;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::async_nats;

pub use install::server_binary;

/// One nats-server process.
pub struct Node {
    /// Its `server_name`.
    pub name: String,
    /// Its client URL.
    pub url: String,
    /// `binary|config`, to start it again.
    spec: String,
    child: Option<Child>,
}

impl Node {
    /// SIGKILL: the process dies at once, without telling its peers.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM: a clean shutdown (the server tells its peers, a leader hands its streams over);
    /// waits up to 30 s for the process to end, then kills it.
    pub fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Whether the process runs (not killed or terminated by these methods).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts it again, with its config and files, and waits until it answers.
    pub async fn restart(&mut self) {
        self.kill();
        self.child = Some(spawn(&self.spec));
        wait_ready(&self.url).await;
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Servers and their store directory (deleted last).
///
/// A cluster's nodes find each other by routes; wait for a stream's leader before timing it.
pub struct Servers {
    /// The nodes, `n1`, `n2`, `n3` for a cluster.
    pub nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl Servers {
    /// One server with JetStream.
    pub async fn single() -> Servers {
        Self::start(1).await
    }

    /// Three servers in one cluster.
    pub async fn cluster() -> Servers {
        Self::start(3).await
    }

    /// Every node's client URL, comma-separated (for a client that fails over).
    pub fn url(&self) -> String {
        self.nodes.iter().map(|n| n.url.clone()).collect::<Vec<_>>().join(",")
    }

    /// Keeps the servers running for the rest of this process, for tests that share them,
    /// and returns their URL. They are killed when the process exits, however it exits: a
    /// watchdog shell reads its stdin, a pipe from this process, and at its end SIGKILLs them
    /// and deletes their directory (a forgotten [`Child`] is not killed by anyone).
    pub fn keep_until_exit(mut self) -> String {
        let url = self.url();
        let pids: Vec<String> =
            self.nodes.iter().filter_map(|n| n.child.as_ref()).map(|c| c.id().to_string()).collect();
        let watchdog = Command::new("sh")
            .args(["-c", r#"read _; kill -9 $2; sleep 1; rm -rf "$1""#, "watchdog"])
            .arg(self._dir.path())
            .arg(pids.join(" "))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the watchdog shell");
        // The pipe's write end stays open in this process until it exits.
        std::mem::forget(watchdog);
        for node in &mut self.nodes {
            std::mem::forget(node.child.take());
        }
        std::mem::forget(self);
        url
    }

    /// The node named `name`.
    pub fn node(&mut self, name: &str) -> &mut Node {
        self.nodes.iter_mut().find(|n| n.name == name).unwrap_or_else(|| panic!("no node {name}"))
    }

    async fn start(n: usize) -> Servers {
        let binary = server_binary();
        let dir = tempfile::tempdir().expect("temp dir");
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let mut nodes = Vec::new();
        for (i, (client, _)) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let config = config(&name, dir.path(), *client, (n > 1).then_some((i, ports.as_slice())));
            let path = dir.path().join(format!("{name}.conf"));
            std::fs::write(&path, config).expect("write config");
            let spec = format!("{}|{}", binary.display(), path.display());
            let child = Some(spawn(&spec));
            nodes.push(Node { name, url: format!("nats://127.0.0.1:{client}"), spec, child });
        }
        let servers = Servers { nodes, _dir: dir };
        for node in &servers.nodes {
            wait_ready(&node.url).await;
        }
        servers
    }
}

/// A server configuration: limits raised for event batches and payloads, JetStream in `dir`,
/// and the routes of a cluster.
fn config(name: &str, dir: &Path, port: u16, cluster: Option<(usize, &[(u16, u16)])>) -> String {
    let mut c = format!(
        "server_name: {name}\nlisten: 127.0.0.1:{port}\nmax_payload: 8MB\n\
         jetstream {{\n  store_dir: \"{}\"\n  limits {{ batch {{ max_msgs: 10000 }} }}\n}}\n",
        dir.join(name).display()
    );
    if let Some((me, ports)) = cluster {
        let routes: Vec<String> = ports
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != me)
            .map(|(_, (_, route))| format!("nats://127.0.0.1:{route}"))
            .collect();
        c.push_str(&format!(
            "cluster {{\n  name: es\n  listen: 127.0.0.1:{}\n  routes: [{}]\n}}\n",
            ports[me].1,
            routes.join(", ")
        ));
    }
    c
}

/// `binary|config` started with its output discarded.
fn spawn(spec: &str) -> Child {
    let (binary, config) = spec.split_once('|').expect("binary|config");
    Command::new(binary)
        .args(["-c", config])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {binary}: {e}"))
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// Waits until the server at `url` answers JetStream API requests.
pub async fn wait_ready(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(client) = async_nats::connect(url).await {
            let js = async_nats::jetstream::new(client);
            if js.query_account().await.is_ok() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "nats-server at {url} did not get JetStream ready in 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
