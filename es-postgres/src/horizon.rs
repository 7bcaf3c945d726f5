//! What holds readers back: readers of the global order stop below the oldest transaction still
//! running in the whole server (it may yet commit events that sort before later ones), so one
//! long writing transaction, in any database of the server, delays every follower. This module
//! names those transactions, and warns once when a follower has waited too long on one.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use es_core::StoreError;

use crate::error::backend_error;
use crate::rows::get;
use crate::PostgresStore;

/// An open transaction that has written (so has a transaction id) and may hold readers back.
#[derive(Debug, Clone, PartialEq)]
pub struct ReaderBlocker {
    /// The server process running it (`pg_terminate_backend(pid)` ends it).
    pub pid: i32,
    /// The database it runs in.
    pub database: Option<String>,
    /// How long the transaction has been open.
    pub age: Duration,
    /// `active`, `idle in transaction`, ...
    pub state: Option<String>,
    /// Its current or last statement.
    pub query: Option<String>,
}

impl std::fmt::Display for ReaderBlocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} in database {} open {:.1} s ({}): {}",
            self.pid,
            self.database.as_deref().unwrap_or("?"),
            self.age.as_secs_f64(),
            self.state.as_deref().unwrap_or("?"),
            self.query.as_deref().unwrap_or("").trim()
        )
    }
}

const BLOCKERS: &str =
    "SELECT pid, datname::text, extract(epoch FROM now() - xact_start)::float8, state, query
     FROM pg_stat_activity
     WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
     ORDER BY age(backend_xid) DESC";

impl PostgresStore {
    /// The open writing transactions of the whole server, oldest first: the first one is what
    /// readers of the global order wait on while it lasts.
    pub async fn reader_blockers(&self) -> Result<Vec<ReaderBlocker>, StoreError> {
        let rows = sqlx::query(BLOCKERS).fetch_all(&self.pool).await.map_err(backend_error)?;
        rows.iter()
            .map(|row| {
                let age: Option<f64> = get(row, 2)?;
                Ok(ReaderBlocker {
                    pid: get(row, 0)?,
                    database: get(row, 1)?,
                    age: Duration::try_from_secs_f64(age.unwrap_or(0.0)).unwrap_or_default(),
                    state: get(row, 3)?,
                    query: get(row, 4)?,
                })
            })
            .collect()
    }

    /// Whether committed events exist that readers cannot see yet, because an older transaction
    /// is still open.
    pub async fn readers_held_back(&self) -> Result<bool, StoreError> {
        sqlx::query_scalar(&self.queries.held_back).fetch_one(&self.pool).await.map_err(backend_error)
    }

    /// Called when a reader has caught up with what it may see: starts, continues or ends an
    /// episode of waiting on an open transaction, and warns once per episode past the limit.
    pub(crate) async fn note_caught_up(&self) -> Result<(), StoreError> {
        let held = self.readers_held_back().await?;
        let due = self.wait.observe(held, Instant::now());
        if due {
            let blockers = self.reader_blockers().await.unwrap_or_default();
            let oldest = blockers.first().map_or_else(|| "none found".to_owned(), ToString::to_string);
            tracing::warn!(
                schema = %self.schema_name(),
                waited_s = self.wait.limit.as_secs_f64(),
                oldest = %oldest,
                "readers of the global order are held back by an open transaction; events committed \
                 after it stay invisible until it ends"
            );
        }
        Ok(())
    }
}

/// One store's episode of readers waiting on an open transaction.
#[derive(Debug)]
pub(crate) struct WaitWatch {
    /// How long readers may wait before the warning.
    pub(crate) limit: Duration,
    /// Since when readers wait, and whether this episode was reported.
    since: Mutex<Option<(Instant, bool)>>,
}

impl WaitWatch {
    pub(crate) fn new(limit: Duration) -> Self {
        WaitWatch { limit, since: Mutex::new(None) }
    }

    /// Records whether readers are held back at `now`; true once per episode, when it has lasted
    /// past the limit.
    pub(crate) fn observe(&self, held: bool, now: Instant) -> bool {
        let mut since = self.since.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match (held, &mut *since) {
            (false, _) => {
                *since = None;
                false
            }
            (true, None) => {
                *since = Some((now, false));
                false
            }
            (true, Some((start, reported))) => {
                let due = !*reported && now.duration_since(*start) >= self.limit;
                *reported |= due;
                due
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_once_per_episode_past_the_limit() {
        let watch = WaitWatch::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(!watch.observe(true, t0));
        assert!(!watch.observe(true, t0 + Duration::from_secs(9)));
        assert!(watch.observe(true, t0 + Duration::from_secs(10)), "past the limit: warn");
        assert!(!watch.observe(true, t0 + Duration::from_secs(30)), "once per episode");
        assert!(!watch.observe(false, t0 + Duration::from_secs(31)));
        assert!(!watch.observe(true, t0 + Duration::from_secs(32)), "a new episode starts");
        assert!(watch.observe(true, t0 + Duration::from_secs(42)));
    }
}
