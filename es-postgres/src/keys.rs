//! Subjects' keys for personal data, in the schema's `es_personal_keys` table.

use es_core::personal::{KeyFuture, KeyStore, Keyring};
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
    /// The keyring over the key table of `schema` (quoted), with the master key the
    /// environment names, if any.
    pub(crate) fn keyring(pool: PgPool, schema: &str) -> Result<Keyring, StoreError> {
        Keyring::from_env(PgKeys { pool, schema: schema.to_owned() })
            .map_err(|e| StoreError::backend(BACKEND, e))
    }
}

impl KeyStore for PgKeys {
    fn key<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let sql = format!("SELECT key FROM {}.es_personal_keys WHERE subject = $1", self.schema);
            sqlx::query_scalar(&sql).bind(subject).fetch_optional(&self.pool).await.map_err(backend_error)
        })
    }

    fn create_key<'a>(&'a self, subject: &'a str, fresh: Vec<u8>) -> KeyFuture<'a, Vec<u8>> {
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
            sqlx::query_scalar(&sql)
                .bind(subject)
                .bind(fresh)
                .fetch_one(&self.pool)
                .await
                .map_err(backend_error)
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
    /// from now on, and reports what stays readable (`es_core::shredding::forget`). The deleted
    /// key's bytes stay in a dead row until [`vacuum_keys`](Self::vacuum_keys) runs.
    pub async fn forget(&self, subject: &str) -> Result<es_core::shredding::Forgotten, StoreError> {
        es_core::shredding::forget(self, &self.keys, subject).await
    }

    /// Rewrites the key table so that forgotten keys leave its data files: `VACUUM FULL` on
    /// `es_personal_keys` (a brief exclusive lock on that small table). Until it runs (or
    /// autovacuum reuses the space), a deleted key's bytes stay in a dead row of the table; the
    /// write-ahead log and base backups keep them until they are recycled. Run it after
    /// forgetting, e.g. from a nightly job; with a master key (`ES_MASTER_KEY`) the kept bytes
    /// are wrapped and open nothing without it. A row that a transaction begun before the forget
    /// may still see is kept until that transaction ends: run it again later to be sure.
    pub async fn vacuum_keys(&self) -> Result<(), StoreError> {
        let sql = format!("VACUUM FULL {}.es_personal_keys", self.keys_schema());
        sqlx::query(&sql).execute(&self.pool).await.map_err(backend_error)?;
        Ok(())
    }

    /// The same store, wrapping the subjects' keys it creates with `master` and opening wrapped
    /// ones with it (envelope encryption: a copy of the database alone opens no personal data).
    /// Stores use the master key in `ES_MASTER_KEY` / `ES_MASTER_KEY_FILE` by default.
    pub fn with_master_key(mut self, master: es_core::personal::MasterKey) -> Self {
        self.keys = self.keys.with_master_key(master);
        self
    }

    fn keys_schema(&self) -> &str {
        &self.queries.schema
    }
}
