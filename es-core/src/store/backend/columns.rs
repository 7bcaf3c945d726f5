//! Rows as plain data: a store reads its columns into these structs (the only part that knows
//! its driver) and gets records back, converted and checked the same way in every store.

use std::time::UNIX_EPOCH;

use crate::store::backend::{from_micros, metadata_from_json, to_u32, to_u64};
use crate::store::checkpoint::Checkpoint;
use crate::store::cursor::Cursor;
use crate::store::dead_letter::Parked;
use crate::store::lease::Lease;
use crate::store::snapshot::Snapshot;
use crate::store::Metadata;
use crate::store::StoreError;
use crate::store::{AppendedEvent, EventRef, StoredEvent};

/// An event row, columns as read.
#[derive(Debug, Clone, Copy)]
pub struct EventColumns<'a> {
    /// `position`.
    pub position: i64,
    /// The commit number that orders the row before its position (0 where the position alone
    /// orders rows).
    pub commit: i64,
    /// `stream`.
    pub stream: &'a str,
    /// `stream_version`.
    pub stream_version: i64,
    /// `name`.
    pub name: &'a str,
    /// `schema_version`.
    pub schema_version: i64,
    /// `payload`, JSON text.
    pub payload: &'a str,
    /// The id, metadata and time; `None` for a row read with [`Lend::ForDecoding`](crate::Lend::ForDecoding).
    pub context: Option<ContextColumns<'a>>,
}

/// The columns decoding does not need.
#[derive(Debug, Clone, Copy)]
pub struct ContextColumns<'a> {
    /// `event_id`.
    pub id: uuid::Uuid,
    /// `metadata`, JSON text.
    pub metadata: &'a str,
    /// `recorded_at`, microseconds since the Unix epoch.
    pub recorded_us: i64,
}

impl EventColumns<'_> {
    /// Lends the row to `visit` as an [`EventRef`]; a column that does not decode is a corrupt
    /// row naming its position.
    pub fn lend<R>(
        &self,
        backend: &'static str,
        visit: impl FnOnce(&EventRef<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let position = to_u64(backend, 0, "position", self.position)?;
        let commit = to_u64(backend, position, "commit", self.commit)?;
        let (id, metadata, recorded_at) = match &self.context {
            Some(c) => (c.id, metadata_from_json(backend, position, c.metadata)?, from_micros(c.recorded_us)),
            None => (uuid::Uuid::nil(), Metadata::default(), UNIX_EPOCH),
        };
        visit(&EventRef {
            id,
            stream: self.stream,
            stream_version: to_u64(backend, position, "stream_version", self.stream_version)?,
            position,
            cursor: Cursor::in_commit(commit, position),
            name: self.name,
            schema_version: to_u32(backend, position, "schema_version", self.schema_version)?,
            payload: self.payload,
            metadata: &metadata,
            recorded_at,
        })
    }
}

/// Where an appended (or already stored) event landed, columns as read.
#[derive(Debug, Clone, Copy)]
pub struct AppendedColumns {
    /// `event_id`.
    pub id: uuid::Uuid,
    /// `stream_version`.
    pub stream_version: i64,
    /// `position`.
    pub position: i64,
    /// `recorded_at`, microseconds since the Unix epoch.
    pub recorded_us: i64,
}

impl AppendedColumns {
    /// The record, checked.
    pub fn decode(&self, backend: &'static str) -> Result<AppendedEvent, StoreError> {
        let position = to_u64(backend, 0, "position", self.position)?;
        Ok(AppendedEvent {
            id: self.id,
            stream_version: to_u64(backend, position, "stream_version", self.stream_version)?,
            position,
            recorded_at: from_micros(self.recorded_us),
        })
    }
}

/// A snapshot row, columns as read.
#[derive(Debug, Clone)]
pub struct SnapshotColumns {
    /// `stream_version`.
    pub stream_version: i64,
    /// `schema_version`.
    pub schema_version: i64,
    /// `state`, JSON text.
    pub state: String,
    /// `taken_at`, microseconds since the Unix epoch.
    pub taken_us: i64,
}

impl SnapshotColumns {
    /// The snapshot of `stream`; a state that does not parse is a [`StoreError::State`].
    pub fn decode(self, backend: &'static str, stream: &str) -> Result<Snapshot, StoreError> {
        let state_error = |source| StoreError::State { owner: stream.to_owned(), source };
        Ok(Snapshot {
            stream_version: to_u64(backend, 0, "snapshot stream_version", self.stream_version)?,
            schema_version: to_u32(backend, 0, "snapshot schema_version", self.schema_version)?,
            state: serde_json::value::RawValue::from_string(self.state).map_err(state_error)?,
            taken_at: from_micros(self.taken_us),
        })
    }
}

/// A checkpoint row, columns as read.
#[derive(Debug, Clone)]
pub struct CheckpointColumns {
    /// The cursor's commit number (0 where the position alone orders rows).
    pub commit: i64,
    /// The cursor's position.
    pub position: i64,
    /// `state`, JSON text, when the runner keeps it.
    pub state: Option<String>,
    /// `saved_at`, microseconds since the Unix epoch.
    pub saved_us: i64,
}

impl CheckpointColumns {
    /// The checkpoint of `projection`; a state that does not parse is a [`StoreError::State`].
    pub fn decode(self, backend: &'static str, projection: &str) -> Result<Checkpoint, StoreError> {
        let state_error = |source| StoreError::State { owner: projection.to_owned(), source };
        let position = to_u64(backend, 0, "checkpoint position", self.position)?;
        Ok(Checkpoint {
            cursor: Cursor::in_commit(to_u64(backend, 0, "checkpoint commit", self.commit)?, position),
            state: self
                .state
                .map(serde_json::value::RawValue::from_string)
                .transpose()
                .map_err(state_error)?,
            saved_at: from_micros(self.saved_us),
        })
    }
}

/// A lease row, columns as read.
#[derive(Debug, Clone)]
pub struct LeaseColumns {
    /// `name`.
    pub name: String,
    /// `owner`.
    pub owner: String,
    /// `epoch`.
    pub epoch: i64,
    /// `renewed_at`, microseconds since the Unix epoch.
    pub renewed_us: i64,
    /// `expires_at`, microseconds since the Unix epoch.
    pub expires_us: i64,
}

impl LeaseColumns {
    /// The lease, checked.
    pub fn decode(self, backend: &'static str) -> Result<Lease, StoreError> {
        Ok(Lease {
            epoch: to_u64(backend, 0, "lease epoch", self.epoch)?,
            name: self.name,
            owner: self.owner,
            renewed_at: from_micros(self.renewed_us),
            expires_at: from_micros(self.expires_us),
        })
    }
}

/// A dead-letter row's own columns, read after its event's.
#[derive(Debug, Clone)]
pub struct ParkedColumns {
    /// `error`.
    pub error: String,
    /// `attempts`.
    pub attempts: i64,
    /// `parked_at`, microseconds since the Unix epoch.
    pub parked_us: i64,
}

impl ParkedColumns {
    /// The parked event of `reactor`, checked.
    pub fn decode(
        self,
        backend: &'static str,
        reactor: &str,
        event: StoredEvent,
    ) -> Result<Parked, StoreError> {
        Ok(Parked {
            reactor: reactor.to_owned(),
            attempts: to_u32(backend, event.position, "attempts", self.attempts)?,
            event,
            error: self.error,
            parked_at: from_micros(self.parked_us),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(metadata: &str, schema_version: i64) -> EventColumns<'_> {
        let context = ContextColumns { id: uuid::Uuid::nil(), metadata, recorded_us: 0 };
        EventColumns {
            position: 3,
            commit: 0,
            stream: "s",
            stream_version: 1,
            name: "E",
            schema_version,
            payload: "{}",
            context: Some(context),
        }
    }

    #[test]
    fn rows_lend_records_and_bad_columns_are_corrupt_rows() -> Result<(), StoreError> {
        let cursor = row("{}", 1).lend("t", |e| Ok(e.cursor))?;
        assert_eq!(cursor, Cursor::at(3));
        for bad in [row("[", 1), row("{}", -1)] {
            let err = bad.lend("t", |_| Ok(())).unwrap_err();
            assert!(matches!(err, StoreError::CorruptRow { position: 3, .. }), "{err}");
        }
        let state = CheckpointColumns { commit: 0, position: 1, state: Some("{".into()), saved_us: 0 };
        assert!(matches!(state.decode("t", "p"), Err(StoreError::State { .. })));
        Ok(())
    }
}
