//! The JetStream API as JSON requests (stream create, info, purge, message delete) and the
//! errors it answers with.

use std::time::Duration;

use async_nats::{Client, HeaderMap, Message};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::Value;

use super::direct::Got;
use super::error::JetStreamError;

/// Requests to the JetStream API over one client.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    pub(crate) client: Client,
    pub(crate) timeout: Duration,
}

impl Api {
    /// Sends `body` to `$JS.API.<verb>` and returns the answer, or the server's error.
    pub(crate) async fn call(&self, verb: &str, body: &Value) -> Result<Value, JetStreamError> {
        let subject = format!("$JS.API.{verb}");
        let request = async_nats::Request::new().payload(body.to_string().into()).timeout(Some(self.timeout));
        let answer = self
            .client
            .send_request(subject, request)
            .await
            .map_err(|e| JetStreamError::Request { what: verb.to_owned(), reason: e.to_string() })?;
        parse(verb, &answer.payload)
    }

    /// The stream's info; with `subjects`, the subjects matching it with their counts, from
    /// `offset` (the server pages them).
    pub(crate) async fn info(
        &self,
        stream: &str,
        subjects: Option<&str>,
        offset: usize,
    ) -> Result<Value, JetStreamError> {
        let body = match subjects {
            Some(filter) => serde_json::json!({ "subjects_filter": filter, "offset": offset }),
            None => serde_json::json!({}),
        };
        self.call(&format!("STREAM.INFO.{stream}"), &body).await
    }

    /// Every subject of `stream` matching `filter`, with its message count.
    pub(crate) async fn subjects(
        &self,
        stream: &str,
        filter: &str,
    ) -> Result<Vec<(String, u64)>, JetStreamError> {
        let mut out = Vec::new();
        loop {
            let info = self.info(stream, Some(filter), out.len()).await?;
            let page = info["state"]["subjects"].as_object().cloned().unwrap_or_default();
            let total = info["total"].as_u64().unwrap_or(0) as usize;
            let n = page.len();
            out.extend(page.into_iter().map(|(s, c)| (s, c.as_u64().unwrap_or(0))));
            if n == 0 || out.len() >= total {
                return Ok(out);
            }
        }
    }

    /// Removes every message of `subject` from `stream`; how many there were.
    pub(crate) async fn purge(&self, stream: &str, subject: &str) -> Result<u64, JetStreamError> {
        let answer =
            self.call(&format!("STREAM.PURGE.{stream}"), &serde_json::json!({ "filter": subject })).await?;
        Ok(answer["purged"].as_u64().unwrap_or(0))
    }

    /// Deletes message `seq` of `stream`, overwriting its bytes on disk.
    pub(crate) async fn erase(&self, stream: &str, seq: u64) -> Result<(), JetStreamError> {
        self.call(&format!("STREAM.MSG.DELETE.{stream}"), &serde_json::json!({ "seq": seq })).await?;
        Ok(())
    }
}

/// The server's error in an API or publish answer, if it holds one.
pub(crate) fn parse(what: &str, payload: &[u8]) -> Result<Value, JetStreamError> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| JetStreamError::Request {
        what: what.to_owned(),
        reason: format!("the answer is not JSON: {e}"),
    })?;
    if let Some(error) = value.get("error") {
        return Err(JetStreamError::Api {
            what: what.to_owned(),
            err_code: error["err_code"].as_u64().unwrap_or(0),
            description: error["description"].as_str().unwrap_or("").to_owned(),
        });
    }
    Ok(value)
}

impl Api {
    /// The last message of `subject` in `stream`, read from the stream's leader (always
    /// current, unlike a direct get a follower may answer).
    pub(crate) async fn last_msg(&self, stream: &str, subject: &str) -> Result<Option<Got>, JetStreamError> {
        let verb = format!("STREAM.MSG.GET.{stream}");
        let answer = match self.call(&verb, &serde_json::json!({ "last_by_subj": subject })).await {
            Ok(answer) => answer,
            Err(e) if e.err_code() == Some(NO_MESSAGE_FOUND) => return Ok(None),
            Err(e) => return Err(e),
        };
        let bad = |reason: &str| JetStreamError::Request { what: verb.clone(), reason: reason.to_owned() };
        let m = &answer["message"];
        let seq = m["seq"].as_u64().ok_or_else(|| bad("no sequence in the answer"))?;
        let decode = |field: &str| -> Result<Vec<u8>, JetStreamError> {
            match m[field].as_str() {
                Some(text) => BASE64.decode(text).map_err(|_| bad("a field is not base64")),
                None => Ok(Vec::new()),
            }
        };
        let mut headers = HeaderMap::new();
        let block = decode("hdrs")?;
        for line in String::from_utf8_lossy(&block).split("\r\n").skip(1) {
            if let Some((name, value)) = line.split_once(':') {
                headers.insert(name.trim(), value.trim());
            }
        }
        let subject = m["subject"].as_str().unwrap_or(subject).to_owned();
        headers.insert("Nats-Sequence", seq.to_string().as_str());
        let message = Message {
            subject: subject.clone().into(),
            reply: None,
            payload: decode("data")?.into(),
            headers: Some(headers),
            status: None,
            description: None,
            length: 0,
        };
        Ok(Some(Got { subject, seq, message }))
    }
}

/// JetStream's "no message found".
const NO_MESSAGE_FOUND: u64 = 10037;
