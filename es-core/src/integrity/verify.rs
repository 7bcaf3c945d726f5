//! Verification: walks links in (stream, version) order and reports the first broken link of
//! each stream, with what differs.

use uuid::Uuid;

use super::expect::{Expectations, StreamExpect};
use super::report::{Break, BreakKind, Progress, StreamCheck, Verification};
use super::rewrite::{recorded_rewrites, RewriteRecord};
use super::{ChainHash, Link, LinkKey, Links};
use crate::store::StoreError;

/// A link kept while the next one decides how it is broken.
#[derive(Debug, Clone)]
struct Suspect {
    prev: ChainHash,
    position: u64,
    version: u64,
    id: Uuid,
    name: String,
    schema_version: u32,
    payload: String,
    metadata: String,
    recorded_us: i64,
    hash: Option<ChainHash>,
}

impl Suspect {
    fn of(prev: ChainHash, l: &Link<'_>) -> Self {
        Suspect {
            prev,
            position: l.position,
            version: l.stream_version,
            id: l.id,
            name: l.name.to_owned(),
            schema_version: l.schema_version,
            payload: l.payload.to_owned(),
            metadata: l.metadata.to_owned(),
            recorded_us: l.recorded_us,
            hash: l.hash,
        }
    }

    fn as_link<'a>(&'a self, stream: &'a str, version: u64) -> Link<'a> {
        Link {
            position: self.position,
            stream,
            stream_version: version,
            id: self.id,
            name: &self.name,
            schema_version: self.schema_version,
            payload: &self.payload,
            metadata: &self.metadata,
            recorded_us: self.recorded_us,
            hash: self.hash,
        }
    }
}

/// The state of the stream being verified.
#[derive(Debug)]
struct Current {
    check: StreamCheck,
    prev: ChainHash,
    next_version: u64,
    last_position: u64,
    suspect: Option<Suspect>,
    /// What recorded rewrites say this stream must still hold.
    expect: Option<StreamExpect>,
}

/// Verifies links fed in (stream, version) order, one stream after another; pure, so any walk
/// (a store's, a test's) can drive it.
#[derive(Debug, Default)]
pub struct Verifier {
    current: Option<Current>,
    expect: Expectations,
    done: Vec<StreamCheck>,
    streams: u64,
    events: u64,
}

impl Verifier {
    /// A verifier that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// A verifier that also holds streams to what `records` (recorded rewrites, in the order of
    /// [`REWRITES_STREAM`](super::REWRITES_STREAM)) say: each rewritten event keeps the hash the
    /// rewrite gave it, and the stream's head then, unless a later recorded rewrite re-chained it.
    pub fn with_rewrites(records: &[RewriteRecord]) -> Self {
        Verifier { expect: Expectations::from_records(records), ..Self::default() }
    }

    /// Events fed so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Streams begun so far.
    pub fn streams(&self) -> u64 {
        self.streams
    }

    /// Feeds the next link.
    pub fn feed(&mut self, link: &Link<'_>) {
        self.events += 1;
        if self.current.as_ref().is_none_or(|c| c.check.stream != link.stream) {
            self.finish_stream();
            self.streams += 1;
            self.current = Some(Current {
                check: StreamCheck {
                    stream: link.stream.to_owned(),
                    events: 0,
                    head: None,
                    broken: None,
                    rewrites: 0,
                },
                prev: ChainHash::GENESIS,
                next_version: 1,
                last_position: 0,
                suspect: None,
                expect: self.expect.take(link.stream),
            });
        }
        let Some(c) = self.current.as_mut() else { return };
        c.check.events += 1;
        if c.check.broken.is_none() {
            c.check.broken = step(c, link);
        }
        // Only a link that verifies is held to its recorded hash: an edit stays an edit.
        if c.check.broken.is_none() && c.suspect.is_none() {
            if let Some(expect) = c.expect.as_mut() {
                c.check.broken = expect.check(link);
            }
        }
    }

    /// The checks of the streams finished so far (each stream finishes when the next begins).
    pub fn take_finished(&mut self) -> Vec<StreamCheck> {
        std::mem::take(&mut self.done)
    }

    /// Finishes the last stream and returns the checks not taken yet, then a check for each
    /// stream that recorded rewrites name and that was never fed (its events are gone).
    pub fn finish(mut self) -> Vec<StreamCheck> {
        self.finish_stream();
        for (stream, expect) in std::mem::take(&mut self.expect).into_unseen() {
            let broken = expect.finish(&stream);
            self.done.push(StreamCheck { stream, events: 0, head: None, broken, rewrites: expect.rewrites });
        }
        self.done
    }

    fn finish_stream(&mut self) {
        if let Some(mut c) = self.current.take() {
            if let Some(s) = c.suspect.take() {
                c.check.broken =
                    Some(broken(&c.check.stream, s.version, s.position, s.id, BreakKind::Edited));
            }
            if let Some(expect) = &c.expect {
                c.check.rewrites = expect.rewrites;
                if c.check.broken.is_none() {
                    c.check.broken = expect.finish(&c.check.stream);
                }
            }
            c.check.head = c.check.broken.is_none().then_some(c.prev);
            self.done.push(c.check);
        }
    }
}

fn broken(stream: &str, version: u64, position: u64, id: Uuid, kind: BreakKind) -> Break {
    Break { stream: stream.to_owned(), version, position, id, kind }
}

/// Checks `l` against the stream's state; the break it reveals, if any.
fn step(c: &mut Current, l: &Link<'_>) -> Option<Break> {
    let stream = l.stream;
    if let Some(s) = c.suspect.take() {
        // The previous link did not match. Decide how, now that its successor is here.
        let at = |kind| Some(broken(stream, s.version, s.position, s.id, kind));
        let s_after_l = s.as_link(stream, l.stream_version);
        let l_before_s = Link { stream_version: s.version, ..*l };
        if l.hash == Some(l_before_s.expected_hash(&s.prev))
            && s.hash == Some(s_after_l.expected_hash(&l_before_s.expected_hash(&s.prev)))
        {
            return at(BreakKind::Reordered);
        }
        if l.stream_version == s.version + 1 && l.hash == Some(l_before_s.expected_hash(&s.prev)) {
            return at(BreakKind::Inserted);
        }
        if l.position < s.position {
            return at(BreakKind::Reordered);
        }
        return at(BreakKind::Edited);
    }
    let here = |kind| Some(broken(stream, l.stream_version, l.position, l.id, kind));
    if l.stream_version > c.next_version {
        return here(BreakKind::Deleted { from: c.next_version, to: l.stream_version - 1 });
    }
    if l.stream_version < c.next_version || l.position < c.last_position {
        return here(BreakKind::Reordered);
    }
    let expected = l.expected_hash(&c.prev);
    if l.hash != Some(expected) {
        c.suspect = Some(Suspect::of(c.prev, l));
    }
    c.prev = l.hash.unwrap_or(expected);
    c.next_version = l.stream_version + 1;
    c.last_position = l.position;
    None
}

/// Links lent per round trip.
const BATCH: usize = 2_000;

/// Verifies one stream's chain, and what the recorded rewrites of it say (reading
/// [`REWRITES_STREAM`](super::REWRITES_STREAM) whole: O(recorded rewrites) on top of the stream).
pub async fn verify_stream<S: Links>(store: &S, stream: &str) -> Result<StreamCheck, StoreError> {
    let records = recorded_rewrites(store, Some(stream)).await?;
    walk_stream(store, stream, Verifier::with_rewrites(&records)).await
}

/// Verifies one stream's chain alone, without reading the recorded rewrites: every edit,
/// deletion, insertion and reordering is still found; a chain recomputed after a recorded
/// rewrite is not ([`BreakKind::Rechained`]), and [`StreamCheck::rewrites`] stays 0.
pub async fn verify_chain<S: Links>(store: &S, stream: &str) -> Result<StreamCheck, StoreError> {
    walk_stream(store, stream, Verifier::new()).await
}

async fn walk_stream<S: Links>(
    store: &S,
    stream: &str,
    mut verifier: Verifier,
) -> Result<StreamCheck, StoreError> {
    let mut after = 0;
    loop {
        let mut last = after;
        let n = store
            .visit_links(LinkKey { stream, version: after }, true, BATCH, |l| {
                last = l.stream_version;
                verifier.feed(l);
            })
            .await?;
        if n < BATCH {
            break;
        }
        after = last;
    }
    let empty =
        || StreamCheck { stream: stream.to_owned(), events: 0, head: None, broken: None, rewrites: 0 };
    Ok(verifier.finish().pop().unwrap_or_else(empty))
}

/// Verifies every stream, calling `progress` after each batch; reports the first broken link of
/// each broken stream, and counts the events that recorded rewrites replaced.
pub async fn verify_all<S: Links>(
    store: &S,
    mut progress: impl FnMut(&Progress),
) -> Result<Verification, StoreError> {
    let total = store.head().await?.position();
    let records = recorded_rewrites(store, None).await?;
    let mut verifier = Verifier::with_rewrites(&records);
    let mut report = Verification::default();
    let (mut stream, mut version) = (String::new(), 0);
    loop {
        let mut last: Option<(String, u64)> = None;
        let n = store
            .visit_links(LinkKey { stream: &stream, version }, false, BATCH, |l| {
                match &mut last {
                    Some((s, v)) if s == l.stream => *v = l.stream_version,
                    _ => last = Some((l.stream.to_owned(), l.stream_version)),
                }
                verifier.feed(l);
            })
            .await?;
        report.add(verifier.take_finished());
        progress(&Progress { events: verifier.events(), streams: verifier.streams(), total });
        match last {
            Some((s, v)) if n == BATCH => (stream, version) = (s, v),
            _ => break,
        }
    }
    report.streams = verifier.streams();
    report.events = verifier.events();
    report.add(verifier.finish());
    Ok(report)
}

impl Verification {
    fn add(&mut self, checks: Vec<StreamCheck>) {
        for c in checks {
            self.rewrites += c.rewrites;
            self.breaks.extend(c.broken);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::link_hash;

    struct Row {
        position: u64,
        version: u64,
        id: Uuid,
        payload: String,
        hash: Option<ChainHash>,
    }

    /// A valid chain of `n` events of stream "S".
    fn chain(n: u64) -> Vec<Row> {
        let mut prev = ChainHash::GENESIS;
        (1..=n)
            .map(|v| {
                let payload = format!("{{\"n\":{v}}}");
                let id = Uuid::from_u128(u128::from(v));
                prev = link_hash(&prev, "S", v, id, "E", 1, &payload, "{}", 100);
                Row { position: v * 10, version: v, id, payload, hash: Some(prev) }
            })
            .collect()
    }

    fn verify(rows: &[Row]) -> Option<Break> {
        let mut v = Verifier::new();
        let mut sorted: Vec<&Row> = rows.iter().collect();
        sorted.sort_by_key(|r| r.version);
        for r in sorted {
            v.feed(&Link {
                position: r.position,
                stream: "S",
                stream_version: r.version,
                id: r.id,
                name: "E",
                schema_version: 1,
                payload: &r.payload,
                metadata: "{}",
                recorded_us: 100,
                hash: r.hash,
            });
        }
        v.finish().pop().and_then(|c| c.broken)
    }

    fn kind_at(rows: &[Row]) -> Option<(BreakKind, u64)> {
        verify(rows).map(|b| (b.kind, b.version))
    }

    #[test]
    fn a_clean_chain_verifies() {
        assert_eq!(verify(&chain(5)), None);
    }

    #[test]
    fn an_edit_is_found_where_it_is() {
        let mut rows = chain(5);
        rows[2].payload = "{\"n\":33}".into();
        assert_eq!(kind_at(&rows), Some((BreakKind::Edited, 3)));
        let mut rows = chain(5);
        rows[4].hash = None;
        assert_eq!(kind_at(&rows), Some((BreakKind::Edited, 5)), "the last event, with no successor");
    }

    #[test]
    fn deletions_are_found_after_the_hole() {
        let mut rows = chain(5);
        rows.remove(2);
        assert_eq!(kind_at(&rows), Some((BreakKind::Deleted { from: 3, to: 3 }, 4)));
        let mut rows = chain(5);
        rows.drain(0..2);
        assert_eq!(kind_at(&rows), Some((BreakKind::Deleted { from: 1, to: 2 }, 3)));
    }

    #[test]
    fn an_insertion_is_found_at_the_inserted_event() {
        let mut rows = chain(5);
        for r in rows.iter_mut().filter(|r| r.version >= 3) {
            r.version += 1;
        }
        rows.push(Row {
            position: 99,
            version: 3,
            id: Uuid::from_u128(99),
            payload: "{}".into(),
            hash: rows[0].hash,
        });
        assert_eq!(kind_at(&rows), Some((BreakKind::Inserted, 3)));
    }

    #[test]
    fn swaps_are_found_as_reordered() {
        let mut rows = chain(5);
        (rows[1].version, rows[2].version) = (3, 2);
        assert_eq!(kind_at(&rows), Some((BreakKind::Reordered, 2)));
        let mut rows = chain(5);
        (rows[1].position, rows[2].position) = (rows[2].position, rows[1].position);
        assert_eq!(kind_at(&rows), Some((BreakKind::Reordered, 3)), "positions swapped, hashes intact");
    }
}
