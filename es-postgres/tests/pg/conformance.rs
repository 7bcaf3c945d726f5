//! The PostgreSQL store passes the conformance suite.

use crate::{drop_store, fresh_store};

es_testing::store_conformance!(fresh_store().await, teardown = drop_store);
