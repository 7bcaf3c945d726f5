//! Turns on PostgreSQL: a transaction holding a per-stream advisory lock from the load to the
//! commit. PostgreSQL grants a contended lock to its waiters in the order they asked, so every
//! process gets its turn; a process that dies mid-turn loses its connection, and with it the
//! lock. The turn lock is not the one appends take, so appends outside turns are not held back.

use es_core::{Appended, EventRef, ExpectedVersion, Lend, LocalQueue, NewEvent, StoreError, Turn, Turns};
use sqlx::{Postgres, Transaction};

use crate::append::AppendArgs;
use crate::error::backend_error;
use crate::PostgresStore;

impl Turns for PostgresStore {
    type Turn<'a> = PgTurn<'a>;

    fn local_queue(&self, stream: &str) -> LocalQueue {
        self.queues.get(stream)
    }

    async fn take_turn<'a>(&'a self, stream: &'a str) -> Result<PgTurn<'a>, StoreError> {
        // READ COMMITTED whatever the session's default: after the lock wait, the load must see
        // what the turn before this one appended (see `session`).
        let mut tx = crate::session::begin(&self.pool).await.map_err(backend_error)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('turn:' || $1), hashtext($2))")
            .bind(self.schema_name())
            .bind(stream)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        Ok(PgTurn { store: self, stream, tx, appended: None })
    }
}

/// A turn on one stream of a [`PostgresStore`]: a transaction holding the stream's turn lock.
#[derive(Debug)]
pub struct PgTurn<'a> {
    store: &'a PostgresStore,
    stream: &'a str,
    tx: Transaction<'static, Postgres>,
    /// What was appended, to wake subscribers once committed.
    appended: Option<Appended>,
}

impl Turn for PgTurn<'_> {
    async fn visit_stream<F>(
        &mut self,
        from: u64,
        limit: usize,
        lend: Lend,
        visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        self.store.visit_stream_on(&mut *self.tx, self.stream, from, limit, lend, visit).await
    }

    async fn append(
        &mut self,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        let args = AppendArgs::new(self.stream, expected, &events)?;
        let outcome = args.run(&self.store.queries.append, &mut *self.tx).await.map_err(backend_error)?;
        let appended = outcome.into_result(self.stream, expected, &args.ids)?;
        self.appended = Some(appended.clone());
        Ok(appended)
    }

    async fn finish(self) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(backend_error)?;
        if let Some(appended) = &self.appended {
            self.store.appended(appended);
        }
        Ok(())
    }
}
