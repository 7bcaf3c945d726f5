//! Versions of a table projection, built beside each other: version `n` of projection `name`
//! writes its tables into a schema of its own, `<store schema>_<name>_v<n>` (its SQL runs with
//! that schema as its `search_path`, so it names its tables unqualified), and keeps its
//! checkpoint as `name@n` ([`checkpoint_name`]), version 1 included: the unversioned runner's
//! checkpoint `name` goes with the tables it wrote in the session's schemas, so a version 1
//! built beside it starts from the first event in its own empty tables. Readers query the
//! stable schema `<store schema>_<name>`, which holds one view per table of the active version.
//!
//! The switch is one transaction: it locks the active version record (`name@active` in the
//! checkpoints table), checks that no newer or equal version is active, locks the checkpoints
//! of the active version and of the new one and checks that the new one is not behind (readers
//! would see the model go back), repoints every view at the new version's tables and saves the
//! record. A batch of the active version waits for the switch on its checkpoint row, and the
//! switch for a batch in flight. A reader's query runs before or after it, never in between, and
//! never sees a version that has not caught up. A second switcher waits on the record's row lock
//! and then finds its version active already: the switch happens once.

use es_core::backend::{to_i64, to_micros};
use es_core::consume::versions::{active_key, ActiveVersion, Switched};
use es_core::{Cursor, StoreError};
use sqlx::PgConnection;

use crate::error::{backend_error, BACKEND};
use crate::PostgresStore;

/// The longest identifier PostgreSQL keeps whole.
const MAX_IDENTIFIER: usize = 63;

/// Where one version of a table projection lives.
#[derive(Debug, Clone)]
pub(super) struct Version {
    /// The projection's name.
    pub(super) name: String,
    /// The version.
    pub(super) version: u64,
    /// Its checkpoint's and lease's name.
    pub(super) checkpoint: String,
    /// The schema of its tables, unquoted (only `[a-z0-9_]`).
    pub(super) tables: String,
    /// The schema readers query, unquoted (only `[a-z0-9_]`).
    pub(super) read: String,
}

impl Version {
    /// Version `version` of the projection `name` on `store`; an error when the schema names
    /// would be longer than PostgreSQL keeps.
    pub(super) fn new(store: &PostgresStore, name: &str, version: u64) -> Result<Self, StoreError> {
        let version = version.max(1);
        let read = format!("{}_{}", identifier(store.schema_name()), identifier(name));
        let tables = format!("{read}_v{version}");
        if tables.len() > MAX_IDENTIFIER {
            return Err(StoreError::backend(
                BACKEND,
                format!(
                    "the schema `{tables}` of version {version} of table projection `{name}` is longer than {MAX_IDENTIFIER} bytes: use a shorter projection or store schema name"
                ),
            ));
        }
        Ok(Version {
            name: name.to_owned(),
            version,
            checkpoint: checkpoint_name(name, version),
            tables,
            read,
        })
    }

    /// The `search_path` the version's SQL runs with.
    pub(super) fn search_path(&self) -> String {
        format!("SET LOCAL search_path TO \"{}\"", self.tables)
    }
}

/// The checkpoint (and lease) name of version `version` of the table projection `name`:
/// `name@<version>`, for version 1 too (`name` is the unversioned runner's, whose tables are
/// elsewhere).
pub(super) fn checkpoint_name(name: &str, version: u64) -> String {
    format!("{name}@{}", version.max(1))
}

/// `raw` as an identifier part: lower-case ASCII letters, digits and `_`, the rest as `_`.
fn identifier(raw: &str) -> String {
    raw.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

/// The active version record of `name`, read inside `tx` with its row locked (created empty
/// first if missing), so that switches and retirements of one projection take turns.
async fn lock_record(
    store: &PostgresStore,
    tx: &mut PgConnection,
    name: &str,
) -> Result<Option<ActiveVersion>, StoreError> {
    let schema = store.schema();
    sqlx::query(&format!(
        "INSERT INTO {schema}.es_checkpoints (projection, position, saved_us) VALUES ($1, 0, 0)
         ON CONFLICT (projection) DO NOTHING"
    ))
    .bind(active_key(name))
    .execute(&mut *tx)
    .await
    .map_err(backend_error)?;
    let state: Option<String> = sqlx::query_scalar(&format!(
        "SELECT state::text FROM {schema}.es_checkpoints WHERE projection = $1 FOR UPDATE"
    ))
    .bind(active_key(name))
    .fetch_one(&mut *tx)
    .await
    .map_err(backend_error)?;
    let raw = state
        .map(serde_json::value::RawValue::from_string)
        .transpose()
        .map_err(|source| StoreError::State { owner: active_key(name), source })?;
    ActiveVersion::from_state(raw.as_deref())
}

/// The cursor of the checkpoint `name` inside `tx`, its row locked against batches until the
/// transaction ends ([`Cursor::START`]: no checkpoint).
async fn lock_checkpoint(
    store: &PostgresStore,
    tx: &mut PgConnection,
    name: &str,
) -> Result<Cursor, StoreError> {
    let row: Option<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT commit_no, position FROM {}.es_checkpoints WHERE projection = $1 FOR SHARE",
        store.schema()
    ))
    .bind(name)
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend_error)?;
    row.map_or(Ok(Cursor::START), super::tables::cursor_of)
}

/// Makes `version` the active one, at its checkpoint, in one transaction with repointing the
/// readers' views at its tables; nothing when the same or a newer version is active, or when
/// the active version's checkpoint is past this version's.
pub(super) async fn switch(store: &PostgresStore, version: &Version) -> Result<Switched, StoreError> {
    let mut tx = crate::session::begin(store.pool()).await.map_err(backend_error)?;
    let previous = lock_record(store, &mut tx, &version.name).await?;
    if let Some(active) = previous.as_ref().map(|p| p.version).filter(|v| *v >= version.version) {
        tx.rollback().await.map_err(backend_error)?;
        return Ok(Switched::Already { active });
    }
    let from = previous.as_ref().map(|p| p.version);
    let cursor = lock_checkpoint(store, &mut tx, &version.checkpoint).await?;
    if let Some(active) = from {
        let at = lock_checkpoint(store, &mut tx, &checkpoint_name(&version.name, active)).await?;
        if at > cursor {
            tx.rollback().await.map_err(backend_error)?;
            return Ok(Switched::Behind { active, at });
        }
    }
    let (read, tables) = (&version.read, &version.tables);
    for ddl in [
        format!("CREATE SCHEMA IF NOT EXISTS \"{read}\""),
        format!("CREATE SCHEMA IF NOT EXISTS \"{tables}\""),
    ] {
        sqlx::query(&ddl).execute(&mut *tx).await.map_err(backend_error)?;
    }
    let views: Vec<String> =
        sqlx::query_scalar("SELECT viewname::text FROM pg_catalog.pg_views WHERE schemaname = $1")
            .bind(read)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend_error)?;
    for view in views {
        let view = view.replace('"', "\"\"");
        sqlx::query(&format!("DROP VIEW \"{read}\".\"{view}\""))
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
    }
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_catalog.pg_tables WHERE schemaname = $1 ORDER BY tablename",
    )
    .bind(tables)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend_error)?;
    for table in names {
        let table = table.replace('"', "\"\"");
        let ddl = format!("CREATE VIEW \"{read}\".\"{table}\" AS SELECT * FROM \"{tables}\".\"{table}\"");
        sqlx::query(&ddl).execute(&mut *tx).await.map_err(backend_error)?;
    }
    let record = ActiveVersion::switched(previous, version.version, cursor);
    let saved_at = std::time::SystemTime::now();
    sqlx::query(&store.queries.save_checkpoint)
        .bind(active_key(&version.name))
        .bind(to_i64(cursor.commit()))
        .bind(to_i64(cursor.position()))
        .bind(record.to_state()?.get())
        .bind(to_micros(saved_at))
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
    tx.commit().await.map_err(backend_error)?;
    tracing::info!(projection = %version.name, from = ?from, to = version.version, position = cursor.position(), "switched the active version and its views");
    Ok(Switched::Now { from })
}

/// The active version of `version.name` (`None`: none was switched to yet).
pub(super) async fn active(store: &PostgresStore, name: &str) -> Result<Option<u64>, StoreError> {
    Ok(es_core::consume::versions::active(store, name).await?.map(|a| a.version))
}

/// Drops the tables and the checkpoint of `version`, unless it is the active one.
pub(super) async fn retire(store: &PostgresStore, version: &Version) -> Result<(), StoreError> {
    let mut tx = crate::session::begin(store.pool()).await.map_err(backend_error)?;
    let record = lock_record(store, &mut tx, &version.name).await?;
    if record.as_ref().is_some_and(|r| r.version == version.version) {
        return Err(StoreError::backend(
            BACKEND,
            format!(
                "version {} of table projection `{}` is the active one: switch to another before retiring it",
                version.version, version.name
            ),
        ));
    }
    sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", version.tables))
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
    sqlx::query(&store.queries.delete_checkpoint)
        .bind(&version.checkpoint)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
    tx.commit().await.map_err(backend_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{checkpoint_name, identifier};

    #[test]
    fn every_table_version_has_a_checkpoint_of_its_own() {
        assert_eq!(checkpoint_name("ledger", 1), "ledger@1", "not the unversioned runner's `ledger`");
        assert_eq!(checkpoint_name("ledger", 2), "ledger@2");
    }

    #[test]
    fn identifiers_keep_only_lower_case_letters_digits_and_underscores() {
        assert_eq!(identifier("Balances-Per Owner"), "balances_per_owner");
        assert_eq!(identifier("x\"; DROP"), "x___drop");
    }
}
