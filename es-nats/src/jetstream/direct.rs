//! Batch direct get (ADR-31, nats-server 2.11): one request, many messages, answered by any
//! replica of the stream, ended by a `204 EOB` status message.

use std::time::Duration;

use async_nats::Client;
use futures_util::StreamExt;
use serde_json::Value;

use super::error::JetStreamError;

/// One message a direct get returned.
#[derive(Debug)]
pub(crate) struct Got {
    /// Its subject.
    pub(crate) subject: String,
    /// Its stream sequence.
    pub(crate) seq: u64,
    /// The message: its headers (the stored ones plus the `Nats-*` ones the server adds) and
    /// its body.
    pub(crate) message: async_nats::Message,
}

impl Got {
    /// A stored header's value.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.message.headers.as_ref()?.get(name).map(|v| v.as_str())
    }
}

/// What a batch request returned.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// The messages, in sequence order.
    pub(crate) messages: Vec<Got>,
    /// For `multi_last`: the last sequence of the stream on the replica that answered.
    pub(crate) up_to: Option<u64>,
}

/// Sends `request` (a JSON `JSApiMsgGetRequest` with `batch` or `multi_last`) to
/// `$JS.API.DIRECT.GET.<stream>` and collects the answer.
pub(crate) async fn get(
    client: &Client,
    stream: &str,
    request: &Value,
    timeout: Duration,
) -> Result<Batch, JetStreamError> {
    let what = || format!("a direct get on `{stream}`");
    let fail = |reason: String| JetStreamError::Request { what: what(), reason };
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await.map_err(|e| fail(e.to_string()))?;
    client
        .publish_with_reply(format!("$JS.API.DIRECT.GET.{stream}"), inbox, request.to_string().into())
        .await
        .map_err(|e| fail(e.to_string()))?;
    let mut batch = Batch::default();
    loop {
        let message = match tokio::time::timeout(timeout, sub.next()).await {
            Ok(Some(m)) => m,
            Ok(None) => return Err(fail("the subscription closed".into())),
            Err(_) => return Err(fail(format!("no answer in {timeout:?}"))),
        };
        match message.status.map(|s| s.as_u16()) {
            None | Some(200) => {}
            Some(204) => {
                let h = message.headers.as_ref();
                batch.up_to =
                    h.and_then(|h| h.get("Nats-UpTo-Sequence")).and_then(|v| v.as_str().parse().ok());
                break;
            }
            Some(404) => break,
            Some(503) => {
                return Err(fail(
                    "no server answers direct gets (is the stream there, with allow_direct?)".into(),
                ))
            }
            Some(code) => {
                let text = message.description.unwrap_or_default();
                return Err(fail(format!("status {code} {text}")));
            }
        }
        let Some(headers) = message.headers.as_ref() else {
            return Err(fail("a message came without headers".into()));
        };
        let subject = headers.get("Nats-Subject").map(|v| v.as_str().to_owned()).unwrap_or_default();
        let seq = headers.get("Nats-Sequence").and_then(|v| v.as_str().parse().ok()).unwrap_or(0);
        batch.messages.push(Got { subject, seq, message });
    }
    let _ = sub.unsubscribe().await;
    Ok(batch)
}
