//! The in-memory store passes the conformance checks of dynamic consistency boundaries.

es_testing::boundary_conformance!(es_core::MemoryStore::new());
