//! The append call: its arguments as `es_append` takes them (the batch, its tags and the
//! condition, if any), and what it answers, as an enum.

use es_core::backend::{metadata_to_json, to_i32, to_i64, to_u64};
use es_core::idempotency::{self, StoredId};
use es_core::{AppendCondition, Appended, AppendedEvent, ExpectedVersion, NewEvent, StoreError, Uuid};
use sqlx::postgres::PgRow;

use crate::boundary::QueryArgs;
use crate::error::BACKEND;
use crate::rows::{appended_row, get};

/// A batch as columns of arrays, bound to `es_append` in one round trip.
pub(crate) struct AppendArgs<'a> {
    pub(crate) stream: &'a str,
    /// The version required, or `None` for any.
    pub(crate) expected: Option<i64>,
    pub(crate) ids: Vec<Uuid>,
    pub(crate) names: Vec<&'a str>,
    pub(crate) versions: Vec<i32>,
    pub(crate) payloads: Vec<&'a str>,
    pub(crate) metadata: Vec<String>,
    /// The events' tags, flat: `tags[j]` belongs to event `tag_events[j]` (1-based), each tag
    /// once per event.
    pub(crate) tag_events: Vec<i32>,
    pub(crate) tags: Vec<&'a str>,
    /// The condition, if any (see `boundary::QueryArgs`).
    pub(crate) condition: Option<(i64, QueryArgs<'a>)>,
}

/// Whether `e` is a unique-index violation (SQLSTATE 23505).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

impl<'a> AppendArgs<'a> {
    /// Calls `es_append` (the statement `query`) with these arguments on `executor`.
    pub(crate) async fn run<'e, E>(&self, query_text: &str, executor: E) -> Result<AppendOutcome, sqlx::Error>
    where
        E: sqlx::PgExecutor<'e>,
    {
        let unconditional = QueryArgs::default();
        let (matched, query) = match &self.condition {
            Some((matched, query)) => (Some(*matched), query),
            None => (None, &unconditional),
        };
        let statement = sqlx::query(query_text)
            .bind(self.stream)
            .bind(self.expected)
            .bind(&self.ids)
            .bind(&self.names)
            .bind(&self.versions)
            .bind(&self.payloads)
            .bind(&self.metadata)
            .bind(&self.tag_events)
            .bind(&self.tags)
            .bind(matched);
        let rows = query.bind_to(statement).fetch_all(executor).await?;
        AppendOutcome::from_rows(&rows).map_err(|e| sqlx::Error::Protocol(e.to_string()))
    }

    /// The arguments for appending `events`; a batch repeating an id, or a schema version
    /// the column cannot hold, is refused before anything is sent.
    pub(crate) fn new(
        stream: &'a str,
        expected: ExpectedVersion,
        events: &'a [NewEvent],
    ) -> Result<Self, StoreError> {
        idempotency::check_batch(stream, events)?;
        let (mut tag_events, mut tags) = (Vec::new(), Vec::new());
        for (i, e) in events.iter().enumerate() {
            for (j, tag) in e.tags.iter().enumerate() {
                // A tag repeated in one event is kept once.
                if !e.tags[..j].contains(tag) {
                    tag_events.push(to_i32(BACKEND, "event index", i as u32 + 1)?);
                    tags.push(tag.as_str());
                }
            }
        }
        Ok(AppendArgs {
            stream,
            expected: expected.required().map(to_i64),
            ids: events.iter().map(|e| e.id).collect(),
            names: events.iter().map(|e| e.name.as_str()).collect(),
            versions: events
                .iter()
                .map(|e| to_i32(BACKEND, "schema version", e.schema_version))
                .collect::<Result<_, _>>()?,
            payloads: events.iter().map(|e| e.payload.get()).collect(),
            metadata: events.iter().map(|e| metadata_to_json(&e.metadata)).collect(),
            tag_events,
            tags,
            condition: None,
        })
    }

    /// Appends only under `condition`: no more events match its query than its read counted.
    pub(crate) fn with_condition(mut self, condition: &'a AppendCondition) -> Result<Self, StoreError> {
        let matched = i64::try_from(condition.seen.matched)
            .map_err(|_| StoreError::backend(BACKEND, "a read cannot have matched more than 2^63 events"))?;
        self.condition = Some((matched, QueryArgs::new(&condition.query)?));
        Ok(self)
    }
}

/// What `es_append` answered.
#[derive(Debug)]
pub(crate) enum AppendOutcome {
    /// The events were stored, each where it landed.
    Appended(Vec<AppendedEvent>),
    /// Some ids of the batch are already stored: (stream, where) for each, for the idempotency
    /// rule to decide.
    Stored(Vec<(String, AppendedEvent)>),
    /// The stream was at `actual`, not the expected version.
    Conflict { actual: u64 },
    /// The batch was empty; the stream is at `version`.
    Empty { version: u64 },
    /// More events match the condition's query than its read counted.
    Boundary,
}

impl AppendOutcome {
    /// Reads the rows: each carries its status in column 0 (`appended`, `stored`, `conflict`,
    /// `empty`) and the stream's version in column 3.
    pub(crate) fn from_rows(rows: &[PgRow]) -> Result<Self, StoreError> {
        let Some(first) = rows.first() else {
            return Err(StoreError::backend(BACKEND, "es_append returned no row"));
        };
        let version =
            |row: &PgRow| -> Result<u64, StoreError> { to_u64(BACKEND, 0, "stream_version", get(row, 3)?) };
        match get::<&str>(first, 0)? {
            "appended" => Ok(AppendOutcome::Appended(
                rows.iter().map(|r| appended_row(r).map(|(_, e)| e)).collect::<Result<_, _>>()?,
            )),
            "stored" => Ok(AppendOutcome::Stored(rows.iter().map(appended_row).collect::<Result<_, _>>()?)),
            "conflict" => Ok(AppendOutcome::Conflict { actual: version(first)? }),
            "empty" => Ok(AppendOutcome::Empty { version: version(first)? }),
            "boundary" => Ok(AppendOutcome::Boundary),
            other => {
                Err(StoreError::backend(BACKEND, format!("es_append returned an unknown status {other:?}")))
            }
        }
    }

    /// The append's result for the batch with `ids`.
    pub(crate) fn into_result(
        self,
        stream: &str,
        expected: ExpectedVersion,
        ids: &[Uuid],
    ) -> Result<Appended, StoreError> {
        match self {
            AppendOutcome::Appended(events) => {
                Ok(Appended { stream_version: events.last().map_or(0, |e| e.stream_version), events })
            }
            AppendOutcome::Empty { version } => Ok(Appended { stream_version: version, events: vec![] }),
            AppendOutcome::Conflict { actual } => {
                Err(StoreError::Conflict { stream: stream.to_owned(), expected, actual })
            }
            // Only an append with a condition gets this answer, and it reads it first.
            AppendOutcome::Boundary => Err(StoreError::backend(
                BACKEND,
                format!(
                    "es_append answered a boundary conflict to an append to `{stream}` without a condition"
                ),
            )),
            AppendOutcome::Stored(stored) => {
                let mut found = vec![None; ids.len()];
                for (stored_stream, appended) in stored {
                    if let Some(i) = ids.iter().position(|id| *id == appended.id) {
                        found[i] = Some(StoredId { stream: stored_stream, appended });
                    }
                }
                idempotency::resolve(stream, expected, ids, &found)?.ok_or_else(|| {
                    StoreError::backend(BACKEND, "es_append reported stored ids that are not in the batch")
                })
            }
        }
    }
}
