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
//! let mut events = es_core::subscribe(store.clone(), 1);     // also a futures::Stream
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

use crate::store::{EventStore, StoreError, StoredEvent};

/// An in-process signal that ticks after appends: what a store returns from
/// [`EventStore::watch`] when its writers live in this process. Clones share it.
#[derive(Clone, Debug)]
pub struct AppendSignal(std::sync::Arc<tokio::sync::watch::Sender<u64>>);

impl Default for AppendSignal {
    fn default() -> Self {
        AppendSignal(std::sync::Arc::new(tokio::sync::watch::Sender::new(0)))
    }
}

impl AppendSignal {
    /// Ticks, waking subscribers, if `appended` recorded any event.
    pub fn appended(&self, appended: &crate::store::Appended) {
        if !appended.events.is_empty() {
            self.0.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// A receiver for [`EventStore::watch`].
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// How many events a subscription reads at a time.
const BATCH: usize = 256;
/// How long a subscription waits for a signal before it reads again anyway.
const POLL: Duration = Duration::from_millis(500);

type Fetch = Pin<Box<dyn Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send>>;

/// The events of every stream from a position on, as a [`Stream`]; see [`subscribe`].
pub struct Subscription<S> {
    store: S,
    next: u64,
    buffered: VecDeque<StoredEvent>,
    fetching: Option<Fetch>,
    poll: Duration,
}

/// Follows the store's events from position `from` (1: from the beginning): history first,
/// then new events as they commit. It never skips an event, because `read_all` never returns a
/// position while a lower one can still commit, and never repeats one.
pub fn subscribe<S: EventStore>(store: S, from: u64) -> Subscription<S> {
    Subscription { store, next: from.max(1), buffered: VecDeque::new(), fetching: None, poll: POLL }
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

    /// The position the next event will have at least.
    pub fn next_position(&self) -> u64 {
        self.next
    }
}

/// Reads the next non-empty page from `from`, waiting for the store's signal (or `poll`)
/// between empty reads. The signal is marked seen before each read, so an append between an
/// empty read and the wait still wakes it.
async fn next_page<S: EventStore>(
    store: S,
    from: u64,
    poll: Duration,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut signal = store.watch();
    loop {
        if let Some(signal) = &mut signal {
            signal.borrow_and_update();
        }
        let page = store.read_all(from, BATCH).await?;
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
                self.next = event.position + 1;
                return Poll::Ready(Some(Ok(event)));
            }
            let (store, from, poll) = (self.store.clone(), self.next, self.poll);
            let fetch = self.fetching.get_or_insert_with(|| Box::pin(next_page(store, from, poll)));
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
