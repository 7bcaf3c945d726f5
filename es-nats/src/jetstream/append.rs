//! Appending: the id pre-check, the expectation from the stream's last message, one atomic
//! batch, and what an ambiguous outcome (a timeout, a leader change, a batch the server says is
//! stored already) turns out to be once the ids are read back.

use std::time::Duration;

use es_core::backend::{from_micros, metadata_to_json, to_micros};
use es_core::idempotency;
use es_core::integrity::{link_hash, ChainHash};
use es_core::{Appended, AppendedEvent, ExpectedVersion, NewEvent, StoreError, Uuid};

use super::batch::{self, Outgoing};
use super::error::{code, is_transient, JetStreamError};
use super::message::{self, header, Decoded, Fields};
use super::{ids, JetStreamStore, BACKEND};

/// A stream's last event as an append needs it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Last {
    pub(crate) version: u64,
    pub(crate) seq: u64,
    pub(crate) hash: ChainHash,
}

/// What one publish attempt came to.
enum Outcome {
    Done(Appended),
    /// The expectation failed: the stream moved.
    Moved,
    /// Unknown: maybe stored, maybe not.
    Unknown(JetStreamError),
    /// The server holds an id of the batch already.
    Duplicate,
}

impl JetStreamStore {
    /// The last event of `stream`, read from the stream's leader.
    pub(crate) async fn last(&self, stream: &str) -> Result<Last, StoreError> {
        let subject = self.inner.subjects.stream(stream);
        let Some(got) = self.inner.api.last_msg(&self.inner.events, &subject).await? else {
            return Ok(Last::default());
        };
        let d = Decoded::new(&got, stream.to_owned())?;
        self.saw(got.seq);
        let hash = d.hash.ok_or_else(|| StoreError::corrupt(BACKEND, got.seq, "no chain hash"))?;
        Ok(Last { version: d.version, seq: got.seq, hash })
    }

    /// [`last`](Self::last), asked again while the cluster answers with a passing failure (a
    /// follower leaving: "temporarily unavailable"; a leader election), until `deadline`.
    async fn last_until(&self, stream: &str, deadline: tokio::time::Instant) -> Result<Last, StoreError> {
        let mut pause = Duration::from_millis(5);
        loop {
            match self.last(stream).await {
                Err(e) if is_transient(&e) && tokio::time::Instant::now() < deadline => {
                    tracing::debug!(stream, error = %e, "reading the stream's last event again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                other => return other,
            }
        }
    }

    pub(crate) async fn append_events(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        super::names::check(stream)?;
        idempotency::check_batch(stream, &events)?;
        if events.is_empty() {
            let actual = self.last(stream).await?.version;
            if !expected.matches(actual) {
                return Err(StoreError::Conflict { stream: stream.to_owned(), expected, actual });
            }
            return Ok(Appended { stream_version: actual, events: Vec::new() });
        }
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        if let Some(acked) = self.already_stored(stream, expected, &ids).await? {
            return Ok(acked);
        }
        let deadline = tokio::time::Instant::now() + self.inner.options.failover;
        let mut pause = Duration::from_millis(2);
        let mut tried: Option<Last> = None;
        loop {
            let last = self.last_until(stream, deadline).await?;
            if let Some(prior) = tried {
                // An earlier attempt may have committed after all.
                if let Some(done) = self.read_back(stream, prior, &ids).await? {
                    return Ok(done);
                }
            }
            if let Some(required) = expected.required() {
                if required != last.version {
                    return Err(StoreError::Conflict {
                        stream: stream.to_owned(),
                        expected,
                        actual: last.version,
                    });
                }
            }
            match self.attempt(stream, last, &events).await? {
                Outcome::Done(appended) => return Ok(appended),
                Outcome::Moved => {}
                Outcome::Duplicate => {
                    if let Some(done) = self.read_back(stream, last, &ids).await? {
                        return Ok(done);
                    }
                    if let Some(prior) = tried {
                        if let Some(done) = self.read_back(stream, prior, &ids).await? {
                            return Ok(done);
                        }
                    }
                    // Indexed meanwhile by the writer that stored it?
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    if let Some(acked) = self.already_stored(stream, expected, &ids).await? {
                        return Ok(acked);
                    }
                    // Stored within the duplicate window by a call whose acknowledgement (and
                    // index write) was lost: look in the stream's recent events.
                    if let Some(acked) = self.recent(stream, expected, last, &ids).await? {
                        return Ok(acked);
                    }
                    // An earlier attempt of this very call may still be committing: look again
                    // until the deadline before calling the ids someone else's.
                    if tried.is_some() && tokio::time::Instant::now() < deadline {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_millis(500));
                        continue;
                    }
                    return Err(StoreError::DuplicateEventId {
                        stream: stream.to_owned(),
                        id: ids[0],
                        stored_stream: String::new(),
                        stored_version: 0,
                    });
                }
                Outcome::Unknown(e) => {
                    tracing::debug!(stream, error = %e, "append outcome unknown; reading back");
                    if tokio::time::Instant::now() > deadline {
                        return Err(e.into());
                    }
                    tried = Some(last);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    /// The exact retry this append is, acknowledged; an error if its ids are stored otherwise;
    /// `None` if none is stored.
    async fn already_stored(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        ids: &[Uuid],
    ) -> Result<Option<Appended>, StoreError> {
        let found = ids::lookup(&self.inner.side, ids).await?;
        idempotency::resolve(stream, expected, ids, &found)
    }

    /// Where `ids` are among the last events of `stream` (the duplicate window's worth, at most
    /// 10,000), resolved as an exact retry or refused; the index repaired.
    async fn recent(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        last: Last,
        ids: &[Uuid],
    ) -> Result<Option<Appended>, StoreError> {
        let from = last.version.saturating_sub(10_000) + 1;
        let mut found: Vec<Option<idempotency::StoredId>> = vec![None; ids.len()];
        self.visit_decoded(stream, from, 10_000, |d, _| {
            if let Some(i) = ids.iter().position(|id| *id == d.id) {
                let appended = AppendedEvent {
                    id: d.id,
                    stream_version: d.version,
                    position: d.position,
                    recorded_at: d.recorded_at(),
                };
                found[i] = Some(idempotency::StoredId { stream: stream.to_owned(), appended });
            }
            Ok(())
        })
        .await?;
        let stored: Vec<AppendedEvent> = found.iter().flatten().map(|f| f.appended).collect();
        let _ = ids::record(&self.inner.side, stream, &stored).await;
        idempotency::resolve(stream, expected, ids, &found)
    }

    /// The append at `last` as stored, if its ids are there, right after `last`.
    async fn read_back(
        &self,
        stream: &str,
        last: Last,
        ids: &[Uuid],
    ) -> Result<Option<Appended>, StoreError> {
        let mut events = Vec::with_capacity(ids.len());
        let mut matches = true;
        self.visit_stream_at(stream, last.version + 1, ids.len(), |e| {
            let i = events.len();
            matches &= ids.get(i) == Some(&e.id);
            events.push(AppendedEvent {
                id: e.id,
                stream_version: e.stream_version,
                position: e.position,
                recorded_at: e.recorded_at,
            });
            Ok(())
        })
        .await?;
        if !matches || events.len() != ids.len() {
            return Ok(None);
        }
        let stream_version = events.last().map_or(last.version, |e| e.stream_version);
        let _ = ids::record(&self.inner.side, stream, &events).await;
        Ok(Some(Appended { stream_version, events }))
    }

    /// One atomic batch after `last`.
    async fn attempt(&self, stream: &str, last: Last, events: &[NewEvent]) -> Result<Outcome, StoreError> {
        let subject = self.inner.subjects.stream(stream);
        let recorded_at = from_micros(to_micros(std::time::SystemTime::now()));
        let recorded_us = to_micros(recorded_at);
        let max = self.inner.api.client.server_info().max_payload;
        let mut prev = last.hash;
        let mut messages = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            let version = last.version + 1 + i as u64;
            let metadata = metadata_to_json(&e.metadata);
            let payload = e.payload.get();
            prev = link_hash(
                &prev,
                stream,
                version,
                e.id,
                &e.name,
                e.schema_version,
                payload,
                &metadata,
                recorded_us,
            );
            let fields = Fields {
                id: e.id,
                name: &e.name,
                schema_version: e.schema_version,
                version,
                recorded_at,
                metadata: &metadata,
                hash: prev,
            };
            let mut headers = message::headers(&fields);
            if i == 0 {
                headers.insert(header::EXPECTED_SUBJECT_SEQ, last.seq.to_string().as_str());
            }
            let bytes = payload.len() + subject.len() + 512 + metadata.len() + e.name.len();
            if max > 0 && bytes > max {
                let limit = max;
                return Err(
                    JetStreamError::TooLarge { stream: stream.to_owned(), id: e.id, bytes, limit }.into()
                );
            }
            messages.push(Outgoing { subject: subject.clone(), headers, body: payload.as_bytes().to_vec() });
        }
        let n = events.len() as u64;
        match batch::publish(&self.inner.api.client, messages, self.inner.options.timeout).await {
            Ok(ack) if ack.duplicate => Ok(Outcome::Duplicate),
            Ok(ack) => {
                self.saw(ack.seq);
                let first = ack.seq + 1 - n;
                let appended: Vec<AppendedEvent> = events
                    .iter()
                    .enumerate()
                    .map(|(i, e)| AppendedEvent {
                        id: e.id,
                        stream_version: last.version + 1 + i as u64,
                        position: first + i as u64,
                        recorded_at,
                    })
                    .collect();
                if let Err(e) = ids::record(&self.inner.side, stream, &appended).await {
                    tracing::warn!(stream, error = %e, "the appended ids were not indexed");
                }
                let _ = self.inner.api.client.publish(self.inner.subjects.tick(), Vec::new().into()).await;
                self.inner.signal.tick();
                Ok(Outcome::Done(Appended { stream_version: last.version + n, events: appended }))
            }
            Err(e) => match e.err_code() {
                Some(code::WRONG_LAST_SEQUENCE | code::WRONG_LAST_SEQUENCE_CONSTANT) => Ok(Outcome::Moved),
                Some(code::DUPLICATE_IN_BATCH) => Ok(Outcome::Duplicate),
                Some(code::TOO_LARGE_BATCH) => {
                    let limit = e
                        .to_string()
                        .rsplit(' ')
                        .next()
                        .and_then(|s| s.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok())
                        .unwrap_or(0);
                    Err(JetStreamError::BatchTooLarge {
                        stream: stream.to_owned(),
                        events: events.len(),
                        limit,
                    }
                    .into())
                }
                Some(
                    code::INCOMPLETE_BATCH
                    | code::TOO_MANY_INFLIGHT
                    | code::NOT_LEADER
                    | code::UNAVAILABLE
                    // A message with one of these ids is still in flight (an earlier attempt
                    // that timed out): its outcome is not known yet.
                    | code::DUPLICATE_IN_FLIGHT,
                )
                | None => Ok(Outcome::Unknown(e)),
                Some(_) => Err(e.into()),
            },
        }
    }
}
