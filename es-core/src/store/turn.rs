//! Turns: exclusive access to one stream, taken in arrival order, across every repository and
//! process that uses the store. `Repository::execute` tries optimistically first, then waits
//! for a turn, so that commands on a hot aggregate all land instead of exhausting retries.
//!
//! A turn has two stages. [`Turns::local_queue`] orders the commands of this process (every
//! repository on clones of the store shares it: no round trip). [`Turns::take_turn`] then orders
//! processes: a per-stream advisory lock held in a transaction on PostgreSQL, the write
//! transaction on SQLite, the queue itself in memory.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::store::ExpectedVersion;
use crate::store::StoreError;
use crate::store::{Appended, EventRef, NewEvent};
use crate::store::{EventStore, Lend};

/// A store whose streams can be taken in turns.
pub trait Turns: EventStore {
    /// A held turn on one stream: reads and appends go through it.
    type Turn<'a>: Turn + 'a
    where
        Self: 'a;

    /// This process's queue for `stream`, shared by every repository on this store and its
    /// clones. Wait on it before [`take_turn`](Self::take_turn).
    fn local_queue(&self, stream: &str) -> LocalQueue;

    /// Waits until no other process holds a turn on `stream`, then holds it until the turn is
    /// finished or dropped. Other writers that do not take turns are not held back.
    fn take_turn<'a>(
        &'a self,
        stream: &'a str,
    ) -> impl Future<Output = Result<Self::Turn<'a>, StoreError>> + Send;
}

/// A held turn on one stream (see [`Turns`]).
pub trait Turn: Send {
    /// Like [`EventStore::visit_stream`], on the turn's stream, inside the turn.
    fn visit_stream<F>(
        &mut self,
        from: u64,
        limit: usize,
        lend: Lend,
        visit: F,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send;

    /// Like [`EventStore::append`], to the turn's stream, inside the turn: durable once the
    /// turn is [finished](Self::finish).
    fn append(
        &mut self,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send;

    /// Commits what was appended and lets the next one in.
    fn finish(self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Per-stream queues of one process, created on demand and forgotten when unused. A store keeps
/// one (shared by its clones) to hand out [`LocalQueue`]s.
#[derive(Default, Debug)]
pub struct LocalQueues {
    queues: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl LocalQueues {
    /// The queue of `stream`, shared by everyone running or waiting on it.
    pub fn get(&self, stream: &str) -> LocalQueue {
        // Nothing panics while this std mutex is held, so a poisoned map is still consistent.
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(queue) = queues.get(stream).and_then(Weak::upgrade) {
            return LocalQueue(queue);
        }
        if queues.len() >= 1024 {
            queues.retain(|_, queue| queue.strong_count() > 0);
        }
        let queue = Arc::new(tokio::sync::Mutex::new(()));
        queues.insert(stream.to_owned(), Arc::downgrade(&queue));
        LocalQueue(queue)
    }
}

/// One stream's queue in this process (first come, first served).
#[derive(Debug, Clone)]
pub struct LocalQueue(Arc<tokio::sync::Mutex<()>>);

impl LocalQueue {
    /// Waits for this process's turn on the stream; held until the guard is dropped.
    pub async fn wait(&self) -> LocalTurn {
        LocalTurn(Arc::clone(&self.0).lock_owned().await)
    }
}

/// This process's turn on a stream, until dropped.
#[derive(Debug)]
pub struct LocalTurn(#[allow(dead_code)] tokio::sync::OwnedMutexGuard<()>);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_queue_per_stream_while_in_use() {
        let queues = LocalQueues::default();
        let a = queues.get("a");
        assert!(Arc::ptr_eq(&a.0, &queues.get("a").0));
        assert!(!Arc::ptr_eq(&a.0, &queues.get("b").0));
        let held = a.wait().await;
        assert!(queues.get("a").0.try_lock().is_err(), "held by the first");
        drop(held);
        drop(a);
        for i in 0..2000 {
            drop(queues.get(&format!("s{i}")));
        }
        let kept = queues.queues.lock().map(|m| m.len()).unwrap_or(0);
        assert!(kept <= 1024, "unused queues are forgotten");
    }
}
