//! [`Inspect`]: streams from the subjects' counts, event names by a scan of the global order,
//! consumers from the side tables' keys.

use std::collections::{BTreeMap, BTreeSet};

use es_core::inspect::{Inspect, NameCount, StreamInfo};
use es_core::{Cursor, EventStore, StoreError};

use super::tables::{reactor_of, CHECKPOINTS, PARKED};
use super::JetStreamStore;

impl Inspect for JetStreamStore {
    async fn streams(&self, prefix: &str) -> Result<Vec<StreamInfo>, StoreError> {
        let mut out = Vec::new();
        for (stream, version) in self.stream_names().await? {
            if !stream.starts_with(prefix) {
                continue;
            }
            let subject = self.inner.subjects.stream(&stream);
            let Some(got) = self.inner.api.last_msg(&self.inner.events, &subject).await? else { continue };
            let last = super::message::Decoded::new(&got, stream.clone())?;
            out.push(StreamInfo { stream, version, last_recorded: last.recorded_at() });
        }
        Ok(out)
    }

    async fn event_names(&self) -> Result<Vec<NameCount>, StoreError> {
        // JetStream keeps no index by a header: one pass over the global order.
        let mut counts = BTreeMap::<String, u64>::new();
        let mut after = Cursor::START;
        loop {
            let mut last = after;
            let n = self
                .visit_all(after, 4096, |e| {
                    *counts.entry(e.name.to_owned()).or_default() += 1;
                    last = e.cursor;
                    Ok(())
                })
                .await?;
            if n == 0 {
                break;
            }
            after = last;
        }
        Ok(counts.into_iter().map(|(name, events)| NameCount { name, events }).collect())
    }

    async fn checkpoint_names(&self) -> Result<Vec<String>, StoreError> {
        let mut names = self.inner.side.keys(CHECKPOINTS).await?;
        names.sort_unstable();
        Ok(names)
    }

    async fn parked_consumers(&self) -> Result<Vec<String>, StoreError> {
        let keys = self.inner.side.keys(PARKED).await?;
        let names: BTreeSet<String> = keys.iter().map(|k| reactor_of(k).to_owned()).collect();
        Ok(names.into_iter().collect())
    }

    async fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        Ok(None)
    }
}
