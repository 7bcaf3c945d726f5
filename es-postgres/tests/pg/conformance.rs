//! The PostgreSQL store passes the conformance suite.

use crate::{drop_store, fresh_store, reopen};

es_testing::store_conformance!(fresh_store().await, reopen = reopen, teardown = drop_store);

/// The suite through a wrapper: `CountingStore` forwards every capability of PostgreSQL's store.
mod counting {
    use es_postgres::PostgresStore;
    use es_testing::CountingStore;

    async fn reopen(store: CountingStore<PostgresStore>) -> CountingStore<PostgresStore> {
        CountingStore::new(crate::reopen(store.inner().clone()).await)
    }

    async fn teardown(store: CountingStore<PostgresStore>) {
        crate::drop_store(store.inner().clone()).await;
    }

    es_testing::store_conformance!(
        CountingStore::new(crate::fresh_store().await),
        reopen = reopen,
        teardown = teardown,
    );
}
