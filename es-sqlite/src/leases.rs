//! Leases on SQLite: a row per lease, taken, renewed and checked inside write transactions, so
//! processes on one file agree on one holder. Times come from this machine's clock, which every
//! process on the file shares.

use std::time::{Duration, SystemTime};

use es_core::backend::columns::LeaseColumns;
use es_core::backend::{to_i64, to_micros};
use es_core::{Checkpoint, Lease, Leases, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::Connection;

use crate::error::{backend_error, BACKEND};
use crate::rows::get;
use crate::side_tables::SAVE_CHECKPOINT;
use crate::SqliteStore;

/// Takes the lease when free, expired (epoch + 1) or already the owner's (renewed).
const ACQUIRE: &str =
    "INSERT INTO leases (name, owner, epoch, renewed_at, expires_at) VALUES (?1, ?2, 1, ?3, ?4)
     ON CONFLICT (name) DO UPDATE SET
         epoch = CASE WHEN leases.owner = excluded.owner THEN leases.epoch ELSE leases.epoch + 1 END,
         owner = excluded.owner, renewed_at = excluded.renewed_at, expires_at = excluded.expires_at
     WHERE leases.owner = excluded.owner OR leases.expires_at <= excluded.renewed_at
     RETURNING name, owner, epoch, renewed_at, expires_at";

fn lease_row(row: &SqliteRow) -> Result<Lease, StoreError> {
    let columns = LeaseColumns {
        name: get(row, 0)?,
        owner: get(row, 1)?,
        epoch: get(row, 2)?,
        renewed_us: get(row, 3)?,
        expires_us: get(row, 4)?,
    };
    columns.decode(BACKEND)
}

impl Leases for SqliteStore {
    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        let now = SystemTime::now();
        let row = sqlx::query(ACQUIRE)
            .bind(name)
            .bind(owner)
            .bind(to_micros(now))
            // Clamped: `now + Duration::MAX` would panic.
            .bind(to_micros(es_core::lease::expiry(now, ttl)))
            .fetch_optional(&self.writer)
            .await
            .map_err(backend_error)?;
        row.as_ref().map(lease_row).transpose()
    }

    async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        sqlx::query("UPDATE leases SET expires_at = 0 WHERE name = ?1 AND owner = ?2 AND epoch = ?3")
            .bind(&lease.name)
            .bind(&lease.owner)
            .bind(to_i64(lease.epoch))
            .execute(&self.writer)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        let row =
            sqlx::query("SELECT name, owner, epoch, renewed_at, expires_at FROM leases WHERE name = ?1")
                .bind(name)
                .fetch_optional(&self.reader)
                .await
                .map_err(backend_error)?;
        row.as_ref().map(lease_row).transpose()
    }

    async fn save_checkpoint_fenced(&self, checkpoint: Checkpoint, lease: &Lease) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await.map_err(backend_error)?;
        // The write lock is taken first: no takeover can commit between the check and the save.
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(backend_error)?;
        let held: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM leases WHERE name = ?1 AND owner = ?2 AND epoch = ?3")
                .bind(&lease.name)
                .bind(&lease.owner)
                .bind(to_i64(lease.epoch))
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
        if held.is_none() {
            return Err(StoreError::Fenced { lease: lease.name.clone(), epoch: lease.epoch });
        }
        sqlx::query(SAVE_CHECKPOINT)
            .bind(&lease.name)
            .bind(to_i64(checkpoint.cursor.position()))
            .bind(checkpoint.state.as_ref().map(|s| s.get()))
            .bind(to_micros(checkpoint.saved_at))
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        tx.commit().await.map_err(backend_error)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use es_core::Leases;

    use crate::SqliteStore;

    /// `Duration::MAX` used to panic in `now + ttl`: now it means "practically never".
    #[tokio::test]
    async fn a_huge_ttl_holds_the_lease_instead_of_panicking() -> Result<(), es_core::StoreError> {
        let store = SqliteStore::in_memory().await?;
        let held = store.acquire("huge", "a", Duration::MAX).await?.expect("a free lease is taken");
        let decades = SystemTime::now() + Duration::from_secs(50 * 365 * 24 * 3600);
        assert!(held.expires_at > decades, "{held:?}");
        assert_eq!(store.lease("huge").await?, Some(held.clone()), "the expiry reads back");
        assert!(store.acquire("huge", "b", Duration::MAX).await?.is_none(), "held by a");
        let renewed = store.acquire("huge", "a", Duration::MAX).await?.expect("a renews");
        assert_eq!(renewed.epoch, held.epoch);
        Ok(())
    }
}
