//! The append transaction: the idempotency check, the boundary condition, the version check and
//! the inserts (events, then their tags), run by the single writer inside `BEGIN IMMEDIATE`.

use es_core::backend::{self, from_micros, to_i64, to_micros, to_u64};
use es_core::idempotency::{self, StoredId};
use es_core::integrity::{link_hash, ChainHash};
use es_core::{AppendCondition, Appended, AppendedEvent, ExpectedVersion, NewEvent, StoreError, Uuid};
use sqlx::SqliteConnection;

use crate::boundary;
use crate::error::{backend_error, BACKEND};
use crate::rows::{get, stored_id_row};

/// Where the ids of a batch are already stored, for the idempotency rule.
async fn stored_ids(
    tx: &mut SqliteConnection,
    ids: &[Uuid],
    ids_json: &str,
) -> Result<Vec<Option<StoredId>>, StoreError> {
    let rows = sqlx::query(
        "SELECT event_id, stream, stream_version, position, recorded_at FROM events
         WHERE event_id IN (SELECT value FROM json_each(?1))",
    )
    .bind(ids_json)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend_error)?;
    let mut found = vec![None; ids.len()];
    for row in &rows {
        let (stream, appended) = stored_id_row(row)?;
        if let Some(i) = ids.iter().position(|x| *x == appended.id) {
            found[i] = Some(StoredId { stream, appended });
        }
    }
    Ok(found)
}

/// Appends `events` to `stream` in the write transaction `tx`, if it is at `expected`.
pub(crate) async fn append_in(
    tx: &mut SqliteConnection,
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<Appended, StoreError> {
    append_if_in(tx, stream, expected, events, None).await
}

/// Appends `events` to `stream` in the write transaction `tx`: an exact retry is acknowledged
/// first; then, with a `condition`, an event matching its query after its read is a
/// [`StoreError::BoundaryConflict`]; then the version check, the events and their tags.
pub(crate) async fn append_if_in(
    tx: &mut SqliteConnection,
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    condition: Option<&AppendCondition>,
) -> Result<Appended, StoreError> {
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let ids_json = serde_json::to_string(&ids.iter().map(Uuid::to_string).collect::<Vec<_>>())
        .map_err(|e| StoreError::backend(BACKEND, e))?;
    // One statement for the stream's version, the head position, and whether any id is stored.
    let state = sqlx::query(
        "SELECT (SELECT coalesce(max(stream_version), 0) FROM events WHERE stream = ?1),
                (SELECT coalesce(max(position), 0) FROM events),
                EXISTS (SELECT 1 FROM events WHERE event_id IN (SELECT value FROM json_each(?2))),
                (SELECT hash FROM events WHERE stream = ?1 ORDER BY stream_version DESC LIMIT 1)",
    )
    .bind(stream)
    .bind(&ids_json)
    .fetch_one(&mut *tx)
    .await
    .map_err(backend_error)?;
    if get::<bool>(&state, 2)? {
        let found = stored_ids(tx, &ids, &ids_json).await?;
        if let Some(acked) = idempotency::resolve(stream, expected, &ids, &found)? {
            return Ok(acked);
        }
    }
    if let Some(condition) = condition {
        if boundary::matched_after(tx, condition).await? {
            return Err(StoreError::BoundaryConflict {
                stream: stream.to_owned(),
                query: condition.query.to_string(),
            });
        }
    }
    let actual = to_u64(BACKEND, 0, "stream_version", get(&state, 0)?)?;
    if !expected.matches(actual) {
        return Err(StoreError::Conflict { stream: stream.to_owned(), expected, actual });
    }
    let head = to_u64(BACKEND, 0, "position", get(&state, 1)?)?;
    let recorded_at = from_micros(to_micros(std::time::SystemTime::now()));
    let micros = to_micros(recorded_at);
    let mut prev = match get::<Option<Vec<u8>>>(&state, 3)? {
        None => ChainHash::GENESIS,
        // A damaged last hash: the chain goes on from it, and verification reports it there.
        Some(bytes) => ChainHash::from_slice(&bytes).unwrap_or(ChainHash::GENESIS),
    };
    let mut appended = Vec::with_capacity(events.len());
    let mut tags = boundary::TagRows::default();
    for (offset, e) in events.into_iter().enumerate() {
        let version = actual + 1 + offset as u64;
        let position = head + 1 + offset as u64;
        let metadata = backend::metadata_to_json(&e.metadata);
        prev = link_hash(
            &prev,
            stream,
            version,
            e.id,
            &e.name,
            e.schema_version,
            e.payload.get(),
            &metadata,
            micros,
        );
        sqlx::query(
            "INSERT INTO events (position, stream, stream_version, event_id, name, schema_version, payload, metadata, recorded_at, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .bind(to_i64(position))
        .bind(stream)
        .bind(to_i64(version))
        .bind(e.id.to_string())
        .bind(&e.name)
        .bind(i64::from(e.schema_version))
        .bind(e.payload.get())
        .bind(metadata)
        .bind(micros)
        .bind(&prev.0[..])
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        tags.add(&e.tags, &e.name, position);
        appended.push(AppendedEvent { id: e.id, stream_version: version, position, recorded_at });
    }
    tags.insert(tx).await?;
    Ok(Appended { stream_version: actual + appended.len() as u64, events: appended })
}
