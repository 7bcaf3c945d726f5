//! The store's name in errors, and how driver errors become [`StoreError`]s.

use es_core::StoreError;

/// The store's name in errors: [`EventStore::BACKEND`](es_core::EventStore::BACKEND).
pub(crate) const BACKEND: &str = "postgres";

/// A driver error, as the store reports it.
pub(crate) fn backend_error(e: sqlx::Error) -> StoreError {
    StoreError::backend(BACKEND, e)
}
