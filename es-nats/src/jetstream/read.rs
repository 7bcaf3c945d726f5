//! Reading: a stream's events and the global order by batch direct get, and the
//! [`EventStore`] impl.

use std::time::Duration;

use es_core::{
    AppendWatch, Appended, Cursor, EventRef, EventStore, ExpectedVersion, Lend, NewEvent, StoreError,
};
use serde_json::json;
use tracing::Instrument;

use super::direct::{self, Batch};
use super::message::{self, Decoded};
use super::{JetStreamStore, BACKEND};

/// The most messages one direct get asks for.
const PAGE: usize = 512;

/// How long a read waits for a replica that is behind.
const CATCH_UP: Duration = Duration::from_secs(5);

impl JetStreamStore {
    async fn direct(&self, request: &serde_json::Value) -> Result<Batch, StoreError> {
        let inner = &self.inner;
        Ok(direct::get(&inner.api.client, &inner.events, request, inner.options.timeout).await?)
    }

    /// The sequence of the first message of `subject` whose version is `from` or more, the
    /// stream's last being at `last_seq`: a binary search over the sequences.
    async fn seek(&self, subject: &str, from: u64, last_seq: u64) -> Result<u64, StoreError> {
        let (mut lo, mut hi) = (1, last_seq);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let got = self.direct(&json!({ "seq": mid, "next_by_subj": subject, "batch": 1 })).await?;
            let Some(m) = got.messages.first() else {
                // A replica behind: ask again.
                tokio::time::sleep(Duration::from_millis(2)).await;
                continue;
            };
            let version: u64 = m.header(message::header::VERSION).and_then(|v| v.parse().ok()).unwrap_or(0);
            if version >= from {
                hi = mid;
            } else {
                lo = m.seq + 1;
            }
        }
        Ok(lo)
    }

    /// Lends `stream`'s events from version `from`, at most `limit`.
    pub(crate) async fn visit_stream_at<F>(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
        mut visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        self.visit_decoded(stream, from, limit, |d, payload| visit(&d.lend(payload))).await
    }

    /// Lends `stream`'s events from version `from`, at most `limit`, as decoded with their
    /// payloads.
    pub(crate) async fn visit_decoded<F>(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
        mut visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&Decoded, &str) -> Result<(), StoreError> + Send,
    {
        let from = from.max(1);
        let last = self.last(stream).await?;
        if limit == 0 || last.version < from {
            return Ok(0);
        }
        let end = last.version.min(from.saturating_add(limit as u64 - 1));
        let subject = self.inner.subjects.stream(stream);
        let mut seq = if from == 1 { 1 } else { self.seek(&subject, from, last.seq).await? };
        let mut next = from;
        let deadline = tokio::time::Instant::now() + CATCH_UP;
        while next <= end {
            let want = ((end - next + 1) as usize).min(PAGE);
            let got = self.direct(&json!({ "seq": seq, "next_by_subj": subject, "batch": want })).await?;
            if got.messages.is_empty() {
                if tokio::time::Instant::now() > deadline {
                    return Err(StoreError::backend(
                        BACKEND,
                        format!("`{stream}` version {next} is stored but no replica returns it"),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
                continue;
            }
            for m in &got.messages {
                let d = Decoded::new(m, stream.to_owned())?;
                seq = m.seq + 1;
                if d.version < next {
                    continue;
                }
                if d.version != next {
                    return Err(StoreError::corrupt(
                        BACKEND,
                        m.seq,
                        format!("`{stream}` jumps from version {} to {}", next - 1, d.version),
                    ));
                }
                if next > end {
                    break;
                }
                visit(&d, message::payload(m)?)?;
                next += 1;
            }
        }
        Ok((end - from + 1) as usize)
    }

    /// Lends the events after `after` in the global order, at most `limit`.
    async fn visit_all_after<F>(&self, after: Cursor, limit: usize, mut visit: F) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        let mut seq = after.position() + 1;
        let mut lent = 0;
        let deadline = tokio::time::Instant::now() + CATCH_UP;
        let mut stream_name: (String, String) = Default::default();
        while lent < limit {
            let want = (limit - lent).min(PAGE);
            let got = self.direct(&json!({ "seq": seq, "batch": want })).await?;
            let high = self.high();
            let reached = got.messages.last().map_or(seq - 1, |m| m.seq);
            if got.messages.len() < want && reached < high && tokio::time::Instant::now() < deadline {
                // A replica behind what this process has seen: ask again.
                tokio::time::sleep(Duration::from_millis(2)).await;
                continue;
            }
            for m in &got.messages {
                if stream_name.0 != m.subject {
                    let name = self.inner.subjects.stream_of(&m.subject).ok_or_else(|| {
                        StoreError::corrupt(
                            BACKEND,
                            m.seq,
                            format!("subject `{}` is not an event stream's", m.subject),
                        )
                    })?;
                    stream_name = (m.subject.clone(), name);
                }
                let d = Decoded::new(m, stream_name.1.clone())?;
                visit(&d.lend(message::payload(m)?))?;
                self.saw(m.seq);
                seq = m.seq + 1;
                lent += 1;
            }
            if got.messages.len() < want {
                break;
            }
        }
        Ok(lent)
    }
}

impl EventStore for JetStreamStore {
    const BACKEND: &'static str = BACKEND;

    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        let span = es_core::backend::append_span(BACKEND, stream, events.len());
        self.append_events(stream, expected, events).instrument(span).await
    }

    async fn visit_stream<F>(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
        _: Lend,
        visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        super::names::check(stream)?;
        self.visit_stream_at(stream, from, limit, visit).await
    }

    async fn visit_all<F>(&self, after: Cursor, limit: usize, visit: F) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        self.visit_all_after(after, limit, visit).await
    }

    async fn head(&self) -> Result<Cursor, StoreError> {
        let info = self.inner.api.info(&self.inner.events, None, 0).await?;
        let last = info["state"]["last_seq"].as_u64().unwrap_or(0);
        self.saw(last);
        Ok(Cursor::at(last))
    }

    fn watch(&self) -> Option<AppendWatch> {
        Some(self.inner.signal.watch())
    }
}
