//! The rule for appends whose event ids are already stored, shared by every store so they all
//! answer alike (KurrentDB's idempotent-append semantics).
//!
//! - No id of the batch is stored: not a retry; the store goes on with its version check.
//! - Every id is stored, in the target stream, contiguously and in the batch's order, where the
//!   expected version says the batch should start: an exact retry; acknowledge the original.
//! - Anything else (a partial overlap, ids in another stream, a different place): an error.

use std::collections::HashSet;

use uuid::Uuid;

use crate::store::ExpectedVersion;
use crate::store::StoreError;
use crate::store::{Appended, AppendedEvent, NewEvent};

/// Where an id of the batch is already stored.
#[derive(Debug, Clone)]
pub struct StoredId {
    /// The stream holding it.
    pub stream: String,
    /// Where it landed.
    pub appended: AppendedEvent,
}

/// Rejects a batch that repeats an event id within itself.
pub fn check_batch(stream: &str, events: &[NewEvent]) -> Result<(), StoreError> {
    let mut seen = HashSet::with_capacity(events.len());
    for e in events {
        if !seen.insert(e.id) {
            return Err(StoreError::DuplicateEventId {
                stream: stream.to_owned(),
                id: e.id,
                stored_stream: stream.to_owned(),
                stored_version: 0,
            });
        }
    }
    Ok(())
}

/// Decides what an append means given where each of its ids is already stored (`found[i]` for
/// `ids[i]`). `Ok(None)`: no id is stored, go on; `Ok(Some(_))`: an exact retry, acknowledged.
pub fn resolve(
    stream: &str,
    expected: ExpectedVersion,
    ids: &[Uuid],
    found: &[Option<StoredId>],
) -> Result<Option<Appended>, StoreError> {
    // The first stored id: none means this is not a retry at all.
    let Some((first_id, first_at)) = ids.iter().zip(found).find_map(|(id, f)| f.as_ref().map(|f| (*id, f)))
    else {
        return Ok(None);
    };
    let duplicate = |id: Uuid, at: &StoredId| StoreError::DuplicateEventId {
        stream: stream.to_owned(),
        id,
        stored_stream: at.stream.clone(),
        stored_version: at.appended.stream_version,
    };
    let first = found[0].as_ref().map_or(0, |s| s.appended.stream_version);
    let start_ok = expected.required().is_none_or(|n| first == n + 1);
    let mut events = Vec::with_capacity(ids.len());
    for (i, (id, at)) in ids.iter().zip(found).enumerate() {
        match at {
            Some(at) if at.stream == stream && start_ok && at.appended.stream_version == first + i as u64 => {
                events.push(at.appended);
            }
            Some(at) => return Err(duplicate(*id, at)),
            // Part of the batch is stored, part is not: not a retry of one earlier append.
            None => return Err(duplicate(first_id, first_at)),
        }
    }
    let stream_version = events.last().map_or(0, |e| e.stream_version);
    Ok(Some(Appended { stream_version, events }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn at(stream: &str, version: u64) -> Option<StoredId> {
        Some(StoredId {
            stream: stream.into(),
            appended: AppendedEvent {
                id: Uuid::nil(),
                stream_version: version,
                position: version,
                recorded_at: SystemTime::UNIX_EPOCH,
            },
        })
    }

    #[test]
    fn nothing_stored_is_not_a_retry() {
        let ids = [Uuid::new_v4()];
        assert!(matches!(resolve("s", ExpectedVersion::Any, &ids, &[None]), Ok(None)));
    }

    #[test]
    fn exact_retry_is_acknowledged() -> Result<(), StoreError> {
        let ids = [Uuid::new_v4(), Uuid::new_v4()];
        let found = [at("s", 3), at("s", 4)];
        let acked = resolve("s", ExpectedVersion::Exact(2), &ids, &found)?.expect("ack");
        assert_eq!(acked.stream_version, 4);
        assert!(resolve("s", ExpectedVersion::Any, &ids, &found)?.is_some());
        Ok(())
    }

    #[test]
    fn partial_overlap_other_stream_or_other_place_is_an_error() {
        let ids = [Uuid::new_v4(), Uuid::new_v4()];
        let errs = [
            resolve("s", ExpectedVersion::Any, &ids, &[at("s", 1), None]),
            resolve("s", ExpectedVersion::Any, &ids, &[None, at("s", 1)]),
            resolve("s", ExpectedVersion::Any, &ids, &[at("t", 1), at("t", 2)]),
            resolve("s", ExpectedVersion::Exact(5), &ids, &[at("s", 1), at("s", 2)]),
            resolve("s", ExpectedVersion::Any, &ids, &[at("s", 2), at("s", 1)]),
        ];
        for e in errs {
            assert!(matches!(e, Err(StoreError::DuplicateEventId { .. })), "{e:?}");
        }
    }

    #[test]
    fn a_batch_repeating_an_id_is_refused() {
        let e = NewEvent::new("E", 1, serde_json::json!({}));
        assert!(check_batch("s", &[e.clone(), e]).is_err());
    }
}
