//! Sanctioned rewrites in memory: the payloads replaced, the stream re-chained and the records
//! appended under one hold of the write lock, so no reader or writer sees a part of it.

use std::sync::PoisonError;

use crate::integrity::{ChainHash, Link, PayloadEdit, Rechain, Rewrite, Rewritten, REWRITES_STREAM};
use crate::store::backend::metadata_to_json;
use crate::store::time::{now_micros, to_micros};
use crate::store::EventStore;
use crate::store::ExpectedVersion;
use crate::store::StoreError;

use super::{Log, MemoryStore};

impl Rewrite for MemoryStore {
    async fn rewrite_payloads(
        &self,
        stream: &str,
        edits: Vec<PayloadEdit>,
        reason: &str,
    ) -> Result<Rewritten, StoreError> {
        let mut rechain =
            Rechain::new(Self::BACKEND, stream, edits).map_err(|e| e.into_store(Self::BACKEND))?;
        let mut log = self.log.write().unwrap_or_else(PoisonError::into_inner);
        let slots: Vec<u32> = log.streams.get(stream).map(|(_, s)| s.clone()).unwrap_or_default();
        let from = usize::try_from(rechain.from()).unwrap_or(usize::MAX);
        if let Some(&before) = slots.get(from.saturating_sub(2)).filter(|_| from > 1) {
            rechain.prev(log.slots[before as usize].hash);
        }
        for &i in slots.iter().skip(from - 1) {
            feed(&log, i, &mut rechain)?;
        }
        let (updates, rewritten) = rechain.finish().map_err(|e| e.into_store(Self::BACKEND))?;
        let records = rewritten.records(reason, to_micros(now_micros()))?;
        // Record first: an append that fails leaves the events untouched.
        let appended = log.append(REWRITES_STREAM, ExpectedVersion::Any, records, None)?;
        for u in updates {
            let slot = &mut log.slots[(u.position - 1) as usize];
            if let Some(payload) = u.payload {
                slot.payload = payload;
            }
            slot.hash = u.hash;
        }
        // The stream's snapshot was folded from the payloads as they were: it goes with them
        // (taken under the log's lock, so no load sees the new payloads and the old snapshot).
        self.snapshots.lock().unwrap_or_else(PoisonError::into_inner).remove(stream);
        drop(log);
        self.appended.appended(&appended);
        Ok(rewritten)
    }
}

/// Feeds the event in slot `i` to `rechain`, as the chain sees it.
fn feed(log: &Log, i: u32, rechain: &mut Rechain) -> Result<(), StoreError> {
    let e = log.lend(i);
    let hash: ChainHash = log.slots[i as usize].hash;
    rechain.feed(&Link {
        position: e.position,
        stream: e.stream,
        stream_version: e.stream_version,
        id: e.id,
        name: e.name,
        schema_version: e.schema_version,
        payload: e.payload,
        metadata: &metadata_to_json(e.metadata),
        recorded_us: to_micros(e.recorded_at),
        hash: Some(hash),
    })
}
