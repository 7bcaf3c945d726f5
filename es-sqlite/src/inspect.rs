//! [`Inspect`] for [`SqliteStore`], on its own tables; and the schema version of a file read
//! without opening it as a store ([`stored_schema_version`]), for `es migrate`.

use std::path::Path;

use es_core::backend::from_micros;
use es_core::inspect::{Inspect, NameCount, StreamInfo};
use es_core::StoreError;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Row};

use crate::error::{backend_error, BACKEND};
use crate::SqliteStore;

/// A count or version as stored (never negative in a store this crate wrote).
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Inspect for SqliteStore {
    async fn streams(&self, prefix: &str) -> Result<Vec<StreamInfo>, StoreError> {
        // Text compares bytewise (BINARY): every name that starts with the prefix sorts at or
        // after it, so the range lets the (stream, stream_version) index start there, and the
        // `substr` test is exact (LIKE would ignore case and need escaping).
        let rows = sqlx::query(
            "SELECT stream, max(stream_version), max(recorded_at) FROM events
             WHERE stream >= ?1 AND substr(stream, 1, length(?1)) = ?1
             GROUP BY stream ORDER BY stream",
        )
        .bind(prefix)
        .fetch_all(&self.reader)
        .await
        .map_err(backend_error)?;
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
        let rows = sqlx::query("SELECT name, count(*) FROM events GROUP BY name ORDER BY name")
            .fetch_all(&self.reader)
            .await
            .map_err(backend_error)?;
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
        sqlx::query_scalar("SELECT projection FROM checkpoints ORDER BY projection")
            .fetch_all(&self.reader)
            .await
            .map_err(backend_error)
    }

    async fn parked_consumers(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT DISTINCT reactor FROM dead_letters ORDER BY reactor")
            .fetch_all(&self.reader)
            .await
            .map_err(backend_error)
    }

    async fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        SqliteStore::schema_version(self).await.map(Some)
    }
}

/// The schema version of the SQLite file at `path` (`PRAGMA user_version`), read on a read-only
/// connection without checking or migrating it: what `es migrate` reports as the version before.
/// The file is never created: a missing one is [`StoreError::Unavailable`].
pub async fn stored_schema_version(path: impl AsRef<Path>) -> Result<i64, StoreError> {
    let path = path.as_ref();
    let mut conn =
        SqliteConnectOptions::new().filename(path).read_only(true).connect().await.map_err(|e| {
            StoreError::Unavailable { backend: BACKEND, target: path.display().to_string(), source: e.into() }
        })?;
    let version = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut conn).await.map_err(backend_error);
    // Closing a read-only connection cannot lose anything: its error is not the caller's.
    let _ = sqlx::Connection::close(conn).await;
    version
}
