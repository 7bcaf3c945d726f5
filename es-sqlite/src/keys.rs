//! Subjects' keys for personal data, in the store's `personal_keys` table.
//!
//! Forgetting deletes the row with SQLite's secure deletion (the freed bytes are overwritten
//! with zeros) and then checkpoints and truncates the write-ahead log, so that the key's bytes
//! leave both the database file and the log.

use std::time::Duration;

use es_core::personal::{KeyFuture, KeyStore, Keyring};
use es_core::StoreError;
use sqlx::SqlitePool;

use crate::error::{backend_error, BACKEND};

/// The key table of a [`SqliteStore`](crate::SqliteStore), behind its keyring.
#[derive(Clone, Debug)]
pub(crate) struct SqliteKeys {
    pub(crate) writer: SqlitePool,
}

/// The keyring over the key table that `writer` writes, with the master key the environment
/// names, if any.
pub(crate) fn keyring(writer: SqlitePool) -> Result<Keyring, StoreError> {
    Keyring::from_env(SqliteKeys { writer }).map_err(|e| StoreError::backend(BACKEND, e))
}

/// How often a checkpoint blocked by a reader is tried again after a forget.
const CHECKPOINT_TRIES: u32 = 50;

impl KeyStore for SqliteKeys {
    fn key<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            sqlx::query_scalar("SELECT key FROM personal_keys WHERE subject = ?1")
                .bind(subject)
                .fetch_optional(&self.writer)
                .await
                .map_err(backend_error)
        })
    }

    fn create_key<'a>(&'a self, subject: &'a str, fresh: Vec<u8>) -> KeyFuture<'a, Vec<u8>> {
        Box::pin(async move {
            // Writers confirm the key before every command that seals: the common case reads
            // it, and writes nothing.
            if let Some(key) = self.key(subject).await? {
                return Ok(key);
            }
            // A subject created concurrently keeps the first key.
            sqlx::query(
                "INSERT INTO personal_keys (subject, key, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (subject) DO NOTHING",
            )
            .bind(subject)
            .bind(fresh)
            .bind(es_core::backend::to_micros(std::time::SystemTime::now()))
            .execute(&self.writer)
            .await
            .map_err(backend_error)?;
            let key = self.key(subject).await?;
            key.ok_or_else(|| {
                StoreError::backend(BACKEND, format!("the key of `{subject}` was forgotten as it was made"))
            })
        })
    }

    fn forget<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, bool> {
        Box::pin(async move {
            let mut conn = self.writer.acquire().await.map_err(backend_error)?;
            // Per connection, and kept on: every later delete on the writer is secure too.
            sqlx::query("PRAGMA secure_delete = ON").execute(&mut *conn).await.map_err(backend_error)?;
            let done = sqlx::query("DELETE FROM personal_keys WHERE subject = ?1")
                .bind(subject)
                .execute(&mut *conn)
                .await
                .map_err(backend_error)?;
            drop(conn);
            truncate_wal(&self.writer).await?;
            Ok(done.rows_affected() > 0)
        })
    }
}

/// Copies the write-ahead log into the database file and truncates it to nothing, trying again
/// while a reader holds an older snapshot. A store not in WAL mode (in memory) has no log.
pub(crate) async fn truncate_wal(pool: &SqlitePool) -> Result<(), StoreError> {
    for _ in 0..CHECKPOINT_TRIES {
        let (busy, _, _): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(pool).await.map_err(backend_error)?;
        if busy == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(StoreError::backend(
        BACKEND,
        "the key was deleted, but a long-running reader kept the write-ahead log from being truncated: \
         run `PRAGMA wal_checkpoint(TRUNCATE)` once it has finished",
    ))
}

impl crate::SqliteStore {
    /// The same store, wrapping the subjects' keys it creates with `master` and opening wrapped
    /// ones with it (envelope encryption: a copy of the file alone opens no personal data).
    /// Stores use the master key in `ES_MASTER_KEY` / `ES_MASTER_KEY_FILE` by default.
    pub fn with_master_key(mut self, master: es_core::personal::MasterKey) -> Self {
        self.keys = self.keys.with_master_key(master);
        self
    }

    /// Checkpoints the write-ahead log into the database file and truncates it (what `forget`
    /// does after deleting a key).
    pub async fn truncate_wal(&self) -> Result<(), StoreError> {
        truncate_wal(&self.writer).await
    }
}
