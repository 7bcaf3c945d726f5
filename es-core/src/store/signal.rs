//! Wake-ups for readers: a store ticks an [`AppendSignal`] after appends, and subscriptions wait
//! on an [`AppendWatch`] instead of polling.

use std::sync::{Arc, Weak};

use tokio::sync::watch;

use crate::store::Appended;

/// The sending side: ticks after appends. Clones share it.
#[derive(Clone, Debug)]
pub struct AppendSignal(Arc<watch::Sender<u64>>);

impl Default for AppendSignal {
    fn default() -> Self {
        AppendSignal(Arc::new(watch::Sender::new(0)))
    }
}

impl AppendSignal {
    /// Ticks, waking every watcher.
    pub fn tick(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Ticks if `appended` recorded any event.
    pub fn appended(&self, appended: &Appended) {
        if !appended.events.is_empty() {
            self.tick();
        }
    }

    /// A new watcher, for [`EventStore::watch`](crate::EventStore::watch).
    pub fn watch(&self) -> AppendWatch {
        AppendWatch(self.0.subscribe())
    }

    /// A handle that does not keep the signal alive (for a background task that forwards
    /// notifications while the store lives).
    pub fn downgrade(&self) -> WeakAppendSignal {
        WeakAppendSignal(Arc::downgrade(&self.0))
    }
}

/// An [`AppendSignal`] that may be gone; see [`AppendSignal::downgrade`].
#[derive(Clone, Debug)]
pub struct WeakAppendSignal(Weak<watch::Sender<u64>>);

impl WeakAppendSignal {
    /// The signal, while any strong handle lives.
    pub fn upgrade(&self) -> Option<AppendSignal> {
        self.0.upgrade().map(AppendSignal)
    }
}

/// The receiving side: tells a reader that events may have been appended.
#[derive(Debug)]
pub struct AppendWatch(watch::Receiver<u64>);

impl AppendWatch {
    /// Marks every tick so far as seen. Call it before reading, so that an append between the
    /// read and [`changed`](Self::changed) still wakes the reader.
    pub fn mark_seen(&mut self) {
        self.0.borrow_and_update();
    }

    /// Waits for a tick not yet seen; `false` when the signal is gone (nothing will tick again).
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tick_before_the_wait_is_not_lost() {
        let signal = AppendSignal::default();
        let mut watch = signal.watch();
        watch.mark_seen();
        signal.tick();
        assert!(watch.changed().await);
        let weak = signal.downgrade();
        drop(signal);
        assert!(weak.upgrade().is_none());
        assert!(!watch.changed().await, "a dropped signal ends the wait");
    }
}
