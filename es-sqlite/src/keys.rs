//! Subjects' keys for personal data, in the store's `personal_keys` table.

use es_core::personal::{KeyFuture, KeyStore, SubjectKey};
use sqlx::SqlitePool;

use crate::error::{backend_error, BACKEND};

/// The key table of a [`SqliteStore`](crate::SqliteStore), behind its keyring.
#[derive(Clone, Debug)]
pub(crate) struct SqliteKeys {
    pub(crate) writer: SqlitePool,
}

impl KeyStore for SqliteKeys {
    fn key<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, Option<SubjectKey>> {
        Box::pin(async move {
            let key: Option<Vec<u8>> = sqlx::query_scalar("SELECT key FROM personal_keys WHERE subject = ?1")
                .bind(subject)
                .fetch_optional(&self.writer)
                .await
                .map_err(backend_error)?;
            key.map(|k| SubjectKey::stored(BACKEND, subject, &k)).transpose()
        })
    }

    fn create_key<'a>(&'a self, subject: &'a str, fresh: SubjectKey) -> KeyFuture<'a, SubjectKey> {
        Box::pin(async move {
            // One statement: a subject created concurrently keeps the first key.
            let key: Vec<u8> = sqlx::query_scalar(
                "INSERT INTO personal_keys (subject, key, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (subject) DO UPDATE SET subject = excluded.subject RETURNING key",
            )
            .bind(subject)
            .bind(&fresh.0[..])
            .bind(es_core::backend::to_micros(std::time::SystemTime::now()))
            .fetch_one(&self.writer)
            .await
            .map_err(backend_error)?;
            SubjectKey::stored(BACKEND, subject, &key)
        })
    }

    fn forget<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, bool> {
        Box::pin(async move {
            let done = sqlx::query("DELETE FROM personal_keys WHERE subject = ?1")
                .bind(subject)
                .execute(&self.writer)
                .await
                .map_err(backend_error)?;
            Ok(done.rows_affected() > 0)
        })
    }
}
