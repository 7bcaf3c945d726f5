//! The broker side: connecting (retrying in the background while the server is down), the
//! JetStream stream the relay publishes to, created or checked, and the hints a person reads
//! when NATS is not there.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::{Client, ConnectOptions};

use crate::error::RelayError;
use crate::options::RelayOptions;

/// The local server: `nats://127.0.0.1:4222`.
pub const LOCAL_URL: &str = "nats://127.0.0.1:4222";

/// `ES_NATS_URL`, or [`LOCAL_URL`].
pub fn url_from_env() -> String {
    std::env::var("ES_NATS_URL").unwrap_or_else(|_| LOCAL_URL.to_owned())
}

/// What to do when no NATS server with JetStream answers at `url`.
pub fn how_to_start(url: &str) -> String {
    format!(
        "no NATS server with JetStream answers at {url}. Start one with `nats-server -js` \
         (Debian: `apt install nats-server`, then `nats-server -a 127.0.0.1 -p 4222 -js -sd /tmp/nats`), \
         or point ES_NATS_URL at yours."
    )
}

/// A client for `url` that keeps trying to connect in the background: a relay started while
/// the broker is down waits for it instead of failing.
pub async fn connect(url: &str) -> Result<Client, RelayError> {
    ConnectOptions::new()
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await
        .map_err(|e| RelayError::Broker(format!("connecting to {url}: {e}")))
}

/// Creates the stream the relay publishes to, or checks the one there: it must take the
/// relay's subjects and deduplicate by message id. A server without JetStream is refused.
pub(crate) async fn ensure_stream(
    js: &jetstream::Context,
    client: &Client,
    options: &RelayOptions,
) -> Result<(), RelayError> {
    let subjects = format!("{}.>", options.prefix);
    let config = stream::Config {
        name: options.stream.clone(),
        subjects: vec![subjects.clone()],
        max_age: options.max_age,
        duplicate_window: options.duplicate_window,
        storage: stream::StorageType::File,
        ..Default::default()
    };
    let mut stream = match js.get_or_create_stream(config).await {
        Ok(stream) => stream,
        Err(e) => return Err(classify(client, &e.to_string())),
    };
    let info = stream.info().await.map_err(|e| classify(client, &e.to_string()))?;
    if !info.config.subjects.iter().any(|s| s == &subjects || s == ">") {
        return Err(RelayError::Stream(format!(
            "the JetStream stream `{}` exists with subjects {:?}, which do not take `{subjects}`: \
             give the relay another stream name or prefix, or add the subject to the stream",
            options.stream, info.config.subjects
        )));
    }
    if info.config.duplicate_window.is_zero() {
        return Err(RelayError::Stream(format!(
            "the JetStream stream `{}` has no duplicate window: the relay relies on it to drop what it publishes twice",
            options.stream
        )));
    }
    Ok(())
}

/// A failed JetStream request: a server that is up but answers nobody on the JetStream API has
/// no JetStream; otherwise the broker is (still) unreachable.
fn classify(client: &Client, error: &str) -> RelayError {
    let connected = client.connection_state() == async_nats::connection::State::Connected;
    let lower = error.to_lowercase();
    if connected && ["unavailable", "no responders", "not enabled"].iter().any(|s| lower.contains(s)) {
        RelayError::NoJetStream(format!(
            "the NATS server answers but has no JetStream ({error}): start it with `nats-server -js`"
        ))
    } else {
        RelayError::Broker(error.to_owned())
    }
}
