//! Loading with the hash chain checked first (opt-in).

use crate::integrity::{verify_stream, Links};
use crate::model::Aggregate;
use crate::repository::{Loaded, Repository};
use crate::store::StoreError;

impl<A: Aggregate, S: Links> Repository<A, S> {
    /// Like [`load`](Repository::load), after verifying the stream's whole hash chain: a stream
    /// whose history was changed outside the application is [`StoreError::Tampered`], naming
    /// the first broken link. It reads the stream twice (the links, then the events); events
    /// appended between the two reads are loaded unverified. It folds every event and reads no
    /// snapshot: a snapshot is not covered by the chain.
    ///
    /// ```
    /// # use es_core::{Aggregate, Apply, Event, Handle, MemoryStore, Repository};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
    /// # pub struct Added { n: u32 }
    /// # #[derive(Aggregate, Default)]
    /// # #[aggregate(events(Added), error = std::convert::Infallible)]
    /// # pub struct Sum { total: u32 }
    /// # impl Apply<Added> for Sum { fn apply(&mut self, e: &Added) { self.total += e.n } }
    /// # impl Handle<u32> for Sum {
    /// #     fn handle(&self, n: &u32) -> Result<Vec<SumEvent>, Self::Error> { Ok(vec![Added { n: *n }.into()]) }
    /// # }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let sums = Repository::<Sum, _>::new(MemoryStore::new());
    /// sums.execute("s", 4).await?;
    /// assert_eq!(sums.load_verified("s").await?.state.total, 4);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn load_verified(&self, id: &str) -> Result<Loaded<A>, StoreError> {
        let check = verify_stream(&self.store, &A::stream_name(id)).await?;
        if let Some(broken) = check.broken {
            return Err(StoreError::Tampered(Box::new(broken)));
        }
        self.load_from(id, false).await
    }
}
