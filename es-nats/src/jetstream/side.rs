//! The side tables: one JetStream stream keeping the last message per subject, one subject per
//! key (`<root>.s.<table>.<key>`); the subject's last sequence is the key's revision, so a write
//! can be conditional on it (`Nats-Expected-Last-Subject-Sequence`, 0: the key must not exist).

use std::time::Duration;

use async_nats::{Client, HeaderMap};
use serde_json::{json, Value};

use super::api::{parse, Api};
use super::batch::{self, Outgoing};
use super::direct::{self, Got};
use super::error::{code, JetStreamError};
use super::names::Subjects;

/// The most keys one `multi_last` request asks for (the server answers at most 1024).
const MULTI_LAST: usize = 1000;

/// The table of the store's own marks.
pub(crate) const META: &str = "meta";

/// A key written at connect, asked for with every `multi_last`.
pub(crate) const SENTINEL: &str = "sentinel";

/// One key's value and revision.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) revision: u64,
    pub(crate) value: Value,
}

/// A write refused because the key changed (its revision moved on).
#[derive(Debug)]
pub(crate) struct Changed;

/// The side tables of one store.
#[derive(Debug, Clone)]
pub(crate) struct Side {
    pub(crate) api: Api,
    pub(crate) stream: String,
    pub(crate) subjects: Subjects,
    /// The highest sequence this process saw acknowledged: a replica behind it is not asked.
    pub(crate) high: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Side {
    fn client(&self) -> &Client {
        &self.api.client
    }

    fn timeout(&self) -> Duration {
        self.api.timeout
    }

    /// The value of `key` in `table`.
    pub(crate) async fn get(&self, table: &str, key: &str) -> Result<Option<Entry>, JetStreamError> {
        let subject = self.subjects.key(table, key);
        self.api.last_msg(&self.stream, &subject).await?.map(entry).transpose()
    }

    /// The values of `keys` in `table` that exist, each with its key.
    pub(crate) async fn get_many(
        &self,
        table: &str,
        keys: &[String],
    ) -> Result<Vec<(String, Entry)>, JetStreamError> {
        let mut out = Vec::new();
        for chunk in keys.chunks(MULTI_LAST) {
            let mut subjects: Vec<String> = chunk.iter().map(|k| self.subjects.key(table, k)).collect();
            // Always there: the answer is never "none", so it always tells how current it is.
            subjects.push(self.subjects.key(META, SENTINEL));
            let request = json!({ "multi_last": subjects, "batch": chunk.len() + 1 });
            let got = self.fresh(&request).await?;
            for m in got.messages {
                if let Some(key) = self.subjects.key_of(table, &m.subject) {
                    out.push((key, entry(m)?));
                }
            }
        }
        Ok(out)
    }

    /// The keys of `table`.
    pub(crate) async fn keys(&self, table: &str) -> Result<Vec<String>, JetStreamError> {
        let subjects = self.api.subjects(&self.stream, &self.subjects.table(table)).await?;
        Ok(subjects.into_iter().filter_map(|(s, _)| self.subjects.key_of(table, &s)).collect())
    }

    /// Writes `value` to `key`; with `expected`, only if the key is at that revision (0: absent).
    pub(crate) async fn put(
        &self,
        table: &str,
        key: &str,
        value: &Value,
        expected: Option<u64>,
    ) -> Result<Result<u64, Changed>, JetStreamError> {
        let message = self.message(table, key, value, expected);
        let request = async_nats::Request::new()
            .headers(message.headers)
            .payload(message.body.into())
            .timeout(Some(self.timeout()));
        let answer = self.client().send_request(message.subject, request).await.map_err(|e| {
            JetStreamError::Request { what: format!("writing {table}/{key}"), reason: e.to_string() }
        });
        match answer.and_then(|a| parse("a side table write", &a.payload)) {
            Ok(ack) => {
                let seq = ack["seq"].as_u64().unwrap_or(0);
                self.saw(seq);
                Ok(Ok(seq))
            }
            Err(e) if changed(&e) => Ok(Err(Changed)),
            Err(e) => Err(e),
        }
    }

    /// Writes several keys at once, all or none, each with its expectation.
    pub(crate) async fn put_all(
        &self,
        writes: Vec<(&str, &str, &Value, Option<u64>)>,
    ) -> Result<Result<(), Changed>, JetStreamError> {
        let messages = writes.into_iter().map(|(t, k, v, e)| self.message(t, k, v, e)).collect();
        match batch::publish(self.client(), messages, self.timeout()).await {
            Ok(ack) => {
                self.saw(ack.seq);
                Ok(Ok(()))
            }
            Err(e) if changed(&e) => Ok(Err(Changed)),
            Err(e) => Err(e),
        }
    }

    /// Deletes `key`; whether it was there.
    pub(crate) async fn delete(&self, table: &str, key: &str) -> Result<bool, JetStreamError> {
        Ok(self.api.purge(&self.stream, &self.subjects.key(table, key)).await? > 0)
    }

    /// Deletes `key`, overwriting its bytes on disk first; whether it was there.
    pub(crate) async fn erase(&self, table: &str, key: &str) -> Result<bool, JetStreamError> {
        let Some(entry) = self.get(table, key).await? else { return Ok(false) };
        self.api.erase(&self.stream, entry.revision).await?;
        self.delete(table, key).await?;
        Ok(true)
    }

    /// Records a sequence this process saw stored.
    fn saw(&self, seq: u64) {
        self.high.fetch_max(seq, std::sync::atomic::Ordering::Relaxed);
    }

    /// A `multi_last` answer from a replica that has every write this process saw acknowledged
    /// (a follower a moment behind is asked again).
    async fn fresh(&self, request: &Value) -> Result<direct::Batch, JetStreamError> {
        let high = self.high.load(std::sync::atomic::Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + self.timeout();
        loop {
            let got = direct::get(self.client(), &self.stream, request, self.timeout()).await?;
            let behind = got.up_to.is_none_or(|u| u < high);
            if !behind || tokio::time::Instant::now() > deadline {
                return Ok(got);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn message(&self, table: &str, key: &str, value: &Value, expected: Option<u64>) -> Outgoing {
        let mut headers = HeaderMap::new();
        if let Some(revision) = expected {
            headers.insert("Nats-Expected-Last-Subject-Sequence", revision.to_string().as_str());
        }
        Outgoing { subject: self.subjects.key(table, key), headers, body: value.to_string().into_bytes() }
    }
}

/// Whether `e` says a conditional write found another revision.
fn changed(e: &JetStreamError) -> bool {
    matches!(e.err_code(), Some(code::WRONG_LAST_SEQUENCE | code::WRONG_LAST_SEQUENCE_CONSTANT))
}

fn entry(got: Got) -> Result<Entry, JetStreamError> {
    let value = serde_json::from_slice(&got.message.payload).map_err(|e| JetStreamError::Request {
        what: format!("reading {}", got.subject),
        reason: format!("the stored value is not JSON: {e}"),
    })?;
    Ok(Entry { revision: got.seq, value })
}
