//! Time travel: an aggregate as it was at a version, or at a moment.

use std::time::SystemTime;

use crate::model::keyed;
use crate::model::Aggregate;
use crate::repository::{Loaded, Repository};
use crate::store::EventStore;
use crate::store::StoreError;

/// How many full records `load_as_of` reads at a time.
const PAGE: usize = 1024;

impl<A: Aggregate, S: EventStore> Repository<A, S> {
    /// The aggregate as it was after event `version` of its stream (or after its last event, if
    /// the stream is shorter).
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
    /// for n in [1, 2, 3] { sums.execute("s", n).await?; }
    /// let then = sums.load_at("s", 2).await?;
    /// assert_eq!((then.state.total, then.version), (3, 2));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn load_at(&self, id: &str, version: u64) -> Result<Loaded<A>, StoreError> {
        let stream = A::stream_name(id);
        let mut loaded = Loaded { state: A::default(), version: 0 };
        let limit = usize::try_from(version).unwrap_or(usize::MAX);
        super::execute::fold(
            &mut super::execute::Direct(&self.store),
            self.keys.as_ref(),
            &stream,
            &mut loaded,
            limit,
        )
        .await?;
        Ok(loaded)
    }

    /// The aggregate as it was at `moment`: after the events recorded at or before it.
    pub async fn load_as_of(&self, id: &str, moment: SystemTime) -> Result<Loaded<A>, StoreError> {
        let stream = A::stream_name(id);
        let mut loaded = Loaded { state: A::default(), version: 0 };
        loop {
            let page = self.store.read_stream(&stream, loaded.version + 1, PAGE).await?;
            for stored in &page {
                if stored.recorded_at > moment {
                    return Ok(loaded);
                }
                loaded.state.apply(&keyed::decode::<A::Event>(self.keys.as_ref(), stored).await?);
                loaded.version = stored.stream_version;
            }
            if page.len() < PAGE {
                return Ok(loaded);
            }
        }
    }
}
