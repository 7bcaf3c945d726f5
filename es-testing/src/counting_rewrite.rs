//! [`CountingStore`] forwards sanctioned rewrites to the store it wraps.

use es_core::integrity::{PayloadEdit, Rewrite, Rewritten};
use es_core::StoreError;

use crate::CountingStore;

impl<S: Rewrite> Rewrite for CountingStore<S> {
    async fn rewrite_payloads(
        &self,
        stream: &str,
        edits: Vec<PayloadEdit>,
        reason: &str,
    ) -> Result<Rewritten, StoreError> {
        self.inner().rewrite_payloads(stream, edits, reason).await
    }
}
