//! The SQLite schema and its migrations, versioned with `PRAGMA user_version`.

use sqlx::SqliteConnection;

/// Each migration brings the schema from version `index` to `index + 1`. Append, never edit.
const MIGRATIONS: &[&str] = &[
    // 1: the event table. `position` is the rowid: positions are assigned by the single writer.
    "CREATE TABLE events (
        position       INTEGER PRIMARY KEY,
        stream         TEXT    NOT NULL,
        stream_version INTEGER NOT NULL,
        event_id       TEXT    NOT NULL UNIQUE,
        name           TEXT    NOT NULL,
        schema_version INTEGER NOT NULL,
        payload        TEXT    NOT NULL,
        metadata       TEXT    NOT NULL,
        recorded_at    INTEGER NOT NULL, -- microseconds since the Unix epoch
        UNIQUE (stream, stream_version)
    ) STRICT",
    // 2: the newest snapshot of each stream.
    "CREATE TABLE snapshots (
        stream         TEXT    PRIMARY KEY,
        stream_version INTEGER NOT NULL,
        schema_version INTEGER NOT NULL,
        state          TEXT    NOT NULL,
        taken_at       INTEGER NOT NULL -- microseconds since the Unix epoch
    ) STRICT",
    // 3: one checkpoint per projection, with its state when the runner keeps it.
    "CREATE TABLE checkpoints (
        projection TEXT    PRIMARY KEY,
        position   INTEGER NOT NULL,
        state      TEXT,
        saved_at   INTEGER NOT NULL -- microseconds since the Unix epoch
    ) STRICT",
    // 4: leases: one holder per projection at a time, with a fencing epoch.
    "CREATE TABLE leases (
        name       TEXT    PRIMARY KEY,
        owner      TEXT    NOT NULL,
        epoch      INTEGER NOT NULL,
        renewed_at INTEGER NOT NULL, -- microseconds since the Unix epoch
        expires_at INTEGER NOT NULL  -- microseconds since the Unix epoch
    ) STRICT",
    // 5: events reactors gave up on, each with a copy of the event and the last error.
    "CREATE TABLE dead_letters (
        reactor        TEXT    NOT NULL,
        event_id       TEXT    NOT NULL,
        position       INTEGER NOT NULL,
        stream         TEXT    NOT NULL,
        stream_version INTEGER NOT NULL,
        name           TEXT    NOT NULL,
        schema_version INTEGER NOT NULL,
        payload        TEXT    NOT NULL,
        metadata       TEXT    NOT NULL,
        recorded_at    INTEGER NOT NULL,
        error          TEXT    NOT NULL,
        attempts       INTEGER NOT NULL,
        parked_at      INTEGER NOT NULL,
        PRIMARY KEY (reactor, event_id)
    ) STRICT",
    // 6: each event's link in its stream's hash chain (filled for older events by `links::backfill`).
    "ALTER TABLE events ADD COLUMN hash BLOB",
    // 7: each subject's key for its personal data; deleting it forgets the subject.
    "CREATE TABLE personal_keys (
        subject    TEXT    PRIMARY KEY,
        key        BLOB    NOT NULL,
        created_at INTEGER NOT NULL -- microseconds since the Unix epoch
    ) STRICT",
    // 8: snapshots taken before states holding personal data were sealed may hold it in plain
    // text, which forgetting would not erase: drop them all (a snapshot is only a cache).
    "DELETE FROM snapshots",
    // 9: each tagged event's tags, keyed for "events named one of N carrying tag T" (the
    // decisions' queries); events without tags have no row.
    "CREATE TABLE IF NOT EXISTS event_tags (
        tag      TEXT    NOT NULL,
        name     TEXT    NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (tag, name, position)
    ) STRICT, WITHOUT ROWID",
    // 10: an event's tags by its position, to lend them with it.
    "CREATE INDEX IF NOT EXISTS event_tags_by_position ON event_tags (position)",
];

/// The migration that added the hash chain: stores migrated across it get their chain computed.
pub(crate) const CHAIN_MIGRATION: i64 = 6;

/// The schema version this program writes.
pub const CURRENT: i64 = MIGRATIONS.len() as i64;

/// The schema version in `PRAGMA user_version`: a negative one is [`MigrateError::Invalid`]
/// (this program never writes one), a newer one [`MigrateError::Newer`].
async fn found_version(conn: &mut SqliteConnection) -> Result<usize, MigrateError> {
    let found: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut *conn).await?;
    if found > CURRENT {
        return Err(MigrateError::Newer { found });
    }
    usize::try_from(found).map_err(|_| MigrateError::Invalid { found })
}

/// The schema version of the database `conn` opens, checked without changing anything: an
/// older one is [`MigrateError::NeedsMigrating`], for stores opened read-only.
pub async fn check(conn: &mut SqliteConnection) -> Result<i64, MigrateError> {
    let found = found_version(conn).await?;
    if found < MIGRATIONS.len() {
        return Err(MigrateError::NeedsMigrating { found: found as i64 });
    }
    Ok(CURRENT)
}

/// Brings the schema up to date inside the caller's write transaction; the version it found.
pub async fn migrate(conn: &mut SqliteConnection) -> Result<i64, MigrateError> {
    let found = found_version(conn).await?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found) {
        sqlx::query(sql).execute(&mut *conn).await?;
        // PRAGMA takes no bound parameters; the value is our own integer.
        sqlx::query(&format!("PRAGMA user_version = {}", index + 1)).execute(&mut *conn).await?;
    }
    let found = found as i64;
    if found < CHAIN_MIGRATION && CHAIN_MIGRATION <= CURRENT {
        crate::links::backfill(conn).await?;
    }
    Ok(found)
}

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The file was written by a newer program.
    #[error(
        "the database has schema version {found}, newer than this program's {CURRENT}: upgrade the program"
    )]
    Newer {
        /// Its schema version.
        found: i64,
    },
    /// `PRAGMA user_version` holds a value this program never writes (negative): not a file of
    /// this store, or a damaged one.
    #[error("the database has schema version {found}, which no version of this program writes: is it an event store?")]
    Invalid {
        /// The value found.
        found: i64,
    },
    /// The file has an older schema and was opened read-only, so it cannot be brought up to date.
    #[error(
        "the database has schema version {found}, older than this program's {CURRENT}: it needs migrating: run `es migrate` (or open it read-write)"
    )]
    NeedsMigrating {
        /// Its schema version.
        found: i64,
    },
    /// SQLite failed.
    #[error("migrating the schema: {0}")]
    Sql(#[from] sqlx::Error),
    /// An event could not be chained (a damaged row).
    #[error("chaining the stored events: {0}")]
    Chain(#[from] es_core::StoreError),
}
