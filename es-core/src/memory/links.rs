//! The hash chain of the in-memory store, lent by stream.

use crate::integrity::{Link, LinkKey, Links};
use crate::store::backend::metadata_to_json;
use crate::store::time::to_micros;
use crate::store::StoreError;

use super::MemoryStore;

impl Links for MemoryStore {
    async fn visit_links<F>(
        &self,
        after: LinkKey<'_>,
        one_stream: bool,
        limit: usize,
        mut visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&Link<'_>) + Send,
    {
        let log = self.read();
        let mut names: Vec<&str> = if one_stream {
            log.streams.contains_key(after.stream).then_some(after.stream).into_iter().collect()
        } else {
            log.streams.keys().map(|s| &**s).filter(|s| *s >= after.stream).collect()
        };
        names.sort_unstable();
        let mut lent = 0;
        for name in names {
            let Some((_, slots)) = log.streams.get(name) else { continue };
            let skip =
                if name == after.stream { usize::try_from(after.version).unwrap_or(usize::MAX) } else { 0 };
            for &i in slots.iter().skip(skip) {
                if lent == limit {
                    return Ok(lent);
                }
                let e = log.lend(i);
                let slot = &log.slots[i as usize];
                visit(&Link {
                    position: e.position,
                    stream: e.stream,
                    stream_version: e.stream_version,
                    id: e.id,
                    name: e.name,
                    schema_version: e.schema_version,
                    payload: e.payload,
                    metadata: &metadata_to_json(e.metadata),
                    recorded_us: to_micros(e.recorded_at),
                    hash: Some(slot.hash),
                });
                lent += 1;
            }
        }
        Ok(lent)
    }
}
