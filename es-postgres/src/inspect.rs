//! [`Inspect`] for [`PostgresStore`], on its own tables in its schema; and the schema version of
//! a schema read without opening it as a store ([`stored_schema_version`]), for `es migrate`.

use std::str::FromStr;

use es_core::backend::from_micros;
use es_core::inspect::{Inspect, NameCount, StreamInfo};
use es_core::StoreError;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Row};

use crate::error::{backend_error, BACKEND};
use crate::schema::{SchemaError, SchemaName};
use crate::{redact, PostgresStore};

/// A count or version as stored (never negative in a store this crate wrote).
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Inspect for PostgresStore {
    async fn streams(&self, prefix: &str) -> Result<Vec<StreamInfo>, StoreError> {
        // `left` compares the prefix exactly (LIKE would need escaping); COLLATE "C" sorts by
        // bytes, as the other stores do, whatever the database's collation.
        let sql = format!(
            "SELECT stream, max(stream_version), max(recorded_us) FROM {}.es_events
             WHERE left(stream, length($1)) = $1
             GROUP BY stream ORDER BY stream COLLATE \"C\"",
            self.schema()
        );
        let rows = sqlx::query(&sql).bind(prefix).fetch_all(self.pool()).await.map_err(backend_error)?;
        rows.iter()
            .map(|r| {
                Ok(StreamInfo {
                    stream: r.try_get(0).map_err(backend_error)?,
                    version: count(r.try_get(1).map_err(backend_error)?),
                    last_recorded: from_micros(r.try_get(2).map_err(backend_error)?),
                })
            })
            .collect()
    }

    async fn event_names(&self) -> Result<Vec<NameCount>, StoreError> {
        let sql = format!(
            "SELECT name, count(*) FROM {}.es_events GROUP BY name ORDER BY name COLLATE \"C\"",
            self.schema()
        );
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await.map_err(backend_error)?;
        rows.iter()
            .map(|r| {
                Ok(NameCount {
                    name: r.try_get(0).map_err(backend_error)?,
                    events: count(r.try_get(1).map_err(backend_error)?),
                })
            })
            .collect()
    }

    async fn checkpoint_names(&self) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "SELECT projection FROM {}.es_checkpoints ORDER BY projection COLLATE \"C\"",
            self.schema()
        );
        sqlx::query_scalar(&sql).fetch_all(self.pool()).await.map_err(backend_error)
    }

    async fn parked_consumers(&self) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "SELECT reactor FROM {}.es_dead_letters GROUP BY reactor ORDER BY reactor COLLATE \"C\"",
            self.schema()
        );
        sqlx::query_scalar(&sql).fetch_all(self.pool()).await.map_err(backend_error)
    }

    async fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        let sql = format!("SELECT max(version)::bigint FROM {}.es_migrations", self.schema());
        sqlx::query_scalar(&sql).fetch_one(self.pool()).await.map_err(backend_error)
    }
}

/// The newest migration applied to `schema` of the database at `url`, read on one connection
/// without checking, creating or migrating anything: what `es migrate` reports as the version
/// before. `None` when the schema does not exist or was never migrated. An unreachable server is
/// [`StoreError::Unavailable`] (naming the server without its password); a name the store does
/// not accept is a [`SchemaError`] inside [`StoreError::Backend`], as when opening.
pub async fn stored_schema_version(url: &str, schema: &str) -> Result<Option<i64>, StoreError> {
    let name = SchemaName::new(schema).map_err(|e| StoreError::backend(BACKEND, SchemaError::from(e)))?;
    let unavailable =
        |e: sqlx::Error| StoreError::Unavailable { backend: BACKEND, target: redact(url), source: e.into() };
    let mut conn =
        PgConnectOptions::from_str(url).map_err(unavailable)?.connect().await.map_err(unavailable)?;
    let version = version_in(&mut conn, &name).await;
    // Nothing was written: an error closing is not the caller's.
    let _ = conn.close().await;
    version
}

async fn version_in(conn: &mut PgConnection, name: &SchemaName) -> Result<Option<i64>, StoreError> {
    let table = format!("{}.es_migrations", name.ident());
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(&table)
        .fetch_one(&mut *conn)
        .await
        .map_err(backend_error)?;
    if !exists {
        return Ok(None);
    }
    sqlx::query_scalar(&format!("SELECT max(version)::bigint FROM {table}"))
        .fetch_one(&mut *conn)
        .await
        .map_err(backend_error)
}
