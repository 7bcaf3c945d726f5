//! The in-memory store passes the conformance suite.

mod memory {
    es_testing::store_conformance!(es_core::MemoryStore::new());
}

/// The suite through a wrapper: `CountingStore` forwards every capability of the store it wraps.
mod counting {
    es_testing::store_conformance!(es_testing::CountingStore::new(es_core::MemoryStore::new()));
}
