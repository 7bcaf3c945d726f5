//! The in-memory store passes the conformance suite.

es_testing::store_conformance!(es_core::MemoryStore::new());
