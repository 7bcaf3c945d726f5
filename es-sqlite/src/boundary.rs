//! Dynamic consistency boundaries on SQLite: every append writes its events' tags to
//! `event_tags` in its own transaction, a query read lends the matching events with their tags,
//! and a conditional append checks its condition inside the single writer's `BEGIN IMMEDIATE`
//! transaction. Positions are handed out in commit order by that one writer, so "nothing
//! matching after the position the read saw" is exact.

use es_core::backend::{to_i64, to_u64, visit_span};
use es_core::{
    AppendCondition, Appended, Boundaries, Cursor, ExpectedVersion, Lend, NewEvent, Query, Seen, StoreError,
};
use sqlx::SqliteConnection;
use tracing::Instrument;

use crate::error::{backend_error, BACKEND};
use crate::rows::{get, lend_row, CONTEXT_COLUMNS, DECODE_COLUMNS};
use crate::SqliteStore;

/// The positions of the events matching the query `?1` (JSON, see [`query_json`]) after
/// position `?2`: for each item, the events carrying its first tag under one of its names (a
/// range of the primary key), kept if they carry its other tags too.
const MATCHING: &str = "SELECT t.position FROM json_each(?1) AS i
    JOIN event_tags AS t ON t.tag = json_extract(i.value, '$.tags[0]')
        AND t.name IN (SELECT n.value FROM json_each(i.value, '$.names') AS n)
        AND t.position > ?2
    WHERE NOT EXISTS (
        SELECT 1 FROM json_each(i.value, '$.tags') AS w
        WHERE NOT EXISTS (SELECT 1 FROM event_tags AS o
                          WHERE o.tag = w.value AND o.name = t.name AND o.position = t.position))";

/// The statements, with [`MATCHING`] written in once.
struct Statements {
    /// The matching events up to position `?3`, in order, each with its tags as a JSON array.
    visit: String,
    /// Whether an event matching the query came after position `?2`.
    after: String,
}

fn statements() -> &'static Statements {
    static STATEMENTS: std::sync::OnceLock<Statements> = std::sync::OnceLock::new();
    STATEMENTS.get_or_init(|| Statements {
        visit: format!(
            "SELECT {DECODE_COLUMNS}, {CONTEXT_COLUMNS}, stream,
                    (SELECT json_group_array(g.tag) FROM event_tags AS g WHERE g.position = e.position)
             FROM events AS e WHERE e.position IN ({MATCHING}) AND e.position <= ?3 ORDER BY e.position"
        ),
        after: format!("SELECT EXISTS ({MATCHING})"),
    })
}

/// The query as the statements take it: `[{"names": [..], "tags": [..]}, ..]`.
fn query_json(query: &Query) -> String {
    let items: Vec<serde_json::Value> = query
        .items
        .iter()
        .map(|item| serde_json::json!({ "names": item.names, "tags": item.tags }))
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// Whether an event matching `condition.query` is stored after the position its read saw, in
/// the writer's transaction `tx`.
pub(crate) async fn matched_after(
    tx: &mut SqliteConnection,
    condition: &AppendCondition,
) -> Result<bool, StoreError> {
    sqlx::query_scalar(&statements().after)
        .bind(query_json(&condition.query))
        .bind(to_i64(condition.seen.head.position()))
        .fetch_one(&mut *tx)
        .await
        .map_err(backend_error)
}

/// The `event_tags` rows of a batch: `[tag, name, position]` for each distinct tag of each
/// event. A batch without tags writes nothing.
#[derive(Default)]
pub(crate) struct TagRows(Vec<serde_json::Value>);

impl TagRows {
    /// The rows of the event named `name` at `position`, carrying `tags`.
    pub(crate) fn add(&mut self, tags: &[String], name: &str, position: u64) {
        for (i, tag) in tags.iter().enumerate() {
            // A tag repeated in one event is kept once.
            if !tags[..i].contains(tag) {
                self.0.push(serde_json::json!([tag, name, position]));
            }
        }
    }

    /// Inserts the rows in `tx`, in one statement; none for a batch without tags.
    pub(crate) async fn insert(self, tx: &mut SqliteConnection) -> Result<(), StoreError> {
        if self.0.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO event_tags (tag, name, position)
             SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
             FROM json_each(?1)",
        )
        .bind(serde_json::Value::Array(self.0).to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        Ok(())
    }
}

impl Boundaries for SqliteStore {
    async fn visit_query<F>(&self, query: &Query, mut visit: F) -> Result<Seen, StoreError>
    where
        F: FnMut(&es_core::EventRef<'_>, &[&str]) -> Result<(), StoreError> + Send,
    {
        query.check(BACKEND)?;
        let span = visit_span(BACKEND, None);
        // The head first: every event at or below it had committed, so the read after it sees
        // them all; what it might also see above the head is left for the condition to catch.
        let head: i64 = sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events")
            .fetch_one(&self.reader)
            .instrument(span.clone())
            .await
            .map_err(backend_error)?;
        let rows = sqlx::query(&statements().visit)
            .bind(query_json(query))
            .bind(0_i64)
            .bind(head)
            .fetch_all(&self.reader)
            .instrument(span.clone())
            .await
            .map_err(backend_error)?;
        for row in &rows {
            let position: i64 = get(row, 0)?;
            let listed: String = get(row, 9)?;
            let tags: Vec<String> = serde_json::from_str(&listed).map_err(|e| {
                StoreError::backend(BACKEND, format!("the tags of the event at position {position}: {e}"))
            })?;
            let lent: Vec<&str> = tags.iter().map(String::as_str).collect();
            lend_row(row, None, Lend::All, |event| visit(event, &lent))?;
        }
        span.record("rows", rows.len());
        Ok(Seen { head: Cursor::at(to_u64(BACKEND, 0, "position", head)?), matched: rows.len() as u64 })
    }

    async fn append_if(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        condition: &AppendCondition,
    ) -> Result<Appended, StoreError> {
        condition.query.check(BACKEND)?;
        self.append_if_in(stream, expected, events, Some(condition)).await
    }
}
