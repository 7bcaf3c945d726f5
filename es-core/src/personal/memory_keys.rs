//! Keys in process memory: the [`MemoryStore`](crate::MemoryStore)'s, and the test harness's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::keyring::{KeyFuture, KeyStore};

/// A [`KeyStore`] in memory, cheap to clone (clones share the keys). It answers at once, so
/// the codec never has to wait for it.
#[derive(Clone, Default, Debug)]
pub struct MemoryKeys(Arc<Mutex<HashMap<String, Vec<u8>>>>);

impl MemoryKeys {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Deletes `subject`'s key at once; whether it had one (what [`KeyStore::forget`] does,
    /// without a future).
    pub fn remove(&self, subject: &str) -> bool {
        self.with(|keys| keys.remove(subject).is_some())
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Vec<u8>>) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl KeyStore for MemoryKeys {
    fn key<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, Option<Vec<u8>>> {
        let key = self.with(|keys| keys.get(subject).cloned());
        Box::pin(async move { Ok(key) })
    }

    fn create_key<'a>(&'a self, subject: &'a str, fresh: Vec<u8>) -> KeyFuture<'a, Vec<u8>> {
        let key = self.with(|keys| keys.entry(subject.to_owned()).or_insert(fresh).clone());
        Box::pin(async move { Ok(key) })
    }

    fn forget<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, bool> {
        let had = self.with(|keys| keys.remove(subject).is_some());
        Box::pin(async move { Ok(had) })
    }

    fn key_now(&self, subject: &str, create: Option<Vec<u8>>) -> Option<Option<Vec<u8>>> {
        Some(self.with(|keys| match (keys.get(subject), create) {
            (Some(key), _) => Some(key.clone()),
            (None, Some(fresh)) => Some(keys.entry(subject.to_owned()).or_insert(fresh).clone()),
            (None, None) => None,
        }))
    }
}
