//! The [`KeyStore`] seam and the [`Keyring`] in front of it: a short-lived cache, the master key
//! that wraps what the store keeps, and the scope in which the codec (synchronous) finds the
//! keys it needs.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::seal::OpenKey;
use super::wrap::{self, MasterKey, MasterKeyError};
use super::SubjectKey;
use crate::store::StoreError;

/// The future a [`KeyStore`] method returns.
pub type KeyFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where subjects' keys are kept: each store's own table, or a key management service.
///
/// A key store keeps each key as opaque bytes: the 32 key bytes, or (when the [`Keyring`] has a
/// [`MasterKey`]) those bytes wrapped by it. A key management service that wraps keys itself
/// hands the keyring the 32 plain bytes and runs under a keyring without a master key.
pub trait KeyStore: Send + Sync + 'static {
    /// The subject's stored key; `None` if it has none (never had one, or it was forgotten).
    fn key<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, Option<Vec<u8>>>;

    /// The subject's stored key, storing `fresh` as its key if it has none.
    fn create_key<'a>(&'a self, subject: &'a str, fresh: Vec<u8>) -> KeyFuture<'a, Vec<u8>>;

    /// Deletes the subject's key; whether it had one. A store should make the key's bytes
    /// unrecoverable from its files where it can (SQLite: secure deletion and a checkpoint).
    fn forget<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, bool>;

    /// The stored key at once, without waiting, for stores in memory (`create`: store this one
    /// if there is none); `None` when the answer needs I/O. The default needs I/O.
    fn key_now(&self, subject: &str, create: Option<Vec<u8>>) -> Option<Option<Vec<u8>>> {
        let _ = (subject, create);
        None
    }
}

/// What the codec found for a subject.
pub(crate) enum Lookup {
    Key(Arc<OpenKey>),
    /// The subject has no key (or the value's key was deleted): its data reads as erased.
    Gone,
    /// Not in the cache, or the cache may be stale: load it, then decode again.
    NotLoaded,
}

/// A key in the cache: ready to open values, and its bytes (snapshots derive their key from them).
pub(crate) struct Held {
    pub(crate) open: Arc<OpenKey>,
    pub(crate) raw: SubjectKey,
}

struct Cached {
    key: Option<Arc<Held>>,
    /// Ids of keys this subject had and no longer has: values sealed with them read as erased
    /// without asking the store again (a deleted key never comes back; new keys are random).
    dead: BTreeSet<String>,
    at: Instant,
}

/// The cache, and per subject the key ids met in values that the cache could not open (no
/// entry, or another key): the next load of the subject tells whether they are dead or the
/// cache was stale (another process gave the subject a new key).
#[derive(Default)]
struct Cache {
    keys: HashMap<String, Cached>,
    /// Each with when it was met: only a load that asked the store after that can rule on it.
    suspects: HashMap<String, Vec<(String, Instant)>>,
}

struct Inner {
    store: Arc<dyn KeyStore>,
    master: Option<MasterKey>,
    cache: Mutex<Cache>,
    ttl: Duration,
}

/// A [`KeyStore`] with a cache and an optional [`MasterKey`], cheap to clone (clones share
/// both).
#[derive(Clone)]
pub struct Keyring(Arc<Inner>);

/// Entries past this number make the cache drop what has expired.
const CACHE_SWEEP: usize = 10_000;

thread_local! {
    static CURRENT: RefCell<Option<Keyring>> = const { RefCell::new(None) };
    /// Subjects whose values were opened while this is `Some` (what a snapshot will hold).
    static SEEN: RefCell<Option<BTreeSet<String>>> = const { RefCell::new(None) };
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
    /// A keyring over `store`, caching keys for 30 seconds, keeping keys unwrapped.
    pub fn new(store: impl KeyStore) -> Self {
        Self::over(Arc::new(store), None, Duration::from_secs(30))
    }

    /// A keyring over `store` with the master key the environment names (`ES_MASTER_KEY`, or
    /// the file in `ES_MASTER_KEY_FILE`), if any: what stores use by default.
    pub fn from_env(store: impl KeyStore) -> Result<Self, MasterKeyError> {
        Ok(Self::over(Arc::new(store), MasterKey::from_env()?, Duration::from_secs(30)))
    }

    fn over(store: Arc<dyn KeyStore>, master: Option<MasterKey>, ttl: Duration) -> Self {
        Keyring(Arc::new(Inner { store, master, cache: Mutex::default(), ttl }))
    }

    /// The same store, caching keys for `ttl`: how long another process may still read a
    /// subject's data after it was forgotten here. At least one second: a key loaded for a
    /// decode must still be there when the decode runs again.
    pub fn with_ttl(self, ttl: Duration) -> Self {
        Self::over(Arc::clone(&self.0.store), self.0.master.clone(), ttl.max(Duration::from_secs(1)))
    }

    /// The same store, wrapping every key it creates with `master` (envelope encryption) and
    /// opening wrapped keys with it. Keys stored unwrapped before still read.
    pub fn with_master_key(self, master: MasterKey) -> Self {
        Self::over(Arc::clone(&self.0.store), Some(master), self.0.ttl)
    }

    /// Whether keys are wrapped by a master key.
    pub fn has_master_key(&self) -> bool {
        self.0.master.is_some()
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

    /// Like [`scoped`](Self::scoped), adding to `seen` the subjects whose values were opened.
    pub(crate) async fn scoped_seeing<F: Future>(&self, seen: &mut BTreeSet<String>, fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(|cx| {
            let previous = SEEN.with(|s| s.borrow_mut().replace(std::mem::take(seen)));
            let polled = self.scope(|| fut.as_mut().poll(cx));
            *seen = SEEN.with(|s| std::mem::replace(&mut *s.borrow_mut(), previous)).unwrap_or_default();
            polled
        })
        .await
    }

    /// Loads `subject`'s key (or its absence) from the store into the cache.
    pub async fn load(&self, subject: &str) -> Result<(), StoreError> {
        let asked = Instant::now();
        let stored = self.0.store.key(subject).await?;
        self.remember_stored(subject, stored, asked)?;
        Ok(())
    }

    /// The id of `subject`'s key now (what each value sealed with it carries), asking the store
    /// (not the cache); `None` when it has none. A value whose id differs was sealed with a key
    /// since forgotten: it reads as erased.
    pub async fn key_id(&self, subject: &str) -> Result<Option<String>, StoreError> {
        self.load(subject).await?;
        Ok(self.cached(subject).flatten().map(|held| held.open.id().to_owned()))
    }

    /// Whether `subject` has a key now, asking the store (not the cache).
    pub async fn has_key(&self, subject: &str) -> Result<bool, StoreError> {
        Ok(self.key_id(subject).await?.is_some())
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

    /// Makes sure each subject has a key, and caches it: before encoding their events. It asks
    /// the store every time, never the cache, so that a key another process forgot is never
    /// used to seal new data (the subject gets a new key instead).
    pub async fn ensure<'s>(&self, subjects: impl IntoIterator<Item = &'s str>) -> Result<(), StoreError> {
        for subject in subjects {
            let fresh = self.fresh(subject)?;
            let asked = Instant::now();
            let stored = self.0.store.create_key(subject, fresh).await?;
            self.remember_stored(subject, Some(stored), asked)?;
        }
        Ok(())
    }

    /// Forgets `subject`: deletes its key, so its personal data reads as erased from now on in
    /// this process, and in others at their next look at the store (see the module docs).
    /// Whether it had a key.
    pub async fn forget(&self, subject: &str) -> Result<bool, StoreError> {
        match self.0.store.forget(subject).await {
            Ok(had) => {
                // Any answer the store gave before this moment is older than the forget.
                self.remember(subject, None, Instant::now());
                Ok(had)
            }
            Err(e) => {
                // It may have failed after deleting the key (SQLite's log truncation): stop
                // trusting the cache either way, so the next read asks the store.
                self.0.cache.lock().unwrap_or_else(PoisonError::into_inner).keys.remove(subject);
                Err(e)
            }
        }
    }

    /// The keys of `subjects` from the cache, each with its id; `None` if one is not cached or
    /// has no key.
    pub(crate) fn held(&self, subjects: &BTreeSet<String>) -> Option<Vec<Arc<Held>>> {
        subjects.iter().map(|s| self.cached(s).flatten()).collect()
    }

    /// A new key for `subject`, as the store keeps it (wrapped when there is a master key).
    fn fresh(&self, subject: &str) -> Result<Vec<u8>, StoreError> {
        let key = SubjectKey::generate();
        match &self.0.master {
            Some(master) => master.wrap(subject, &key),
            None => Ok(key.0.to_vec()),
        }
    }

    fn cached(&self, subject: &str) -> Option<Option<Arc<Held>>> {
        let cache = self.0.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.keys.get(subject).filter(|c| c.at.elapsed() < self.0.ttl).map(|c| c.key.clone())
    }

    fn remember_stored(
        &self,
        subject: &str,
        stored: Option<Vec<u8>>,
        asked: Instant,
    ) -> Result<Option<Arc<Held>>, StoreError> {
        let key = stored.map(|s| wrap::unwrap(self.0.master.as_ref(), subject, &s)).transpose()?;
        Ok(self.remember(subject, key, asked))
    }

    /// Caches `key` as `subject`'s answer from the store to a question asked at `asked`,
    /// unless a newer answer is cached already. Carries over what is known of deleted keys: the
    /// key cached before (if another), and the ids met before `asked` that this key is not, are
    /// dead (keys only change by a forget, and a forgotten key never comes back).
    fn remember(&self, subject: &str, key: Option<SubjectKey>, asked: Instant) -> Option<Arc<Held>> {
        let held = key.map(|raw| Arc::new(Held { open: Arc::new(OpenKey::new(&raw)), raw }));
        let mut cache = self.0.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.keys.len() >= CACHE_SWEEP {
            let ttl = self.0.ttl;
            cache.keys.retain(|_, c| c.at.elapsed() < ttl);
            cache.suspects.retain(|_, ids| ids.iter().any(|(_, met)| met.elapsed() < ttl));
        }
        if let Some(newer) = cache.keys.get(subject).filter(|c| c.at > asked) {
            return newer.key.clone();
        }
        let id = held.as_ref().map(|h| h.open.id().to_owned());
        let mut dead = BTreeSet::new();
        if let Some(before) = cache.keys.remove(subject) {
            dead = before.dead;
            dead.extend(before.key.map(|h| h.open.id().to_owned()));
        }
        if let Some(suspects) = cache.suspects.get_mut(subject) {
            // Met before the question: the answer covers them. Met since: still open.
            dead.extend(suspects.iter().filter(|(_, met)| *met < asked).map(|(s, _)| s.clone()));
            suspects.retain(|(_, met)| *met >= asked);
            if suspects.is_empty() {
                cache.suspects.remove(subject);
            }
        }
        if let Some(id) = &id {
            dead.remove(id);
        }
        cache.keys.insert(subject.to_owned(), Cached { key: held.clone(), dead, at: asked });
        held
    }

    /// The key to seal `subject`'s values with (`create`: make one if it has none).
    fn lookup(&self, subject: &str, create: bool) -> Lookup {
        match self.cached(subject) {
            Some(Some(key)) => return Lookup::Key(Arc::clone(&key.open)),
            Some(None) if !create => return Lookup::Gone,
            _ => {}
        }
        self.lookup_now(subject, create)
    }

    /// The key a value sealed with key `id` opens with: `Gone` when that key is known deleted,
    /// `NotLoaded` when the cache cannot tell (it holds another key or none, and `id` is not known
    /// dead: the cache may be stale, so the caller loads the key and decodes again).
    fn lookup_sealed(&self, subject: &str, id: &str) -> Lookup {
        let known = {
            let mut cache = self.0.cache.lock().unwrap_or_else(PoisonError::into_inner);
            let known = match cache.keys.get(subject).filter(|c| c.at.elapsed() < self.0.ttl) {
                Some(c) => match &c.key {
                    Some(key) if key.open.id() == id => Some(Lookup::Key(Arc::clone(&key.open))),
                    _ if c.dead.contains(id) => Some(Lookup::Gone),
                    _ => None,
                },
                None => None,
            };
            if known.is_none() {
                let suspects = cache.suspects.entry(subject.to_owned()).or_default();
                if !suspects.iter().any(|(s, _)| s == id) {
                    suspects.push((id.to_owned(), Instant::now()));
                }
            }
            known
        };
        if let Some(found) = known {
            return found;
        }
        match self.lookup_now(subject, false) {
            Lookup::Key(key) if key.id() == id => Lookup::Key(key),
            Lookup::NotLoaded => Lookup::NotLoaded,
            // The store answered at once: whatever it holds now, `id` is not it.
            Lookup::Key(_) | Lookup::Gone => {
                self.mark_dead(subject, id);
                Lookup::Gone
            }
        }
    }

    fn mark_dead(&self, subject: &str, id: &str) {
        let mut cache = self.0.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = cache.keys.get_mut(subject) {
            c.dead.insert(id.to_owned());
        }
    }

    /// Asks a store that answers at once (memory), caching its answer.
    fn lookup_now(&self, subject: &str, create: bool) -> Lookup {
        let fresh = match create.then(|| self.fresh(subject)).transpose() {
            Ok(fresh) => fresh,
            Err(_) => return Lookup::NotLoaded,
        };
        let asked = Instant::now();
        match self.0.store.key_now(subject, fresh) {
            Some(stored) => match self.remember_stored(subject, stored, asked) {
                Ok(Some(key)) => Lookup::Key(Arc::clone(&key.open)),
                Ok(None) => Lookup::Gone,
                Err(_) => Lookup::NotLoaded,
            },
            None => Lookup::NotLoaded,
        }
    }
}

/// The key of `subject` for sealing, from the keyring in scope on this thread (`None`: no
/// keyring in scope).
pub(crate) fn lookup(subject: &str, create: bool) -> Option<Lookup> {
    CURRENT.with(|c| c.borrow().as_ref().map(|k| k.lookup(subject, create)))
}

/// The key a value of `subject` sealed with key `id` opens with, from the keyring in scope on
/// this thread (`None`: no keyring in scope); notes the subject for a snapshot being taken.
pub(crate) fn lookup_sealed(subject: &str, id: &str) -> Option<Lookup> {
    let found = CURRENT.with(|c| c.borrow().as_ref().map(|k| k.lookup_sealed(subject, id)));
    if let Some(Lookup::Key(_)) = found {
        SEEN.with(|s| {
            if let Some(seen) = s.borrow_mut().as_mut() {
                if !seen.contains(subject) {
                    seen.insert(subject.to_owned());
                }
            }
        });
    }
    found
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
        f.debug_struct("Keyring")
            .field("ttl", &self.0.ttl)
            .field("master_key", &self.0.master.is_some())
            .finish_non_exhaustive()
    }
}
