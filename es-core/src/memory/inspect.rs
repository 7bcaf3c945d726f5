//! [`Inspect`] for [`MemoryStore`]: read from its log and side tables under their locks.

use std::collections::BTreeSet;
use std::sync::PoisonError;

use super::MemoryStore;
use crate::store::inspect::{Inspect, NameCount, StreamInfo};
use crate::store::StoreError;

impl Inspect for MemoryStore {
    async fn streams(&self, prefix: &str) -> Result<Vec<StreamInfo>, StoreError> {
        let log = self.read();
        let mut streams: Vec<StreamInfo> = log
            .streams
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .filter_map(|(name, (_, slots))| {
                let last = &log.slots[*slots.last()? as usize];
                Some(StreamInfo {
                    stream: name.to_string(),
                    version: last.stream_version,
                    last_recorded: last.recorded_at,
                })
            })
            .collect();
        streams.sort_unstable_by(|a, b| a.stream.cmp(&b.stream));
        Ok(streams)
    }

    async fn event_names(&self) -> Result<Vec<NameCount>, StoreError> {
        let log = self.read();
        let mut counts = vec![0u64; log.event_names.len()];
        for slot in &log.slots {
            counts[slot.name as usize] += 1;
        }
        let mut names: Vec<NameCount> = log
            .event_names
            .iter()
            .zip(counts)
            .filter(|(_, events)| *events > 0)
            .map(|(name, events)| NameCount { name: name.to_string(), events })
            .collect();
        names.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(names)
    }

    async fn checkpoint_names(&self) -> Result<Vec<String>, StoreError> {
        let checkpoints = self.checkpoints.lock().unwrap_or_else(PoisonError::into_inner);
        let mut names: Vec<String> = checkpoints.keys().cloned().collect();
        names.sort_unstable();
        Ok(names)
    }

    async fn parked_consumers(&self) -> Result<Vec<String>, StoreError> {
        let dead = self.dead_letters.lock().unwrap_or_else(PoisonError::into_inner);
        // Keyed by (reactor, position): the reactors come in order, each once per parked event.
        let names: BTreeSet<&String> = dead.keys().map(|(reactor, _)| reactor).collect();
        Ok(names.into_iter().cloned().collect())
    }

    async fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::inspect::{Inspect, NameCount};
    use crate::{EventStore, ExpectedVersion, MemoryStore, NewEvent};

    fn event(name: &str) -> NewEvent {
        NewEvent::new(name, 1, serde_json::json!({}))
    }

    #[tokio::test]
    async fn streams_match_their_prefix_literally_and_come_by_name() {
        let store = MemoryStore::new();
        for stream in ["b-1", "a_1", "a-2", "A-3", "a-1"] {
            store.append(stream, ExpectedVersion::Any, vec![event("E"), event("F")]).await.expect("append");
        }
        store.append("a-1", ExpectedVersion::Any, vec![event("E")]).await.expect("append");
        let names = |s: Vec<crate::store::inspect::StreamInfo>| {
            s.into_iter().map(|s| (s.stream, s.version)).collect::<Vec<_>>()
        };
        let all = store.streams("").await.expect("streams");
        assert_eq!(
            names(all),
            [("A-3", 2), ("a-1", 3), ("a-2", 2), ("a_1", 2), ("b-1", 2)].map(|(s, v)| (s.to_owned(), v))
        );
        assert_eq!(
            names(store.streams("a-").await.expect("streams")),
            [("a-1".to_owned(), 3), ("a-2".to_owned(), 2)]
        );
        let last = store.read_stream("a-1", 3, 1).await.expect("read").remove(0);
        let a1 = store.streams("a-1").await.expect("streams").remove(0);
        assert_eq!(a1.last_recorded, last.recorded_at);
        assert_eq!(
            store.event_names().await.expect("names"),
            [NameCount { name: "E".into(), events: 6 }, NameCount { name: "F".into(), events: 5 }]
        );
    }
}
