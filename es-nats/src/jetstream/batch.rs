//! Atomic batch publish (ADR-50, nats-server 2.12): messages tagged `Nats-Batch-Id` and
//! `Nats-Batch-Sequence`, the last one `Nats-Batch-Commit: 1`; the server stores all of them or
//! none and acknowledges the commit only. A single message is a plain JetStream publish.

use std::time::Duration;

use async_nats::{Client, HeaderMap};

use super::api::parse;
use super::error::JetStreamError;

/// One message to publish.
pub(crate) struct Outgoing {
    pub(crate) subject: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// The server's acknowledgement of a commit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ack {
    /// The sequence of the last message stored.
    pub(crate) seq: u64,
    /// The message id was stored already (a single publish within the duplicate window).
    pub(crate) duplicate: bool,
}

/// Publishes `messages` as one atomic batch and waits for the commit's acknowledgement.
pub(crate) async fn publish(
    client: &Client,
    mut messages: Vec<Outgoing>,
    timeout: Duration,
) -> Result<Ack, JetStreamError> {
    let fail = |reason: String| JetStreamError::Request { what: "an atomic publish".into(), reason };
    let Some(mut last) = messages.pop() else {
        return Err(fail("nothing to publish".into()));
    };
    if !messages.is_empty() {
        let id = es_core::Uuid::new_v4().simple().to_string();
        let n = messages.len() + 1;
        for (i, mut m) in messages.into_iter().enumerate() {
            m.headers.insert("Nats-Batch-Id", id.as_str());
            m.headers.insert("Nats-Batch-Sequence", (i + 1).to_string().as_str());
            client
                .publish_with_headers(m.subject, m.headers, m.body.into())
                .await
                .map_err(|e| fail(e.to_string()))?;
        }
        last.headers.insert("Nats-Batch-Id", id.as_str());
        last.headers.insert("Nats-Batch-Sequence", n.to_string().as_str());
        last.headers.insert("Nats-Batch-Commit", "1");
    }
    let request =
        async_nats::Request::new().headers(last.headers).payload(last.body.into()).timeout(Some(timeout));
    let answer = client.send_request(last.subject, request).await.map_err(|e| fail(e.to_string()))?;
    let ack = parse("an atomic publish", &answer.payload)?;
    Ok(Ack { seq: ack["seq"].as_u64().unwrap_or(0), duplicate: ack["duplicate"].as_bool().unwrap_or(false) })
}
