//! Planning a rewrite: the stream's links from the first edited version on, checked and
//! re-chained with the new payloads.

use serde_json::value::RawValue;

use super::report::{Break, BreakKind};
use super::rewrite::{PayloadEdit, RewriteError, Rewritten, RewrittenEvent, REWRITES_STREAM};
use super::{ChainHash, Link};
use crate::store::StoreError;

/// One row a rewrite updates: its new payload (edited events only) and hash.
#[derive(Debug)]
pub struct RowUpdate {
    /// The event's position.
    pub position: u64,
    /// Its version.
    pub version: u64,
    /// Its new payload, when it was edited.
    pub payload: Option<Box<RawValue>>,
    /// Its new hash.
    pub hash: ChainHash,
}

/// Plans a rewrite of one stream from its links, fed in version order from the first edited
/// version to the end. Pure: every store drives it the same way.
#[derive(Debug)]
pub struct Rechain {
    backend: &'static str,
    stream: String,
    edits: Vec<PayloadEdit>,
    /// The first version re-chained.
    from: u64,
    old_prev: ChainHash,
    new_prev: ChainHash,
    next_version: u64,
    updates: Vec<RowUpdate>,
    events: Vec<RewrittenEvent>,
}

impl Rechain {
    /// Starts a plan for `edits` of `stream` in store `backend` (its `BACKEND`, for errors).
    pub fn new(
        backend: &'static str,
        stream: &str,
        mut edits: Vec<PayloadEdit>,
    ) -> Result<Self, RewriteError> {
        if stream == REWRITES_STREAM {
            return Err(RewriteError::RecordStream);
        }
        edits.sort_by_key(|e| e.version);
        edits.dedup_by_key(|e| e.version);
        let Some(first) = edits.first() else {
            return Err(RewriteError::NoEdits { stream: stream.to_owned() });
        };
        let from = first.version.max(1);
        Ok(Rechain {
            backend,
            stream: stream.to_owned(),
            from,
            edits,
            old_prev: ChainHash::GENESIS,
            new_prev: ChainHash::GENESIS,
            next_version: from,
            updates: Vec::new(),
            events: Vec::new(),
        })
    }

    /// The first version to feed; the hash of the one before it goes to [`Rechain::prev`].
    pub fn from(&self) -> u64 {
        self.from
    }

    /// Sets the stored hash of version `from - 1` (left at GENESIS when `from` is 1).
    pub fn prev(&mut self, hash: ChainHash) {
        (self.old_prev, self.new_prev) = (hash, hash);
    }

    /// Feeds the next link of the stream; refuses a link that does not verify.
    pub fn feed(&mut self, link: &Link<'_>) -> Result<(), StoreError> {
        let tampered = |kind| {
            StoreError::Tampered(Box::new(Break {
                stream: self.stream.clone(),
                version: link.stream_version,
                position: link.position,
                id: link.id,
                kind,
            }))
        };
        if link.stream_version != self.next_version {
            let kind = if link.stream_version > self.next_version {
                BreakKind::Deleted { from: self.next_version, to: link.stream_version - 1 }
            } else {
                BreakKind::Reordered
            };
            return Err(tampered(kind));
        }
        let old_hash = link.expected_hash(&self.old_prev);
        if link.hash != Some(old_hash) {
            return Err(tampered(BreakKind::Edited));
        }
        let edit = self.edits.iter_mut().find(|e| e.version == link.stream_version);
        let payload = match edit {
            Some(edit) => {
                if edit.expected_hash.is_some_and(|h| h != old_hash) {
                    return Err(RewriteError::Changed {
                        stream: self.stream.clone(),
                        version: link.stream_version,
                    }
                    .into_store(self.backend));
                }
                Some(std::mem::replace(&mut edit.payload, empty_payload()))
            }
            None => None,
        };
        let text = payload.as_deref().map_or(link.payload, RawValue::get);
        let new_hash = Link { payload: text, ..*link }.expected_hash(&self.new_prev);
        if payload.is_some() {
            self.events.push(RewrittenEvent {
                version: link.stream_version,
                id: link.id,
                old_hash,
                new_hash,
            });
        }
        self.updates.push(RowUpdate {
            position: link.position,
            version: link.stream_version,
            payload,
            hash: new_hash,
        });
        (self.old_prev, self.new_prev) = (old_hash, new_hash);
        self.next_version += 1;
        Ok(())
    }

    /// The rows to update and what the rewrite did; an edit of a version that was not fed is
    /// refused.
    pub fn finish(self) -> Result<(Vec<RowUpdate>, Rewritten), RewriteError> {
        if let Some(missing) = self.edits.iter().find(|e| e.version >= self.next_version) {
            return Err(RewriteError::NoSuchEvent { stream: self.stream, version: missing.version });
        }
        let rewritten = Rewritten {
            stream: self.stream,
            events: self.events,
            from: self.from,
            head_version: self.next_version - 1,
            old_head: self.old_prev,
            new_head: self.new_prev,
        };
        Ok((self.updates, rewritten))
    }
}

fn empty_payload() -> Box<RawValue> {
    RawValue::NULL.to_owned()
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::integrity::{link_hash, Verifier};

    /// A valid chain of `n` events of stream "S": (version, payload, hash).
    fn chain(n: u64) -> Vec<(u64, String, ChainHash)> {
        let mut prev = ChainHash::GENESIS;
        (1..=n)
            .map(|v| {
                let payload = format!("{{\"n\":{v}}}");
                prev = link_hash(&prev, "S", v, Uuid::from_u128(v.into()), "E", 1, &payload, "{}", 7);
                (v, payload, prev)
            })
            .collect()
    }

    fn link(v: u64, payload: &str, hash: ChainHash) -> Link<'_> {
        Link {
            position: v * 10,
            stream: "S",
            stream_version: v,
            id: Uuid::from_u128(v.into()),
            name: "E",
            schema_version: 1,
            payload,
            metadata: "{}",
            recorded_us: 7,
            hash: Some(hash),
        }
    }

    fn edit(version: u64, expected_hash: Option<ChainHash>) -> PayloadEdit {
        let payload = RawValue::from_string(format!("{{\"sealed\":{version}}}")).expect("json");
        PayloadEdit { version, payload, expected_hash }
    }

    /// Plans `edits` over `rows`, feeding from the plan's first version.
    fn plan(
        rows: &[(u64, String, ChainHash)],
        edits: Vec<PayloadEdit>,
    ) -> Result<(Vec<RowUpdate>, Rewritten), StoreError> {
        let mut rechain = Rechain::new("test", "S", edits).map_err(|e| e.into_store("test"))?;
        let from = rechain.from();
        if let Some(before) = rows.get((from as usize).wrapping_sub(2)) {
            rechain.prev(before.2);
        }
        for (v, payload, hash) in rows.iter().skip(from as usize - 1) {
            rechain.feed(&link(*v, payload, *hash))?;
        }
        rechain.finish().map_err(|e| e.into_store("test"))
    }

    #[test]
    fn a_rechained_stream_verifies_with_the_new_payloads() {
        let rows = chain(5);
        let (updates, done) = plan(&rows, vec![edit(4, None), edit(2, Some(rows[1].2))]).expect("plan");
        assert_eq!(
            updates.iter().map(|u| u.version).collect::<Vec<_>>(),
            [2, 3, 4, 5],
            "from the first edit on"
        );
        assert_eq!(done.events.iter().map(|e| e.version).collect::<Vec<_>>(), [2, 4]);
        assert_eq!((done.old_head, done.head_version), (rows[4].2, 5));
        let mut verifier = Verifier::new();
        let mut head = ChainHash::GENESIS;
        for (v, payload, hash) in &rows {
            let (payload, hash) = match updates.iter().find(|u| u.version == *v) {
                Some(u) => (u.payload.as_ref().map_or(payload.as_str(), |p| p.get()), u.hash),
                None => (payload.as_str(), *hash),
            };
            verifier.feed(&link(*v, payload, hash));
            head = hash;
        }
        let check = verifier.finish().pop().expect("one stream");
        assert_eq!((check.broken, check.head), (None, Some(head)));
        assert_eq!(head, done.new_head);
        assert_ne!(done.new_head, done.old_head);
    }

    #[test]
    fn a_broken_or_changed_chain_is_refused() {
        let mut rows = chain(4);
        rows[2].1 = "{\"n\":33}".into();
        let refused = plan(&rows, vec![edit(2, None)]).expect_err("an edit after the first rewritten event");
        assert!(matches!(refused, StoreError::Tampered(b) if b.version == 3 && b.kind == BreakKind::Edited));
        let rows = chain(4);
        let changed = plan(&rows, vec![edit(2, Some(rows[0].2))]).expect_err("another hash expected");
        assert!(
            matches!(&changed, StoreError::Backend { source, .. } if source.to_string().contains("changed"))
        );
        assert!(plan(&rows, vec![edit(9, None)]).is_err(), "no version 9");
        assert_eq!(
            Rechain::new("test", REWRITES_STREAM, vec![edit(1, None)]).err(),
            Some(RewriteError::RecordStream)
        );
        assert!(matches!(Rechain::new("test", "S", vec![]), Err(RewriteError::NoEdits { .. })));
    }
}
