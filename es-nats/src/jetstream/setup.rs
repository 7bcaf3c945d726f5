//! Connecting: the server's version, and the two streams created or checked.

use async_nats::{Client, ConnectOptions};
use serde_json::{json, Value};

use super::api::Api;
use super::error::JetStreamError;
use super::names::Subjects;
use super::options::JetStreamOptions;

/// JetStream's "stream not found".
const STREAM_NOT_FOUND: u64 = 10059;

/// A client for `url` (several servers comma-separated: it fails over between them).
pub(crate) async fn client(url: &str, options: &JetStreamOptions) -> Result<Client, JetStreamError> {
    let servers: Vec<async_nats::ServerAddr> =
        url.split(',').map(|u| u.trim().parse()).collect::<Result<_, _>>().map_err(|e: std::io::Error| {
            JetStreamError::Request { what: format!("the URL {url}"), reason: e.to_string() }
        })?;
    let fail = |reason: String| JetStreamError::Request { what: format!("connecting to {url}"), reason };
    let client = ConnectOptions::new()
        .connection_timeout(options.timeout)
        .request_timeout(Some(options.timeout))
        .max_reconnects(None)
        .connect(servers)
        .await
        .map_err(|e| fail(e.to_string()))?;
    // The server's INFO (its version) is there once a round trip is done.
    client.flush().await.map_err(|e| fail(e.to_string()))?;
    Ok(client)
}

/// Refuses a server older than 2.12.
pub(crate) fn check_version(client: &Client, url: &str) -> Result<(), JetStreamError> {
    let version = client.server_info().version;
    let mut parts = version.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse::<u64>().ok());
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < (2, 12) {
        return Err(JetStreamError::ServerTooOld { version, url: url.to_owned() });
    }
    Ok(())
}

/// The events stream's config: every event kept, atomic batches, direct gets.
fn events_config(name: &str, subjects: &Subjects, options: &JetStreamOptions) -> Value {
    json!({
        "name": name,
        "subjects": [subjects.events()],
        "retention": "limits",
        "storage": "file",
        "num_replicas": options.replicas,
        "discard": "old",
        "max_msgs": -1, "max_bytes": -1, "max_age": 0, "max_msgs_per_subject": -1,
        "duplicate_window": options.duplicate_window.as_nanos() as u64,
        "allow_direct": true,
        "allow_atomic": true,
        "deny_delete": true,
        "deny_purge": true,
    })
}

/// The side tables' config: the last message per key, atomic batches, direct gets.
fn side_config(name: &str, subjects: &Subjects, options: &JetStreamOptions) -> Value {
    json!({
        "name": name,
        "subjects": [subjects.side()],
        "retention": "limits",
        "storage": "file",
        "num_replicas": options.replicas,
        "discard": "old",
        "max_msgs": -1, "max_bytes": -1, "max_age": 0, "max_msgs_per_subject": 1,
        "allow_direct": true,
        "allow_atomic": true,
    })
}

/// Creates the streams, or checks the ones there.
pub(crate) async fn ensure_streams(
    api: &Api,
    events: &str,
    side: &str,
    subjects: &Subjects,
    options: &JetStreamOptions,
    url: &str,
) -> Result<(), JetStreamError> {
    let config = events_config(events, subjects, options);
    let found = ensure(api, events, &config, options, url).await?;
    let unfit = |problem: &str| JetStreamError::StreamUnfit {
        stream: events.to_owned(),
        problem: problem.to_owned(),
    };
    if found["allow_atomic"] != json!(true) {
        return Err(unfit("has no atomic batch publish (allow_atomic)"));
    }
    if found["allow_direct"] != json!(true) {
        return Err(unfit("has no direct get (allow_direct)"));
    }
    let takes =
        found["subjects"].as_array().is_some_and(|s| s.iter().any(|s| s == &json!(subjects.events())));
    if !takes {
        return Err(unfit(&format!("does not take the subjects `{}`", subjects.events())));
    }
    let limited = ["max_msgs", "max_bytes", "max_msgs_per_subject"]
        .iter()
        .any(|k| found[*k].as_i64().is_some_and(|v| v > 0))
        || found["max_age"].as_u64().is_some_and(|v| v > 0);
    if limited {
        return Err(unfit("has limits that delete events"));
    }
    let side_found = ensure(api, side, &side_config(side, subjects, options), options, url).await?;
    if side_found["allow_atomic"] != json!(true) {
        return Err(JetStreamError::StreamUnfit {
            stream: side.to_owned(),
            problem: "has no atomic batch publish".into(),
        });
    }
    Ok(())
}

/// The stream's config as the server keeps it, creating the stream from `config` if missing
/// (unless the options say not to create).
async fn ensure(
    api: &Api,
    name: &str,
    config: &Value,
    options: &JetStreamOptions,
    url: &str,
) -> Result<Value, JetStreamError> {
    match api.info(name, None, 0).await {
        Ok(info) => Ok(info["config"].clone()),
        Err(e) if e.err_code() == Some(STREAM_NOT_FOUND) && !options.create => {
            Err(JetStreamError::MissingStream { stream: name.to_owned(), url: url.to_owned() })
        }
        Err(e) if e.err_code() == Some(STREAM_NOT_FOUND) => {
            let created = api.call(&format!("STREAM.CREATE.{name}"), config).await;
            match created {
                Ok(info) => Ok(info["config"].clone()),
                // Another process created it meanwhile.
                Err(_) => Ok(api.info(name, None, 0).await?["config"].clone()),
            }
        }
        Err(e) => Err(e),
    }
}
