//! Checkpoints, snapshots and dead letters in the side tables.

use std::time::SystemTime;

use es_core::backend::{from_micros, to_micros};
use es_core::{
    Checkpoint, CheckpointStore, Cursor, DeadLetters, Metadata, Parked, Snapshot, SnapshotStore, StoreError,
    StoredEvent, Uuid,
};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::{JetStreamStore, BACKEND};

pub(crate) const CHECKPOINTS: &str = "c";
const SNAPSHOTS: &str = "n";
pub(crate) const PARKED: &str = "d";

/// A stored value that does not parse.
fn bad(owner: &str, what: &str) -> StoreError {
    StoreError::backend(BACKEND, format!("the stored {what} of `{owner}` does not parse"))
}

fn raw(owner: &str, text: Option<&str>) -> Result<Box<RawValue>, StoreError> {
    RawValue::from_string(text.unwrap_or("null").to_owned())
        .map_err(|source| StoreError::State { owner: owner.to_owned(), source })
}

pub(crate) fn checkpoint_json(c: &Checkpoint) -> Value {
    json!({ "cursor": c.cursor.to_string(), "state": c.state.as_ref().map(|s| s.get()), "saved_us": to_micros(c.saved_at) })
}

fn checkpoint_from(name: &str, v: &Value) -> Result<Checkpoint, StoreError> {
    let cursor: Cursor =
        v["cursor"].as_str().and_then(|c| c.parse().ok()).ok_or_else(|| bad(name, "checkpoint"))?;
    let state = match v["state"].as_str() {
        Some(text) => Some(raw(name, Some(text))?),
        None => None,
    };
    Ok(Checkpoint { cursor, state, saved_at: from_micros(v["saved_us"].as_i64().unwrap_or(0)) })
}

impl CheckpointStore for JetStreamStore {
    async fn save_checkpoint(&self, projection: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        self.inner.side.put(CHECKPOINTS, projection, &checkpoint_json(&checkpoint), None).await?.ok();
        Ok(())
    }

    async fn load_checkpoint(&self, projection: &str) -> Result<Option<Checkpoint>, StoreError> {
        let entry = self.inner.side.get(CHECKPOINTS, projection).await?;
        entry.map(|e| checkpoint_from(projection, &e.value)).transpose()
    }

    async fn delete_checkpoint(&self, projection: &str) -> Result<(), StoreError> {
        self.inner.side.delete(CHECKPOINTS, projection).await?;
        Ok(())
    }
}

impl SnapshotStore for JetStreamStore {
    async fn save_snapshot(&self, stream: &str, snapshot: Snapshot) -> Result<(), StoreError> {
        let value = json!({
            "v": snapshot.stream_version,
            "s": snapshot.schema_version,
            "state": snapshot.state.get(),
            "t": to_micros(snapshot.taken_at),
        });
        loop {
            let kept = self.inner.side.get(SNAPSHOTS, stream).await?;
            if kept.as_ref().is_some_and(|k| k.value["v"].as_u64().unwrap_or(0) >= snapshot.stream_version) {
                return Ok(());
            }
            let revision = kept.map_or(0, |k| k.revision);
            if self.inner.side.put(SNAPSHOTS, stream, &value, Some(revision)).await?.is_ok() {
                return Ok(());
            }
        }
    }

    async fn load_snapshot(&self, stream: &str) -> Result<Option<Snapshot>, StoreError> {
        let Some(entry) = self.inner.side.get(SNAPSHOTS, stream).await? else { return Ok(None) };
        let v = &entry.value;
        Ok(Some(Snapshot {
            stream_version: v["v"].as_u64().ok_or_else(|| bad(stream, "snapshot"))?,
            schema_version: v["s"]
                .as_u64()
                .and_then(|s| u32::try_from(s).ok())
                .ok_or_else(|| bad(stream, "snapshot"))?,
            state: raw(stream, v["state"].as_str())?,
            taken_at: from_micros(v["t"].as_i64().unwrap_or(0)),
        }))
    }

    async fn delete_snapshot(&self, stream: &str) -> Result<bool, StoreError> {
        Ok(self.inner.side.delete(SNAPSHOTS, stream).await?)
    }
}

/// The key of a parking: reactor, NUL, event id.
fn parked_key(reactor: &str, event: Uuid) -> String {
    format!("{reactor}\u{0}{}", event.simple())
}

/// The reactor a parking's key names.
pub(crate) fn reactor_of(key: &str) -> &str {
    key.rsplit_once('\u{0}').map_or(key, |(r, _)| r)
}

fn event_json(e: &StoredEvent) -> Value {
    json!({
        "id": e.id.to_string(), "stream": e.stream, "version": e.stream_version, "position": e.position,
        "cursor": e.cursor.to_string(), "name": e.name, "schema": e.schema_version, "payload": e.payload.get(),
        "metadata": serde_json::to_value(&e.metadata).unwrap_or(Value::Null), "recorded_us": to_micros(e.recorded_at),
    })
}

fn parked_from(reactor: &str, v: &Value) -> Result<Parked, StoreError> {
    let e = &v["event"];
    let fail = || bad(reactor, "parked event");
    let event = StoredEvent {
        id: e["id"].as_str().and_then(|i| Uuid::parse_str(i).ok()).ok_or_else(fail)?,
        stream: e["stream"].as_str().ok_or_else(fail)?.to_owned(),
        stream_version: e["version"].as_u64().ok_or_else(fail)?,
        position: e["position"].as_u64().ok_or_else(fail)?,
        cursor: e["cursor"].as_str().and_then(|c| c.parse().ok()).ok_or_else(fail)?,
        name: e["name"].as_str().ok_or_else(fail)?.to_owned(),
        schema_version: e["schema"].as_u64().and_then(|s| u32::try_from(s).ok()).ok_or_else(fail)?,
        payload: raw(reactor, e["payload"].as_str())?,
        metadata: serde_json::from_value::<Metadata>(e["metadata"].clone()).map_err(|_| fail())?,
        recorded_at: from_micros(e["recorded_us"].as_i64().unwrap_or(0)),
    };
    Ok(Parked {
        reactor: reactor.to_owned(),
        event,
        error: v["error"].as_str().unwrap_or("").to_owned(),
        attempts: v["attempts"].as_u64().and_then(|a| u32::try_from(a).ok()).unwrap_or(0),
        parked_at: from_micros(v["parked_us"].as_i64().unwrap_or(0)),
    })
}

impl DeadLetters for JetStreamStore {
    async fn park(&self, parked: Parked) -> Result<(), StoreError> {
        let value = json!({
            "event": event_json(&parked.event), "error": parked.error, "attempts": parked.attempts,
            "parked_us": to_micros(parked.parked_at),
        });
        self.inner.side.put(PARKED, &parked_key(&parked.reactor, parked.event.id), &value, None).await?.ok();
        Ok(())
    }

    async fn parked(&self, reactor: &str) -> Result<Vec<Parked>, StoreError> {
        let keys: Vec<String> =
            self.inner.side.keys(PARKED).await?.into_iter().filter(|k| reactor_of(k) == reactor).collect();
        let mut parked = Vec::with_capacity(keys.len());
        for (_, entry) in self.inner.side.get_many(PARKED, &keys).await? {
            parked.push(parked_from(reactor, &entry.value)?);
        }
        parked.sort_by_key(|p| p.event.cursor);
        Ok(parked)
    }

    async fn unpark(&self, reactor: &str, event: Uuid) -> Result<(), StoreError> {
        self.inner.side.delete(PARKED, &parked_key(reactor, event)).await?;
        Ok(())
    }
}

/// Now, as the store keeps times.
pub(crate) fn now() -> SystemTime {
    from_micros(to_micros(SystemTime::now()))
}
