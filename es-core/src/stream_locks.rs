//! A queue per stream inside one process: commands on the same aggregate take turns (FIFO)
//! instead of racing and retrying. Conflicts with other processes are still retried.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// Locks by stream name, created on demand and forgotten when no command holds or awaits them.
#[derive(Default)]
pub(crate) struct StreamLocks {
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl StreamLocks {
    /// The lock of `stream`, shared by every command on it that is running or waiting.
    pub(crate) fn get(&self, stream: &str) -> Arc<tokio::sync::Mutex<()>> {
        // Nothing panics while this std mutex is held, so a poisoned map is still consistent.
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(lock) = locks.get(stream).and_then(Weak::upgrade) {
            return lock;
        }
        if locks.len() >= 1024 {
            locks.retain(|_, lock| lock.strong_count() > 0);
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(stream.to_owned(), Arc::downgrade(&lock));
        lock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lock_per_stream_while_in_use() {
        let locks = StreamLocks::default();
        let a = locks.get("a");
        assert!(Arc::ptr_eq(&a, &locks.get("a")));
        assert!(!Arc::ptr_eq(&a, &locks.get("b")));
        drop(a);
        for i in 0..2000 {
            drop(locks.get(&format!("s{i}")));
        }
        assert!(locks.locks.lock().map(|m| m.len()).unwrap_or(0) <= 1024, "unused locks are forgotten");
    }
}
