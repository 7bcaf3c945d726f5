//! Dynamic consistency boundaries on PostgreSQL, at READ COMMITTED, with no table lock and no
//! SERIALIZABLE (migration 13 holds the SQL).
//!
//! Every append writes its events' tags to `es_tags` in its own transaction. A query read lends
//! the matching events with their tags and counts them ([`Seen::matched`]); positions are not
//! in commit order here (appends commit in parallel), so the condition counts instead of
//! comparing positions. A conditional append (`es_append` with a condition) takes, after its
//! stream's lock and sorted by key, an exclusive transaction-scoped advisory lock on each
//! (first tag, name) of its query's items, and a shared one on each (tag, name) of the events
//! it writes; every append of tagged events takes the shared ones too. Then it counts the
//! matching events in a statement of its own: more than the read counted is a
//! [`StoreError::BoundaryConflict`].
//!
//! - Exact: an event matching an item carries the item's first tag under one of its names, so
//!   its writer held the shared lock on a key the decision locks exclusively, until it ended.
//!   Either it committed before the decision got its lock, and the count (a snapshot taken
//!   after the lock) sees it; or it waits until the decision has committed, and comes after it.
//!   Events are never deleted, so the count grew by exactly the matching events committed
//!   since the read.
//! - No false conflicts: a conflict means the count grew, so a matching event really came.
//!   Decisions whose queries do not overlap lock different keys and never wait for each other
//!   (shared locks of writers never exclude each other either).
//! - No deadlock: in each append the locks are taken stream first, then by key, exclusive where
//!   a key is both; appends of untagged events take no boundary lock at all.

use std::future::poll_fn;

use es_core::backend::{append_span, to_i32, visit_span};
use es_core::{
    AppendCondition, Appended, Boundaries, Cursor, EventRef, ExpectedVersion, Lend, NewEvent, Query, Seen,
    StoreError,
};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::Postgres;
use tracing::Instrument;

use crate::append::{AppendArgs, AppendOutcome};
use crate::error::{backend_error, BACKEND};
use crate::rows::{get, lend_row, CONTEXT_COLUMNS, DECODE_COLUMNS};
use crate::PostgresStore;

/// A query as `es_query_positions` takes it, flat: one key row (item, its first tag, a name)
/// per name of each item, one row (item, tag) per other tag of each item.
#[derive(Debug, Default)]
pub(crate) struct QueryArgs<'a> {
    key_items: Vec<i32>,
    key_tags: Vec<&'a str>,
    key_names: Vec<&'a str>,
    need_items: Vec<i32>,
    need_tags: Vec<&'a str>,
}

impl<'a> QueryArgs<'a> {
    /// The arguments of `query`; its items must have names and tags ([`Query::check`]).
    pub(crate) fn new(query: &'a Query) -> Result<Self, StoreError> {
        let mut args = QueryArgs::default();
        for (i, item) in query.items.iter().enumerate() {
            let i = to_i32(BACKEND, "query item", u32::try_from(i).unwrap_or(u32::MAX))?;
            let Some((first, others)) = item.tags.split_first() else { continue };
            for name in &item.names {
                args.key_items.push(i);
                args.key_tags.push(first);
                args.key_names.push(name);
            }
            for tag in others {
                args.need_items.push(i);
                args.need_tags.push(tag);
            }
        }
        Ok(args)
    }

    /// Binds the five arrays, in the order `es_query_positions` takes them.
    pub(crate) fn bind_to<'q>(
        &'q self,
        statement: sqlx::query::Query<'q, Postgres, PgArguments>,
    ) -> sqlx::query::Query<'q, Postgres, PgArguments> {
        statement
            .bind(&self.key_items)
            .bind(&self.key_tags)
            .bind(&self.key_names)
            .bind(&self.need_items)
            .bind(&self.need_tags)
    }
}

/// The statement of a query read in `schema` (quoted): the matching events with their tags,
/// in the global order.
pub(crate) fn visit_query_sql(schema: &str) -> String {
    format!(
        "SELECT {DECODE_COLUMNS}, {CONTEXT_COLUMNS}, stream,
                ARRAY(SELECT g.tag FROM {schema}.es_tags g WHERE g.position = e.position) AS tags
         FROM {schema}.es_events e
         WHERE e.position IN (SELECT q.position FROM {schema}.es_query_positions($1, $2, $3, $4, $5) q)
         ORDER BY e.commit_no, e.position"
    )
}

/// Lends one row of the query read with its tags; its cursor.
fn lend_tagged<F>(row: &PgRow, visit: &mut F) -> Result<Cursor, StoreError>
where
    F: FnMut(&EventRef<'_>, &[&str]) -> Result<(), StoreError> + Send,
{
    let tags: Vec<String> = get(row, 10)?;
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    lend_row(row, None, Lend::All, |event| {
        visit(event, &tags)?;
        Ok(event.cursor)
    })
}

impl Boundaries for PostgresStore {
    async fn visit_query<F>(&self, query: &Query, mut visit: F) -> Result<Seen, StoreError>
    where
        F: FnMut(&EventRef<'_>, &[&str]) -> Result<(), StoreError> + Send,
    {
        query.check(BACKEND)?;
        let args = QueryArgs::new(query)?;
        let span = visit_span(BACKEND, None);
        // Not held back by the readers' horizon: the read counts every matching event its
        // snapshot shows, and the condition counts again under the locks.
        let mut rows = args.bind_to(sqlx::query(&self.queries.visit_query)).fetch(&self.pool);
        let mut seen = Seen::default();
        while let Some(row) = poll_fn(|cx| rows.as_mut().poll_next(cx)).instrument(span.clone()).await {
            seen.head = seen.head.max(lend_tagged(&row.map_err(backend_error)?, &mut visit)?);
            seen.matched += 1;
        }
        span.record("rows", seen.matched);
        Ok(seen)
    }

    async fn append_if(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        condition: &AppendCondition,
    ) -> Result<Appended, StoreError> {
        condition.query.check(BACKEND)?;
        let span = append_span(BACKEND, stream, events.len());
        async move {
            let args = AppendArgs::new(stream, expected, &events)?.with_condition(condition)?;
            let appended = match self.append_args(&args).await? {
                AppendOutcome::Boundary => {
                    return Err(StoreError::BoundaryConflict {
                        stream: stream.to_owned(),
                        query: condition.query.to_string(),
                    })
                }
                outcome => outcome.into_result(stream, expected, &args.ids)?,
            };
            self.appended(&appended);
            Ok(appended)
        }
        .instrument(span)
        .await
    }
}
