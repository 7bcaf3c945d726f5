//! Subjects' keys for personal data, in the schema's `es_personal_keys` table.

use es_core::personal::{KeyFuture, KeyStore, Keyring, SubjectKey};
use es_core::StoreError;
use sqlx::PgPool;

use crate::error::{backend_error, BACKEND};
use crate::PostgresStore;

/// The key table of a [`PostgresStore`], behind its keyring.
#[derive(Clone, Debug)]
pub(crate) struct PgKeys {
    pool: PgPool,
    /// The quoted schema.
    schema: String,
}

impl PgKeys {
    /// The keyring over the key table of `schema` (quoted).
    pub(crate) fn keyring(pool: PgPool, schema: &str) -> Keyring {
        Keyring::new(PgKeys { pool, schema: schema.to_owned() })
    }
}

impl KeyStore for PgKeys {
    fn key<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, Option<SubjectKey>> {
        Box::pin(async move {
            let sql = format!("SELECT key FROM {}.es_personal_keys WHERE subject = $1", self.schema);
            let key: Option<Vec<u8>> = sqlx::query_scalar(&sql)
                .bind(subject)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?;
            key.map(|k| SubjectKey::stored(BACKEND, subject, &k)).transpose()
        })
    }

    fn create_key<'a>(&'a self, subject: &'a str, fresh: SubjectKey) -> KeyFuture<'a, SubjectKey> {
        Box::pin(async move {
            // One statement: a subject created concurrently keeps the first key.
            let sql = format!(
                "WITH new AS (
                     INSERT INTO {s}.es_personal_keys (subject, key, created_us)
                     VALUES ($1, $2, (extract(epoch FROM now()) * 1000000)::bigint)
                     ON CONFLICT (subject) DO NOTHING RETURNING key)
                 SELECT key FROM new UNION ALL SELECT key FROM {s}.es_personal_keys WHERE subject = $1 LIMIT 1",
                s = self.schema
            );
            let key: Vec<u8> = sqlx::query_scalar(&sql)
                .bind(subject)
                .bind(&fresh.0[..])
                .fetch_one(&self.pool)
                .await
                .map_err(backend_error)?;
            SubjectKey::stored(BACKEND, subject, &key)
        })
    }

    fn forget<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, bool> {
        Box::pin(async move {
            let sql = format!("DELETE FROM {}.es_personal_keys WHERE subject = $1", self.schema);
            let done = sqlx::query(&sql).bind(subject).execute(&self.pool).await.map_err(backend_error)?;
            Ok(done.rows_affected() > 0)
        })
    }
}

impl PostgresStore {
    /// Forgets `subject`: deletes its key, so the personal data of its events reads as erased
    /// from now on in this process, and in others once their cached key expires (see
    /// `es_core::personal`). Whether it had a key.
    pub async fn forget(&self, subject: &str) -> Result<bool, StoreError> {
        self.keys.forget(subject).await
    }
}
