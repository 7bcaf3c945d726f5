//! The [`KeyStore`] seam and the [`Keyring`] in front of it: a short-lived cache, and the scope
//! in which the codec (synchronous) finds the keys it needs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::seal::OpenKey;
use super::SubjectKey;
use crate::error::StoreError;

/// The future a [`KeyStore`] method returns.
pub type KeyFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where subjects' keys are kept: each store's own table, or a key management service.
pub trait KeyStore: Send + Sync + 'static {
    /// The subject's key; `None` if it has none (never had one, or it was forgotten).
    fn key<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, Option<SubjectKey>>;

    /// The subject's key, storing `fresh` as its key if it has none.
    fn create_key<'a>(&'a self, subject: &'a str, fresh: SubjectKey) -> KeyFuture<'a, SubjectKey>;

    /// Deletes the subject's key; whether it had one.
    fn forget<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, bool>;

    /// The key at once, without waiting, for stores in memory (`create`: make one if there is
    /// none); `None` when the answer needs I/O. The default needs I/O.
    fn key_now(&self, subject: &str, create: bool) -> Option<Option<SubjectKey>> {
        let _ = (subject, create);
        None
    }
}

/// What the codec found for a subject.
pub(crate) enum Lookup {
    Key(Arc<OpenKey>),
    /// The subject has no key: its data reads as erased.
    Gone,
    /// Not in the cache: load it, then decode again.
    NotLoaded,
}

struct Cached {
    key: Option<Arc<OpenKey>>,
    at: Instant,
}

struct Inner {
    store: Arc<dyn KeyStore>,
    cache: Mutex<HashMap<String, Cached>>,
    ttl: Duration,
}

/// A [`KeyStore`] with a cache, cheap to clone (clones share both).
#[derive(Clone)]
pub struct Keyring(Arc<Inner>);

/// Entries past this number make the cache drop what has expired.
const CACHE_SWEEP: usize = 10_000;

thread_local! {
    static CURRENT: RefCell<Option<Keyring>> = const { RefCell::new(None) };
}

/// Puts the previous keyring back when a scope ends, even by a panic.
struct Restore(Option<Keyring>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

impl Keyring {
    /// A keyring over `store`, caching keys for 30 seconds.
    pub fn new(store: impl KeyStore) -> Self {
        Keyring(Arc::new(Inner {
            store: Arc::new(store),
            cache: Mutex::default(),
            ttl: Duration::from_secs(30),
        }))
    }

    /// The same store, caching keys for `ttl`: how long another process may still read a
    /// subject's data after it was forgotten here. At least one second: a key loaded for a
    /// decode must still be there when the decode runs again.
    pub fn with_ttl(self, ttl: Duration) -> Self {
        let ttl = ttl.max(Duration::from_secs(1));
        Keyring(Arc::new(Inner { store: Arc::clone(&self.0.store), cache: Mutex::default(), ttl }))
    }

    /// Runs `f` with this keyring as the one the codec uses on this thread.
    pub fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        let _restore = Restore(previous);
        f()
    }

    /// Runs the future `fut` with this keyring as the codec's whenever it is polled (a visit
    /// whose visitor decodes).
    pub async fn scoped<F: Future>(&self, fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(|cx| self.scope(|| fut.as_mut().poll(cx))).await
    }

    /// Loads `subject`'s key (or its absence) into the cache.
    pub async fn load(&self, subject: &str) -> Result<(), StoreError> {
        let key = self.0.store.key(subject).await?;
        self.remember(subject, key);
        Ok(())
    }

    /// Loads the keys of `subjects` that are not cached.
    pub async fn load_missing<'s>(
        &self,
        subjects: impl IntoIterator<Item = &'s str>,
    ) -> Result<(), StoreError> {
        for subject in subjects {
            if self.cached(subject).is_none() {
                self.load(subject).await?;
            }
        }
        Ok(())
    }

    /// Loads the keys (not cached) of the subjects whose sealed values are in `payload`: before
    /// decoding a stored event outside a repository or runner.
    pub async fn load_sealed(&self, payload: &str) -> Result<(), StoreError> {
        let subjects = super::sealed_subjects(payload);
        self.load_missing(subjects.iter().map(String::as_str)).await
    }

    /// Makes sure each subject has a key, and caches it: before encoding their events.
    pub async fn ensure<'s>(&self, subjects: impl IntoIterator<Item = &'s str>) -> Result<(), StoreError> {
        for subject in subjects {
            if let Some(Some(_)) = self.cached(subject) {
                continue;
            }
            let key = self.0.store.create_key(subject, SubjectKey::generate()).await?;
            self.remember(subject, Some(key));
        }
        Ok(())
    }

    /// Forgets `subject`: deletes its key, so its personal data reads as erased from now on in
    /// this process, and in others once their cached key expires. Whether it had a key.
    pub async fn forget(&self, subject: &str) -> Result<bool, StoreError> {
        let had = self.0.store.forget(subject).await?;
        self.remember(subject, None);
        Ok(had)
    }

    fn cached(&self, subject: &str) -> Option<Option<Arc<OpenKey>>> {
        let cache = self.0.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.get(subject).filter(|c| c.at.elapsed() < self.0.ttl).map(|c| c.key.clone())
    }

    fn remember(&self, subject: &str, key: Option<SubjectKey>) -> Option<Arc<OpenKey>> {
        let key = key.map(|k| Arc::new(OpenKey::new(&k)));
        let mut cache = self.0.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_SWEEP {
            let ttl = self.0.ttl;
            cache.retain(|_, c| c.at.elapsed() < ttl);
        }
        cache.insert(subject.to_owned(), Cached { key: key.clone(), at: Instant::now() });
        key
    }

    fn lookup(&self, subject: &str, create: bool) -> Lookup {
        match self.cached(subject) {
            Some(Some(key)) => return Lookup::Key(key),
            Some(None) if !create => return Lookup::Gone,
            _ => {}
        }
        match self.0.store.key_now(subject, create) {
            Some(Some(key)) => self.remember(subject, Some(key)).map_or(Lookup::Gone, Lookup::Key),
            Some(None) => Lookup::Gone,
            None => Lookup::NotLoaded,
        }
    }
}

/// The key of `subject` from the keyring in scope on this thread (`None`: no keyring in scope).
pub(crate) fn lookup(subject: &str, create: bool) -> Option<Lookup> {
    CURRENT.with(|c| c.borrow().as_ref().map(|k| k.lookup(subject, create)))
}

/// A keyring over keys in memory ([`MemoryKeys`](super::MemoryKeys)), as the
/// [`MemoryStore`](crate::MemoryStore) keeps them.
impl Default for Keyring {
    fn default() -> Self {
        Keyring::new(super::MemoryKeys::new())
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").field("ttl", &self.0.ttl).finish_non_exhaustive()
    }
}
