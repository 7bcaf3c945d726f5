//! Leases on PostgreSQL: a row per lease, judged by the server's clock. A fenced checkpoint
//! locks the lease row (`FOR SHARE`) in its transaction, so a takeover waits for it to commit,
//! and after a takeover the old holder's epoch no longer matches.

use std::time::Duration;

use es_core::backend::columns::LeaseColumns;
use es_core::backend::{to_i64, to_micros};
use es_core::{Checkpoint, Lease, Leases, StoreError};
use sqlx::postgres::PgRow;

use crate::error::{backend_error, BACKEND};
use crate::rows::get;
use crate::PostgresStore;

const COLUMNS: &str = "name, owner, epoch, (extract(epoch FROM renewed_at) * 1000000)::bigint,
     (extract(epoch FROM expires_at) * 1000000)::bigint";

fn lease_row(row: &PgRow) -> Result<Lease, StoreError> {
    let columns = LeaseColumns {
        name: get(row, 0)?,
        owner: get(row, 1)?,
        epoch: get(row, 2)?,
        renewed_us: get(row, 3)?,
        expires_us: get(row, 4)?,
    };
    columns.decode(BACKEND)
}

impl Leases for PostgresStore {
    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        let schema = self.schema();
        // Taken when free or expired (epoch + 1), renewed when already the owner's.
        let sql = format!(
            "INSERT INTO {schema}.es_leases AS l (name, owner, epoch, renewed_at, expires_at)
             VALUES ($1, $2, 1, now(), now() + make_interval(secs => $3))
             ON CONFLICT (name) DO UPDATE SET
                 epoch = CASE WHEN l.owner = excluded.owner THEN l.epoch ELSE l.epoch + 1 END,
                 owner = excluded.owner, renewed_at = excluded.renewed_at, expires_at = excluded.expires_at
             WHERE l.owner = excluded.owner OR l.expires_at <= now()
             RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(name)
            .bind(owner)
            // Clamped: a huge TTL is past PostgreSQL's interval and timestamp range.
            .bind(es_core::lease::clamp_ttl(ttl).as_secs_f64())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
        row.as_ref().map(lease_row).transpose()
    }

    async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE {}.es_leases SET expires_at = now() WHERE name = $1 AND owner = $2 AND epoch = $3",
            self.schema()
        );
        sqlx::query(&sql)
            .bind(&lease.name)
            .bind(&lease.owner)
            .bind(to_i64(lease.epoch))
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM {}.es_leases WHERE name = $1", self.schema());
        let row = sqlx::query(&sql).bind(name).fetch_optional(&self.pool).await.map_err(backend_error)?;
        row.as_ref().map(lease_row).transpose()
    }

    async fn save_checkpoint_fenced(&self, checkpoint: Checkpoint, lease: &Lease) -> Result<(), StoreError> {
        let mut tx = crate::session::begin(&self.pool).await.map_err(backend_error)?;
        self.check_lease(&mut tx, lease).await?;
        sqlx::query(&self.queries.save_checkpoint)
            .bind(&lease.name)
            .bind(to_i64(checkpoint.cursor.commit()))
            .bind(to_i64(checkpoint.cursor.position()))
            .bind(checkpoint.state.as_ref().map(|s| s.get()))
            .bind(to_micros(checkpoint.saved_at))
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        tx.commit().await.map_err(backend_error)
    }
}

impl PostgresStore {
    /// Checks inside `tx` that `lease` is still held at its epoch, locking its row until `tx`
    /// ends so that no takeover commits in between; [`StoreError::Fenced`] otherwise.
    pub(crate) async fn check_lease(
        &self,
        tx: &mut sqlx::PgConnection,
        lease: &Lease,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "SELECT 1 FROM {}.es_leases WHERE name = $1 AND owner = $2 AND epoch = $3 FOR SHARE",
            self.schema()
        );
        let held: Option<i32> = sqlx::query_scalar(&sql)
            .bind(&lease.name)
            .bind(&lease.owner)
            .bind(to_i64(lease.epoch))
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend_error)?;
        match held {
            Some(_) => Ok(()),
            None => Err(StoreError::Fenced { lease: lease.name.clone(), epoch: lease.epoch }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use es_core::Leases;

    use crate::PostgresOptions;

    /// `Duration::MAX` used to overflow PostgreSQL's interval: now it means "practically never".
    #[tokio::test]
    async fn a_huge_ttl_holds_the_lease_instead_of_failing() -> Result<(), es_core::StoreError> {
        let schema = format!("es_test_lease_{}", es_core::Uuid::new_v4().simple());
        let store = PostgresOptions::new().schema(schema).connect(&crate::url_from_env()).await?;
        let held = store.acquire("huge", "a", Duration::MAX).await?.expect("a free lease is taken");
        let decades = SystemTime::now() + Duration::from_secs(50 * 365 * 24 * 3600);
        assert!(held.expires_at > decades, "{held:?}");
        assert_eq!(store.lease("huge").await?, Some(held.clone()), "the expiry reads back");
        assert!(store.acquire("huge", "b", Duration::MAX).await?.is_none(), "held by a");
        let renewed = store.acquire("huge", "a", Duration::MAX).await?.expect("a renews");
        assert_eq!(renewed.epoch, held.epoch);
        store.drop_schema().await
    }
}
