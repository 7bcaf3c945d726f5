//! The event id index: where each event id is stored (`i.<id>` in the side tables), written
//! right after the append that stored it, read before every append so that a retry is
//! acknowledged and an id stored elsewhere refused (es_core's idempotency rule).
//!
//! The server's own deduplication (`Nats-Msg-Id`, within the stream's duplicate window) covers
//! the moment between a commit and its index write; a writer killed in that moment leaves its ids
//! unindexed, and a retry after the window is then stored again.

use es_core::backend::{from_micros, to_micros};
use es_core::idempotency::StoredId;
use es_core::{AppendedEvent, Uuid};
use serde_json::json;

use super::batch::Outgoing;
use super::error::JetStreamError;
use super::side::Side;

/// The index's table.
const TABLE: &str = "i";

/// Where each of `ids` is stored, if it is (`found[i]` for `ids[i]`).
pub(crate) async fn lookup(side: &Side, ids: &[Uuid]) -> Result<Vec<Option<StoredId>>, JetStreamError> {
    let keys: Vec<String> = ids.iter().map(|id| id.simple().to_string()).collect();
    let found = side.get_many(TABLE, &keys).await?;
    let mut out = vec![None; ids.len()];
    for (key, entry) in found {
        let v = &entry.value;
        let (Some(i), Some(stream)) = (keys.iter().position(|k| *k == key), v["s"].as_str()) else {
            continue;
        };
        out[i] = Some(StoredId {
            stream: stream.to_owned(),
            appended: AppendedEvent {
                id: ids[i],
                stream_version: v["v"].as_u64().unwrap_or(0),
                position: v["p"].as_u64().unwrap_or(0),
                recorded_at: from_micros(v["t"].as_i64().unwrap_or(0)),
            },
        });
    }
    Ok(out)
}

/// Indexes `events` of `stream`: published without waiting, but the last, so that the index
/// holds them all when this returns (one connection keeps their order).
pub(crate) async fn record(
    side: &Side,
    stream: &str,
    events: &[AppendedEvent],
) -> Result<(), JetStreamError> {
    let Some((last, rest)) = events.split_last() else { return Ok(()) };
    let message = |e: &AppendedEvent| {
        let value =
            json!({ "s": stream, "v": e.stream_version, "p": e.position, "t": to_micros(e.recorded_at) });
        let subject = side.subjects.key(TABLE, &e.id.simple().to_string());
        Outgoing { subject, headers: Default::default(), body: value.to_string().into_bytes() }
    };
    for e in rest {
        let m = message(e);
        side.api.client.publish(m.subject, m.body.into()).await.map_err(|err| JetStreamError::Request {
            what: "indexing event ids".into(),
            reason: err.to_string(),
        })?;
    }
    let m = message(last);
    let value: serde_json::Value = serde_json::from_slice(&m.body).unwrap_or_default();
    side.put(TABLE, &last.id.simple().to_string(), &value, None).await?.ok();
    Ok(())
}
