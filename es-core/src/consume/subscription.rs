//! Subscriptions: follow every stream's events from a position, first the history, then new
//! events as they commit, with no gap and no duplicate at the switch.
//!
//! ```
//! use es_core::{EventStore, ExpectedVersion, MemoryStore, NewEvent};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let e = || NewEvent::new("Pinged", 1, serde_json::json!({}));
//! store.append("Pinger-1", ExpectedVersion::Any, vec![e()]).await?;
//!
//! let mut events = es_core::subscribe(store.clone(), es_core::Cursor::START); // a futures::Stream
//! assert_eq!(events.next_event().await?.position, 1);        // history
//! store.append("Pinger-2", ExpectedVersion::Any, vec![e()]).await?;
//! assert_eq!(events.next_event().await?.position, 2);        // live, woken by the append
//! # Ok::<_, es_core::StoreError>(())
//! # }).unwrap();
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;

use crate::store::cursor::Cursor;
use crate::store::EventStore;
use crate::store::StoreError;
use crate::store::StoredEvent;

/// How many events a subscription reads at a time.
const BATCH: usize = 256;
/// How long a subscription waits for a signal before it reads again anyway.
const POLL: Duration = Duration::from_millis(500);

type Fetch = Pin<Box<dyn Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send>>;

/// The events of every stream from a position on, as a [`Stream`]; see [`subscribe`].
pub struct Subscription<S> {
    store: S,
    after: Cursor,
    buffered: VecDeque<StoredEvent>,
    fetching: Option<Fetch>,
    poll: Duration,
}

/// Follows the store's events after `after` ([`Cursor::START`]: from the beginning): history
/// first, then new events as they commit. It never skips an event, because `read_all` never
/// returns one while an event before it in the order can still commit, and never repeats one.
pub fn subscribe<S: EventStore>(store: S, after: Cursor) -> Subscription<S> {
    Subscription { store, after, buffered: VecDeque::new(), fetching: None, poll: POLL }
}

impl<S> Subscription<S> {
    /// How long to wait for the store's signal before reading again anyway (default 500 ms).
    pub fn poll_every(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// The next event, waiting for it to commit if need be (what `StreamExt::next` gives, for
    /// users without futures-util).
    pub async fn next_event(&mut self) -> Result<StoredEvent, StoreError>
    where
        S: EventStore + Unpin,
    {
        loop {
            if let Some(item) = std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await {
                return item;
            }
        }
    }

    /// The cursor of the last event delivered (where a restarted subscription would resume).
    pub fn cursor(&self) -> Cursor {
        self.after
    }
}

/// Reads the next non-empty page after `after`, waiting for the store's signal (or `poll`)
/// between empty reads. The signal is marked seen before each read, so an append between an
/// empty read and the wait still wakes it.
async fn next_page<S: EventStore>(
    store: S,
    after: Cursor,
    poll: Duration,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut signal = store.watch();
    loop {
        if let Some(signal) = &mut signal {
            signal.mark_seen();
        }
        let page = store.read_all(after, BATCH).await?;
        if !page.is_empty() {
            return Ok(page);
        }
        match &mut signal {
            Some(signal) => {
                let _ = tokio::time::timeout(poll, signal.changed()).await;
            }
            None => tokio::time::sleep(poll).await,
        }
    }
}

impl<S: EventStore + Unpin> Stream for Subscription<S> {
    type Item = Result<StoredEvent, StoreError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(event) = self.buffered.pop_front() {
                self.after = event.cursor;
                return Poll::Ready(Some(Ok(event)));
            }
            let (store, after, poll) = (self.store.clone(), self.after, self.poll);
            let fetch = self.fetching.get_or_insert_with(|| Box::pin(next_page(store, after, poll)));
            let page = match fetch.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(page) => page,
            };
            self.fetching = None;
            match page {
                Ok(page) => self.buffered.extend(page),
                // An error ends nothing: the subscriber sees it and may keep polling, which reads
                // again from the same position.
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }
}
