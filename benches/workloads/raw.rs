//! The hand-written baselines: what a careful programmer writes without the framework, on the
//! same data. A hand-written event enum parsed with serde_json, and plain sqlx transactions.

use serde::Deserialize;
use sqlx::{Connection, Row};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The bank's events, written by hand with the same fields as the real ones.
pub enum RawEvent {
    Opened(Opened),
    Deposited(Deposited),
    Withdrawn(Withdrawn),
}

#[derive(Deserialize)]
pub struct Opened {
    pub owner: String,
}

#[derive(Deserialize)]
pub struct Deposited {
    pub amount: u64,
    #[allow(dead_code)]
    currency: String,
    #[allow(dead_code)]
    memo: String,
}

#[derive(Deserialize)]
pub struct Withdrawn {
    amount: u64,
}

/// Parses one stored event the way hand-written code would: match the name, parse the payload.
pub fn parse(name: &str, payload: &str) -> Result<RawEvent, Error> {
    Ok(match name {
        "AccountOpened" => RawEvent::Opened(serde_json::from_str(payload)?),
        "MoneyDeposited" => RawEvent::Deposited(serde_json::from_str(payload)?),
        "MoneyWithdrawn" => RawEvent::Withdrawn(serde_json::from_str(payload)?),
        other => return Err(format!("unknown event {other}").into()),
    })
}

/// The account state, folded by hand.
#[derive(Default)]
pub struct RawAccount {
    pub opened: bool,
    pub balance: u64,
    pub version: u64,
}

impl RawAccount {
    pub fn apply(&mut self, e: &RawEvent) {
        match e {
            RawEvent::Opened(_) => self.opened = true,
            RawEvent::Deposited(d) => self.balance += d.amount,
            RawEvent::Withdrawn(w) => self.balance -= w.amount,
        }
        self.version += 1;
    }
}

pub fn deposit_payload(amount: u64) -> String {
    format!(r#"{{"amount":{amount},"currency":"EUR","memo":""}}"#)
}

/// A deposit command on PostgreSQL by hand: one transaction that reads the stream, decides, and
/// inserts with the next version (the unique (stream, version) key guards concurrency).
pub struct PgRaw {
    pub pool: sqlx::PgPool,
    select: String,
    insert: String,
}

impl PgRaw {
    pub async fn new(pool: sqlx::PgPool, schema: &str) -> Result<Self, Error> {
        sqlx::query(&format!(
            "CREATE TABLE {schema}.raw_events (
                position bigserial PRIMARY KEY, stream text NOT NULL, stream_version bigint NOT NULL,
                event_id uuid NOT NULL UNIQUE, name text NOT NULL, schema_version integer NOT NULL,
                payload json NOT NULL, metadata json NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (stream, stream_version))"
        ))
        .execute(&pool)
        .await?;
        Ok(PgRaw {
            pool,
            select: format!("SELECT name, payload::text AS payload FROM {schema}.raw_events WHERE stream = $1 ORDER BY stream_version"),
            insert: format!(
                "INSERT INTO {schema}.raw_events (stream, stream_version, event_id, name, schema_version, payload, metadata)
                 VALUES ($1, $2, $3, $4, 3, $5::json, '{{}}'::json)"
            ),
        })
    }

    pub async fn load(&self, stream: &str) -> Result<RawAccount, Error> {
        let rows = sqlx::query(&self.select).bind(stream).fetch_all(&self.pool).await?;
        fold(rows.iter().map(|r| (r.get::<&str, _>("name"), r.get::<&str, _>("payload"))))
    }

    pub async fn append(&self, stream: &str, version: u64, name: &str, payload: &str) -> Result<(), Error> {
        sqlx::query(&self.insert)
            .bind(stream)
            .bind(version as i64)
            .bind(es_core::Uuid::new_v4())
            .bind(name)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn deposit(&self, stream: &str, amount: u64) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(&self.select).bind(stream).fetch_all(&mut *tx).await?;
        let account = fold(rows.iter().map(|r| (r.get::<&str, _>("name"), r.get::<&str, _>("payload"))))?;
        if !account.opened {
            return Err("not open".into());
        }
        sqlx::query(&self.insert)
            .bind(stream)
            .bind(account.version as i64 + 1)
            .bind(es_core::Uuid::new_v4())
            .bind("MoneyDeposited")
            .bind(deposit_payload(amount))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The same on SQLite, through one writer connection in BEGIN IMMEDIATE transactions.
pub struct SqliteRaw {
    pub pool: sqlx::SqlitePool,
}

const SQLITE_SELECT: &str = "SELECT name, payload FROM raw_events WHERE stream = ?1 ORDER BY stream_version";
const SQLITE_INSERT: &str = "INSERT INTO raw_events (stream, stream_version, event_id, name, schema_version, payload, metadata, recorded_at)
     VALUES (?1, ?2, ?3, ?4, 3, ?5, '{}', ?6)";

impl SqliteRaw {
    pub async fn open(path: &std::path::Path) -> Result<Self, Error> {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full);
        let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        sqlx::query(
            "CREATE TABLE raw_events (position INTEGER PRIMARY KEY, stream TEXT NOT NULL, stream_version INTEGER NOT NULL,
             event_id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, schema_version INTEGER NOT NULL, payload TEXT NOT NULL,
             metadata TEXT NOT NULL, recorded_at INTEGER NOT NULL, UNIQUE (stream, stream_version))",
        )
        .execute(&pool)
        .await?;
        Ok(SqliteRaw { pool })
    }

    pub async fn load(&self, stream: &str) -> Result<RawAccount, Error> {
        let rows = sqlx::query(SQLITE_SELECT).bind(stream).fetch_all(&self.pool).await?;
        fold(rows.iter().map(|r| (r.get::<&str, _>("name"), r.get::<&str, _>("payload"))))
    }

    pub async fn append_many(&self, stream: &str, events: &[(u64, &str, String)]) -> Result<(), Error> {
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        for (version, name, payload) in events {
            insert_sqlite(&mut tx, stream, *version, name, payload).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn deposit(&self, stream: &str, amount: u64) -> Result<(), Error> {
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        let rows = sqlx::query(SQLITE_SELECT).bind(stream).fetch_all(&mut *tx).await?;
        let account = fold(rows.iter().map(|r| (r.get::<&str, _>("name"), r.get::<&str, _>("payload"))))?;
        if !account.opened {
            return Err("not open".into());
        }
        insert_sqlite(&mut tx, stream, account.version + 1, "MoneyDeposited", &deposit_payload(amount))
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_sqlite(
    conn: &mut sqlx::SqliteConnection,
    stream: &str,
    version: u64,
    name: &str,
    payload: &str,
) -> Result<(), Error> {
    let now = es_core::backend::to_micros(std::time::SystemTime::now());
    sqlx::query(SQLITE_INSERT)
        .bind(stream)
        .bind(version as i64)
        .bind(es_core::Uuid::new_v4().to_string())
        .bind(name)
        .bind(payload)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Folds `(name, payload)` rows into an account.
pub fn fold<'a>(rows: impl Iterator<Item = (&'a str, &'a str)>) -> Result<RawAccount, Error> {
    let mut account = RawAccount::default();
    for (name, payload) in rows {
        account.apply(&parse(name, payload)?);
    }
    Ok(account)
}
