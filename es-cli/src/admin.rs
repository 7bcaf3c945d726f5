//! What the commands ask a store beyond the `EventStore` traits: its streams, names, checkpoints
//! and dead-letter lists, by SQL on each store's own tables.

use std::future::Future;

use es_core::integrity::Links;
use es_core::personal::Privacy;
use es_core::shredding::Forgotten;
use es_core::{DeadLetters, Leases};
use es_postgres::PostgresStore;
use es_sqlite::SqliteStore;
use sqlx::Row;

use crate::error::CliError;

/// A stream, with its events.
pub struct StreamRow {
    pub stream: String,
    pub events: u64,
}

/// A store the commands run on.
pub trait Store: Links + Leases + DeadLetters + Privacy {
    /// Streams whose name starts with `prefix`, with their event counts, by name.
    fn streams(&self, prefix: &str) -> impl Future<Output = Result<Vec<StreamRow>, CliError>> + Send;
    /// Event names with their counts, by name.
    fn names(&self) -> impl Future<Output = Result<Vec<(String, u64)>, CliError>> + Send;
    /// Projections, reactors and relays with a checkpoint, by name.
    fn checkpoints(&self) -> impl Future<Output = Result<Vec<String>, CliError>> + Send;
    /// Reactors and relays with parked events, by name.
    fn parking(&self) -> impl Future<Output = Result<Vec<String>, CliError>> + Send;
    /// Forgets `subject` and removes what the store keeps of its key (PostgreSQL: the dead
    /// row, with `VACUUM FULL` of the key table).
    fn forget(&self, subject: &str) -> impl Future<Output = Result<Forgotten, CliError>> + Send;
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// `prefix` as a LIKE pattern that matches it literally.
fn like_prefix(prefix: &str) -> String {
    format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

impl Store for SqliteStore {
    async fn forget(&self, subject: &str) -> Result<Forgotten, CliError> {
        // Secure deletion and the log's truncation are part of SQLite's forget.
        Ok(SqliteStore::forget(self, subject).await?)
    }

    async fn streams(&self, prefix: &str) -> Result<Vec<StreamRow>, CliError> {
        let rows = sqlx::query(
            "SELECT stream, count(*) FROM events WHERE stream LIKE ?1 ESCAPE '\\' GROUP BY stream ORDER BY stream",
        )
        .bind(like_prefix(prefix))
        .fetch_all(self.reader())
        .await?;
        Ok(rows.iter().map(|r| StreamRow { stream: r.get(0), events: count(r.get(1)) }).collect())
    }

    async fn names(&self) -> Result<Vec<(String, u64)>, CliError> {
        let rows = sqlx::query("SELECT name, count(*) FROM events GROUP BY name ORDER BY name")
            .fetch_all(self.reader())
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), count(r.get(1)))).collect())
    }

    async fn checkpoints(&self) -> Result<Vec<String>, CliError> {
        Ok(sqlx::query_scalar("SELECT projection FROM checkpoints ORDER BY projection")
            .fetch_all(self.reader())
            .await?)
    }

    async fn parking(&self) -> Result<Vec<String>, CliError> {
        Ok(sqlx::query_scalar("SELECT DISTINCT reactor FROM dead_letters ORDER BY reactor")
            .fetch_all(self.reader())
            .await?)
    }
}

impl Store for PostgresStore {
    async fn forget(&self, subject: &str) -> Result<Forgotten, CliError> {
        let forgotten = PostgresStore::forget(self, subject).await?;
        self.vacuum_keys().await?;
        Ok(forgotten)
    }

    async fn streams(&self, prefix: &str) -> Result<Vec<StreamRow>, CliError> {
        let sql = format!(
            "SELECT stream, count(*) FROM {}.es_events WHERE stream LIKE $1 GROUP BY stream ORDER BY stream",
            self.schema()
        );
        let rows = sqlx::query(&sql).bind(like_prefix(prefix)).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(|r| StreamRow { stream: r.get(0), events: count(r.get(1)) }).collect())
    }

    async fn names(&self) -> Result<Vec<(String, u64)>, CliError> {
        let sql =
            format!("SELECT name, count(*) FROM {}.es_events GROUP BY name ORDER BY name", self.schema());
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(|r| (r.get(0), count(r.get(1)))).collect())
    }

    async fn checkpoints(&self) -> Result<Vec<String>, CliError> {
        let sql = format!("SELECT projection FROM {}.es_checkpoints ORDER BY projection", self.schema());
        Ok(sqlx::query_scalar(&sql).fetch_all(self.pool()).await?)
    }

    async fn parking(&self) -> Result<Vec<String>, CliError> {
        let sql = format!("SELECT DISTINCT reactor FROM {}.es_dead_letters ORDER BY reactor", self.schema());
        Ok(sqlx::query_scalar(&sql).fetch_all(self.pool()).await?)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefixes_match_literally() {
        assert_eq!(super::like_prefix("Account-"), "Account-%");
        assert_eq!(super::like_prefix("a_b%"), "a\\_b\\%%");
    }
}
