//! Dynamic consistency boundaries: events carry tags (`course:rust-101`), a decision reads the
//! events that match a [`Query`] of (event names x tags), and appends only if no event matching
//! that query was committed after what it read ([`AppendCondition`]). [`Boundaries`] is the side
//! trait of the stores that keep tags.

use std::future::Future;

use crate::store::cursor::Cursor;
use crate::store::{Appended, EventRef, EventStore, ExpectedVersion, NewEvent, StoreError};

/// A tag: `key:value`, as `#[event(tag)]` writes it (`course:rust-101`).
///
/// ```
/// assert_eq!(es_core::store::tag("course", "rust-101"), "course:rust-101");
/// ```
pub fn tag(key: &str, value: &str) -> String {
    let mut tag = String::with_capacity(key.len() + 1 + value.len());
    tag.push_str(key);
    tag.push(':');
    tag.push_str(value);
    tag
}

/// One part of a [`Query`]: the events stored under one of `names` that carry every tag of
/// `tags` (at least one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueryItem {
    /// Stored event names (current and former names).
    pub names: Vec<String>,
    /// Tags the event must all carry; never empty (a query without tags would be a table scan
    /// and, on PostgreSQL, a lock on every writer of those events).
    pub tags: Vec<String>,
}

impl QueryItem {
    /// Events named one of `names` that carry every tag of `tags`.
    pub fn new<N: Into<String>, T: Into<String>>(
        names: impl IntoIterator<Item = N>,
        tags: impl IntoIterator<Item = T>,
    ) -> Self {
        QueryItem {
            names: names.into_iter().map(Into::into).collect(),
            tags: tags.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether an event named `name` carrying `tags` matches.
    pub fn matches<T: AsRef<str>>(&self, name: &str, tags: &[T]) -> bool {
        self.names.iter().any(|n| n == name)
            && self.tags.iter().all(|t| tags.iter().any(|have| have.as_ref() == t))
    }
}

/// The events matching any of its items: what a decision reads, and what its append condition
/// checks.
///
/// ```
/// use es_core::store::{Query, QueryItem};
/// let q = Query::new([QueryItem::new(["StudentSubscribed"], ["course:c1"])]);
/// assert!(q.matches("StudentSubscribed", &["student:ann", "course:c1"]));
/// assert!(!q.matches("StudentSubscribed", &["course:c2"]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Query {
    /// Its items; an event matching any of them matches.
    pub items: Vec<QueryItem>,
}

impl Query {
    /// A query of `items`.
    pub fn new(items: impl IntoIterator<Item = QueryItem>) -> Self {
        Query { items: items.into_iter().collect() }
    }

    /// Whether an event named `name` carrying `tags` matches some item.
    pub fn matches<T: AsRef<str>>(&self, name: &str, tags: &[T]) -> bool {
        self.items.iter().any(|i| i.matches(name, tags))
    }

    /// A query no store accepts: an item without names or without tags.
    pub fn check(&self, backend: &'static str) -> Result<(), StoreError> {
        match self.items.iter().find(|i| i.names.is_empty() || i.tags.is_empty()) {
            Some(item) => Err(StoreError::backend(
                backend,
                format!("a query item needs event names and at least one tag: {item:?}"),
            )),
            None => Ok(()),
        }
    }
}

impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str(" or ")?;
            }
            write!(f, "({} tagged {})", item.names.join("|"), item.tags.join(" & "))?;
        }
        Ok(())
    }
}

/// What a query read saw: the store's mark for the condition of the append that follows.
///
/// `head` is the cursor up to which the read saw every matching event; `matched` how many it
/// lent. Stores whose global order is their commit order compare positions after `head`
/// (memory, SQLite); PostgreSQL, whose positions are not in commit order, counts the matches
/// again under its locks. So only a `Seen` that [`Boundaries::visit_query`] returned means
/// anything to every store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Seen {
    /// Every matching event up to here was read.
    pub head: Cursor,
    /// How many matching events the read lent.
    pub matched: u64,
}

/// Appends only if no event matching `query` was committed after the read that saw `seen`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendCondition {
    /// The events whose arrival makes the decision stale.
    pub query: Query,
    /// What the decision's read saw.
    pub seen: Seen,
}

/// The side trait of stores that keep events' tags: read by [`Query`], append under an
/// [`AppendCondition`]. Aggregates need none of it (their stream is their boundary); decisions
/// across streams do.
///
/// Every append stores its events' tags (`NewEvent::tags`), through [`EventStore::append`] too,
/// so that an aggregate's tagged events count for the decisions that read them. The condition
/// is exact: of two appends whose conditions each match the other's events, one fails with
/// [`StoreError::BoundaryConflict`]; appends whose queries do not overlap never conflict.
#[diagnostic::on_unimplemented(
    message = "`{Self}` keeps no tags: decisions across streams need a store with `Boundaries`",
    note = "MemoryStore, SqliteStore and PostgresStore implement it"
)]
pub trait Boundaries: EventStore {
    /// Lends every event matching `query` with its tags, in the global order, and returns what
    /// the read saw, for the condition of the append that follows.
    fn visit_query<F>(
        &self,
        query: &Query,
        visit: F,
    ) -> impl Future<Output = Result<Seen, StoreError>> + Send
    where
        F: FnMut(&EventRef<'_>, &[&str]) -> Result<(), StoreError> + Send;

    /// Appends `events` to `stream` as [`EventStore::append`] does, if no event matching
    /// `condition.query` was committed after `condition.seen`; otherwise
    /// [`StoreError::BoundaryConflict`] and nothing is stored.
    fn append_if(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        condition: &AppendCondition,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send;
}
