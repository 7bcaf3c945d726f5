//! What recorded rewrites say a stream's chain must still hold, for the verifier.
//!
//! A rewrite re-chains its stream, so afterwards the chain verifies as any other; its records
//! add checks on top: the hash each rewritten event got, and the stream's head hash then, must
//! still be there, unless a later recorded rewrite of the same stream re-chained them again.
//! Records only ever add checks, never excuse a link that does not verify: a record forged by
//! someone who may append events can raise a false alarm, never hide an edit.

use std::collections::HashMap;

use uuid::Uuid;

use super::report::{Break, BreakKind};
use super::rewrite::{parse_hash, RewriteRecord};
use super::{ChainHash, Link};

/// One hash a recorded rewrite gave a version (`None`: the record's hash does not parse, so
/// nothing can match it).
#[derive(Debug, Clone)]
struct Check {
    version: u64,
    hash: Option<ChainHash>,
    id: Option<Uuid>,
}

/// The checks of one stream.
#[derive(Debug, Default)]
pub(crate) struct StreamExpect {
    /// Events rewritten, over every record of the stream.
    pub(crate) rewrites: u64,
    last_rewrite: Option<Uuid>,
    /// Sorted by version once built; `next` is the first not checked yet.
    checks: Vec<Check>,
    next: usize,
}

impl StreamExpect {
    /// The break `link` reveals: a version a record names with a hash it no longer carries.
    pub(crate) fn check(&mut self, link: &Link<'_>) -> Option<Break> {
        while let Some(c) = self.checks.get(self.next).filter(|c| c.version <= link.stream_version) {
            self.next += 1;
            let moved = c.version == link.stream_version
                && (c.hash.is_none() || link.hash != c.hash || c.id.is_some_and(|id| id != link.id));
            if moved {
                return Some(Break {
                    stream: link.stream.to_owned(),
                    version: link.stream_version,
                    position: link.position,
                    id: link.id,
                    kind: BreakKind::Rechained,
                });
            }
        }
        None
    }

    /// The break when the stream ended: a version a record names that was never fed.
    pub(crate) fn finish(&self, stream: &str) -> Option<Break> {
        self.checks.get(self.next).map(|c| Break {
            stream: stream.to_owned(),
            version: c.version,
            position: 0,
            id: c.id.unwrap_or(Uuid::nil()),
            kind: BreakKind::Truncated,
        })
    }
}

/// The checks of every stream that recorded rewrites name.
#[derive(Debug, Default)]
pub(crate) struct Expectations {
    streams: HashMap<String, StreamExpect>,
}

impl Expectations {
    /// The checks that `records`, in the order they were recorded, leave standing.
    pub(crate) fn from_records(records: &[RewriteRecord]) -> Self {
        let mut streams: HashMap<String, StreamExpect> = HashMap::new();
        for r in records {
            let s = streams.entry(r.stream.clone()).or_default();
            s.rewrites += 1;
            if s.last_rewrite != Some(r.rewrite) {
                // A new rewrite re-chained everything from `from` on: older checks there are void.
                s.checks.retain(|c| c.version < r.from);
                s.last_rewrite = Some(r.rewrite);
                s.checks.push(Check { version: r.head_version, hash: parse_hash(&r.new_head), id: None });
            }
            s.checks.push(Check { version: r.version, hash: parse_hash(&r.new_hash), id: Some(r.id) });
        }
        for s in streams.values_mut() {
            s.checks.sort_by_key(|c| c.version);
        }
        Expectations { streams }
    }

    /// Takes the checks of `stream`, when it begins.
    pub(crate) fn take(&mut self, stream: &str) -> Option<StreamExpect> {
        self.streams.remove(stream)
    }

    /// The streams never begun, with their checks, in name order.
    pub(crate) fn into_unseen(self) -> Vec<(String, StreamExpect)> {
        let mut left: Vec<_> = self.streams.into_iter().collect();
        left.sort_by(|a, b| a.0.cmp(&b.0));
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::{link_hash, Verifier};

    fn hash(n: u8) -> ChainHash {
        ChainHash([n; 32])
    }

    /// A record of rewrite `call` of stream "S" from version `from`, giving `version` hash `h`
    /// and the head at `head` hash `head_hash`.
    fn record(
        call: u128,
        from: u64,
        version: u64,
        h: ChainHash,
        head: u64,
        head_hash: ChainHash,
    ) -> RewriteRecord {
        RewriteRecord {
            rewrite: Uuid::from_u128(call),
            stream: "S".into(),
            version,
            id: Uuid::from_u128(version.into()),
            new_hash: h.to_string(),
            from,
            head_version: head,
            new_head: head_hash.to_string(),
            reason: "test".into(),
            at_us: 0,
        }
    }

    /// A valid chain of `n` events of "S", whose version `salt_at` payload carries `salt`.
    fn chain(n: u64, salt_at: u64, salt: &str) -> Vec<(u64, String, ChainHash)> {
        let mut prev = ChainHash::GENESIS;
        (1..=n)
            .map(|v| {
                let payload = if v == salt_at { format!("{{\"s\":\"{salt}\"}}") } else { "{}".to_owned() };
                prev = link_hash(&prev, "S", v, Uuid::from_u128(v.into()), "E", 1, &payload, "{}", 7);
                (v, payload, prev)
            })
            .collect()
    }

    fn verify(rows: &[(u64, String, ChainHash)], records: &[RewriteRecord]) -> StreamCheck {
        let mut verifier = Verifier::with_rewrites(records);
        for (v, payload, hash) in rows {
            verifier.feed(&Link {
                position: *v,
                stream: "S",
                stream_version: *v,
                id: Uuid::from_u128((*v).into()),
                name: "E",
                schema_version: 1,
                payload,
                metadata: "{}",
                recorded_us: 7,
                hash: Some(*hash),
            });
        }
        verifier.finish().pop().expect("one stream")
    }

    use super::super::report::StreamCheck;

    #[test]
    fn a_recorded_rewrite_is_counted_and_held() {
        let rows = chain(4, 2, "sealed");
        let ok = [record(1, 2, 2, rows[1].2, 4, rows[3].2)];
        let check = verify(&rows, &ok);
        assert_eq!((check.broken, check.rewrites), (None, 1), "intact with one rewrite");

        let forged = chain(4, 2, "forged");
        let check = verify(&forged, &ok);
        assert_eq!(check.broken.map(|b| (b.kind, b.version)), Some((BreakKind::Rechained, 2)));

        let head_only = chain(4, 3, "forged");
        let ok_at_2 = [record(1, 2, 2, head_only[1].2, 4, rows[3].2)];
        let check = verify(&head_only, &ok_at_2);
        assert_eq!(
            check.broken.map(|b| (b.kind, b.version)),
            Some((BreakKind::Rechained, 4)),
            "the head is held too"
        );
    }

    #[test]
    fn a_later_rewrite_voids_what_it_rechained() {
        let rows = chain(4, 1, "sealed again");
        let records = [record(1, 3, 3, hash(1), 4, hash(2)), record(2, 1, 1, rows[0].2, 4, rows[3].2)];
        let check = verify(&rows, &records);
        assert_eq!((check.broken, check.rewrites), (None, 2));
    }

    #[test]
    fn recorded_versions_that_are_gone_are_truncation() {
        let rows = chain(4, 2, "sealed");
        let records = [record(1, 2, 2, rows[1].2, 6, hash(3))];
        let check = verify(&rows[..4], &records);
        assert_eq!(check.broken.map(|b| (b.kind, b.version)), Some((BreakKind::Truncated, 6)));
        let none = Verifier::with_rewrites(&records).finish();
        assert_eq!(none.len(), 1, "a stream that lost every event");
        assert_eq!(
            none[0].broken.as_ref().map(|b| (b.kind.clone(), b.version)),
            Some((BreakKind::Truncated, 2))
        );
        assert!(parse_hash(&hash(9).to_string()) == Some(hash(9)) && parse_hash("zz").is_none());
    }
}
