//! The PostgreSQL store passes the conformance checks of dynamic consistency boundaries, each
//! in a schema of its own (racers and writers run on connections of their own from the pool).

use crate::{drop_store, fresh_store};

es_testing::boundary_conformance!(fresh_store().await, teardown = drop_store);
