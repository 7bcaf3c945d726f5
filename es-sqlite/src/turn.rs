//! Turns on SQLite: the write transaction. A turn holds the writer connection in `BEGIN
//! IMMEDIATE` from the load to the commit, so no other process can write the file meanwhile;
//! this process's commands wait for the writer connection in arrival order.

use es_core::{Appended, EventRef, ExpectedVersion, Lend, LocalQueue, NewEvent, StoreError, Turn, Turns};
use sqlx::{Sqlite, Transaction};

use crate::append::append_in;
use crate::error::backend_error;
use crate::store::visit_stream_on;
use crate::SqliteStore;

impl Turns for SqliteStore {
    type Turn<'a> = SqliteTurn<'a>;

    fn local_queue(&self, stream: &str) -> LocalQueue {
        self.queues.get(stream)
    }

    async fn take_turn<'a>(&'a self, stream: &'a str) -> Result<SqliteTurn<'a>, StoreError> {
        let tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(backend_error)?;
        Ok(SqliteTurn { store: self, stream, tx, appended: None })
    }
}

/// A turn on one stream of a [`SqliteStore`]: its write transaction.
#[derive(Debug)]
pub struct SqliteTurn<'a> {
    store: &'a SqliteStore,
    stream: &'a str,
    tx: Transaction<'static, Sqlite>,
    /// What was appended, to wake subscribers once committed.
    appended: Option<Appended>,
}

impl Turn for SqliteTurn<'_> {
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
        visit_stream_on(&mut *self.tx, self.stream, from, limit, lend, visit).await
    }

    async fn append(
        &mut self,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        es_core::idempotency::check_batch(self.stream, &events)?;
        let appended = append_in(&mut self.tx, self.stream, expected, events).await?;
        self.appended = Some(appended.clone());
        Ok(appended)
    }

    async fn finish(self) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(backend_error)?;
        if let Some(appended) = &self.appended {
            self.store.appended.appended(appended);
        }
        Ok(())
    }
}
