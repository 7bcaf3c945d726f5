//! [`seal_plaintext`]: the migration that seals personal fields stored in plain text, stream by
//! stream, through the store's [`Rewrite`].

use std::collections::{HashMap, HashSet};

use serde_json::value::RawValue;
use serde_json::Value;

use super::{plain_fields, subject_of, PersonalCatalogue};
use crate::integrity::{Break, ChainHash, LinkKey, PayloadEdit, Rewrite};
use crate::personal::{seal, sealed_subjects, Keyring, MemoryKeys, PersonalFields};
use crate::store::{EncodeFailure, StoreError};

/// The reason written in each rewrite record.
pub const REASON: &str = "seal personal data stored in plain text";

/// Links read per round trip.
const BATCH: usize = 1_000;

/// What [`seal_plaintext`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ResealReport {
    /// Events read (in the sealing walk).
    pub scanned: u64,
    /// Events whose plain personal fields were sealed.
    pub sealed: u64,
    /// Of those, events of subjects that had been forgotten: sealed with a key that was thrown
    /// away at once, so they read as erased.
    pub erased: u64,
    /// Streams rewritten.
    pub streams: u64,
    /// Events with plain personal fields that were left as they are, and why.
    pub skipped: Vec<Skipped>,
}

/// An event [`seal_plaintext`] could not seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its stream.
    pub stream: String,
    /// Its version.
    pub version: u64,
    /// Why.
    pub reason: SkipReason,
}

/// Why an event was not sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// Its subject field is missing or not a string: whose key to use is unknown.
    NoSubject,
    /// Its payload is not a JSON object.
    NotAnObject,
    /// Its stream's chain does not verify from this event on: a rewrite would hide that.
    Tampered(Box<Break>),
}

/// How far [`seal_plaintext`] is, after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResealProgress {
    /// 1 while finding subjects already sealed, 2 while sealing.
    pub pass: u8,
    /// Events read in this pass.
    pub scanned: u64,
    /// About how many events the store holds (its head position).
    pub total: u64,
    /// Events sealed so far.
    pub sealed: u64,
}

/// A stored event with plain personal fields, waiting for its stream to be complete.
struct Candidate {
    stream: String,
    version: u64,
    payload: String,
    hash: Option<ChainHash>,
    fields: &'static PersonalFields,
}

/// How a subject's plain values are sealed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// With its key (created if it never had one).
    Key,
    /// It was forgotten: with a key thrown away at once.
    Erase,
}

/// Seals, in place, every personal field that `catalogue`'s types mark and that `store` holds in
/// plain text (data stored before the field was marked personal): each with its subject's key
/// from `keys` (created if the subject has none), or, for a subject that was forgotten (no key,
/// but sealed data), with a key thrown away at once, so that it reads as erased. Each stream is
/// rewritten once, re-chained and recorded ([`Rewrite::rewrite_payloads`]), so `verify` reports
/// it intact with rewrites.
///
/// Idempotent: a second run finds nothing to seal and rewrites nothing. Events appended in plain
/// text while it runs (by a program that does not mark the field yet) are left for the next run.
/// Read models, snapshots and messages built from the plain values keep them: rebuild those.
pub async fn seal_plaintext<S: Rewrite>(
    store: &S,
    catalogue: &PersonalCatalogue,
    keys: &Keyring,
    mut progress: impl FnMut(&ResealProgress),
) -> Result<ResealReport, StoreError> {
    let total = store.head().await?.position();
    let sealed_before = subjects_with_sealed_data(store, total, &mut progress).await?;
    let mut run = Run { store, keys, sealed_before, modes: HashMap::new(), report: ResealReport::default() };
    let (mut stream, mut version) = (String::new(), 0);
    let mut pending: Vec<Candidate> = Vec::new();
    loop {
        let mut last: Option<(String, u64)> = None;
        let n = store
            .visit_links(LinkKey { stream: &stream, version }, false, BATCH, |l| {
                match &mut last {
                    Some((s, v)) if s == l.stream => *v = l.stream_version,
                    _ => last = Some((l.stream.to_owned(), l.stream_version)),
                }
                run.report.scanned += 1;
                let Some(fields) = catalogue.fields(l.name, l.schema_version) else { return };
                let plain = match serde_json::from_str::<Value>(l.payload) {
                    Ok(Value::Object(object)) => !plain_fields(fields, &object).is_empty(),
                    _ => true,
                };
                if plain {
                    pending.push(Candidate {
                        stream: l.stream.to_owned(),
                        version: l.stream_version,
                        payload: l.payload.to_owned(),
                        hash: l.hash,
                        fields,
                    });
                }
            })
            .await?;
        let done = n < BATCH || last.is_none();
        // Streams before the last one of the batch are complete: rewrite each once.
        let keep = match (&last, done) {
            (Some((s, _)), false) => pending.iter().position(|c| &c.stream == s).unwrap_or(pending.len()),
            _ => pending.len(),
        };
        let ready: Vec<Candidate> = pending.drain(..keep).collect();
        run.flush(ready).await?;
        let report = &run.report;
        progress(&ResealProgress { pass: 2, scanned: report.scanned, total, sealed: report.sealed });
        match last {
            Some((s, v)) if !done => (stream, version) = (s, v),
            _ => return Ok(run.report),
        }
    }
}

/// Pass 1: the subjects that have sealed values somewhere (all of them: a subject with no key
/// among these was forgotten).
async fn subjects_with_sealed_data<S: Rewrite>(
    store: &S,
    total: u64,
    progress: &mut impl FnMut(&ResealProgress),
) -> Result<HashSet<String>, StoreError> {
    let mut subjects = HashSet::new();
    let scanned = super::walk_links(store, |l| subjects.extend(sealed_subjects(l.payload))).await?;
    progress(&ResealProgress { pass: 1, scanned, total, sealed: 0 });
    Ok(subjects)
}

struct Run<'a, S> {
    store: &'a S,
    keys: &'a Keyring,
    sealed_before: HashSet<String>,
    modes: HashMap<String, Mode>,
    report: ResealReport,
}

impl<S: Rewrite> Run<'_, S> {
    /// Seals the candidates (whole streams, in stream order) and rewrites each stream once.
    async fn flush(&mut self, candidates: Vec<Candidate>) -> Result<(), StoreError> {
        let mut edits: Vec<PayloadEdit> = Vec::new();
        let mut erased = 0;
        let mut iter = candidates.into_iter().peekable();
        while let Some(c) = iter.next() {
            match self.seal_one(&c).await? {
                Ok((payload, mode)) => {
                    erased += u64::from(mode == Mode::Erase);
                    edits.push(PayloadEdit { version: c.version, payload, expected_hash: c.hash });
                }
                Err(reason) => self.skip(&c.stream, c.version, reason),
            }
            if iter.peek().is_none_or(|next| next.stream != c.stream) && !edits.is_empty() {
                let count = edits.len() as u64;
                match self.store.rewrite_payloads(&c.stream, std::mem::take(&mut edits), REASON).await {
                    Ok(_) => {
                        self.report.sealed += count;
                        self.report.erased += erased;
                        self.report.streams += 1;
                    }
                    Err(StoreError::Tampered(b)) => {
                        let version = b.version;
                        self.skip(&c.stream, version, SkipReason::Tampered(b));
                    }
                    Err(e) => return Err(e),
                }
                erased = 0;
            }
        }
        Ok(())
    }

    fn skip(&mut self, stream: &str, version: u64, reason: SkipReason) {
        self.report.skipped.push(Skipped { stream: stream.to_owned(), version, reason });
    }

    /// The candidate's payload with its plain personal fields sealed, or why it cannot be.
    async fn seal_one(
        &mut self,
        c: &Candidate,
    ) -> Result<Result<(Box<RawValue>, Mode), SkipReason>, StoreError> {
        let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(&c.payload) else {
            return Ok(Err(SkipReason::NotAnObject));
        };
        let Some(subject) = subject_of(c.fields, &object).map(str::to_owned) else {
            return Ok(Err(SkipReason::NoSubject));
        };
        let mode = self.mode(&subject).await?;
        // Sealed (and null) personal fields are held back, so that `seal` seals only the plain ones.
        let kept: Vec<&str> = c
            .fields
            .fields
            .iter()
            .map(|f| f.key)
            .filter(|k| object.get(*k).is_some_and(|v| !super::is_plain(v)))
            .collect();
        let held: Vec<(String, Value)> = kept.into_iter().filter_map(|k| object.remove_entry(k)).collect();
        let value = Value::Object(object);
        let encode = |keys: &Keyring| keys.scope(|| seal(&value, c.fields));
        let sealed = match mode {
            Mode::Erase => encode(&Keyring::new(MemoryKeys::new())),
            Mode::Key => match encode(self.keys) {
                // The cached key expired since it was looked up: load it again, once.
                Err(EncodeFailure::KeyNotLoaded { subject }) => {
                    self.keys.ensure([subject.as_str()]).await?;
                    encode(self.keys)
                }
                other => other,
            },
        };
        let sealed = sealed.map_err(|source| {
            StoreError::Encode(crate::store::EncodeError { event_name: "(stored event)", source })
        })?;
        if held.is_empty() {
            return Ok(Ok((sealed, mode)));
        }
        let mut value: Value =
            serde_json::from_str(sealed.get()).map_err(|e| StoreError::backend(S::BACKEND, e))?;
        if let Value::Object(object) = &mut value {
            object.extend(held);
        }
        let payload =
            serde_json::value::to_raw_value(&value).map_err(|e| StoreError::backend(S::BACKEND, e))?;
        Ok(Ok((payload, mode)))
    }

    /// How `subject`'s values are sealed, asking the key store once per subject.
    async fn mode(&mut self, subject: &str) -> Result<Mode, StoreError> {
        if let Some(mode) = self.modes.get(subject) {
            return Ok(*mode);
        }
        let mode = if self.keys.has_key(subject).await? {
            Mode::Key
        } else if self.sealed_before.contains(subject) {
            Mode::Erase
        } else {
            self.keys.ensure([subject]).await?;
            Mode::Key
        };
        self.modes.insert(subject.to_owned(), mode);
        Ok(mode)
    }
}
