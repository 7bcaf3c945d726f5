//! Personal data stored in plain text, before its field was marked `#[event(personal)]`:
//! finding it ([`plaintext_of`]) and sealing it in place ([`seal_plaintext`]), the one rewrite
//! of stored history the framework makes (see [`crate::integrity::Rewrite`]).
//!
//! Which stored events hold personal fields is told by a [`PersonalCatalogue`] of the program's
//! event types: a stored event is looked up by its name (or a former name) and its exact schema
//! version, and its personal fields are those of the type registered for them. An event stored
//! at an older schema version is covered only if that version's struct is in the catalogue with
//! its fields marked.
//!
//! Both walk every stored event: O(events) reads, memory O(subjects) for [`seal_plaintext`]
//! and O(findings) for [`plaintext_of`].
//!
//! ```
//! use es_core::integrity::verify_stream;
//! use es_core::personal::Privacy;
//! use es_core::shredding::{plaintext_of, seal_plaintext, PersonalCatalogue};
//! use es_core::{Event, EventStore, ExpectedVersion, MemoryStore, NewEvent};
//! use serde::{Deserialize, Serialize};
//!
//! // Release 2 marks `name` personal; release 1 stored it as it was.
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct Registered { #[event(subject)] pub customer: String, #[event(personal)] pub name: String }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let old = NewEvent::new("Registered", 1, serde_json::json!({ "customer": "c-1", "name": "Ann" }));
//! store.append("Customer-c-1", ExpectedVersion::NoStream, vec![old]).await?;
//!
//! let catalogue = PersonalCatalogue::new().event::<Registered>();
//! assert_eq!(plaintext_of(&store, &catalogue, "c-1").await?[0].fields, ["name"]);
//! let keys = store.keys().expect("a MemoryStore keeps keys");
//! let report = seal_plaintext(&store, &catalogue, &keys, |_| {}).await?;
//! assert_eq!((report.sealed, report.streams), (1, 1));
//! assert!(plaintext_of(&store, &catalogue, "c-1").await?.is_empty());
//!
//! let check = verify_stream(&store, "Customer-c-1").await?;
//! assert_eq!((check.broken, check.rewrites), (None, 1), "intact, with one recorded rewrite");
//! # Ok::<_, es_core::StoreError>(())
//! # }).unwrap();
//! ```

mod run;

pub use run::{seal_plaintext, ResealProgress, ResealReport, SkipReason, Skipped};

use serde_json::Value;

use crate::integrity::{Link, LinkKey, Links};
use crate::model::Event;
use crate::personal::{PersonalFields, SEALED};
use crate::store::StoreError;

/// The event types whose stored events may hold personal fields, by stored name and version.
///
/// ```
/// # use es_core::Event;
/// # use serde::{Deserialize, Serialize};
/// #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// pub struct Registered { #[event(subject)] pub customer: String, #[event(personal)] pub name: String }
///
/// let catalogue = es_core::shredding::PersonalCatalogue::new().event::<Registered>();
/// assert_eq!(catalogue.len(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct PersonalCatalogue {
    entries: Vec<Entry>,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    name: &'static str,
    renamed_from: &'static [&'static str],
    version: u32,
    fields: &'static PersonalFields,
}

impl PersonalCatalogue {
    /// An empty catalogue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds event type `E` (nothing, if it has no personal fields).
    pub fn event<E: Event>(mut self) -> Self {
        if let Some(fields) = E::PERSONAL {
            self.entries.push(Entry {
                name: E::NAME,
                renamed_from: E::RENAMED_FROM,
                version: E::VERSION,
                fields,
            });
        }
        self
    }

    /// Every event type with personal fields that this program registers (each
    /// `#[derive(Event)]` does), old versions included.
    pub fn registered() -> Self {
        let renamed = |name: &str, version: u32| {
            inventory::iter::<crate::model::registry::EventRegistration>
                .into_iter()
                .find(|e| e.name == name && e.version == version)
                .map_or(&[][..], |e| e.renamed_from)
        };
        let entries = inventory::iter::<crate::model::registry::PersonalRegistration>
            .into_iter()
            .filter_map(|p| {
                let fields = p.fields?;
                Some(Entry {
                    name: p.name,
                    renamed_from: renamed(p.name, p.version),
                    version: p.version,
                    fields,
                })
            })
            .collect();
        PersonalCatalogue { entries }
    }

    /// Event types with personal fields in it.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it names no event type with personal fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The personal fields of events stored as `name` at `version`.
    pub(crate) fn fields(&self, name: &str, version: u32) -> Option<&'static PersonalFields> {
        self.entries
            .iter()
            .find(|e| e.version == version && (e.name == name || e.renamed_from.contains(&name)))
            .map(|e| e.fields)
    }
}

/// An event holding a subject's personal fields in plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaintextAt {
    /// Its stream.
    pub stream: String,
    /// Its version there.
    pub version: u64,
    /// Its global position.
    pub position: u64,
    /// Its stored name.
    pub name: String,
    /// The personal fields it holds in plain text.
    pub fields: Vec<&'static str>,
}

/// Whether `value` is personal data in plain text: not a sealed envelope, and not `null` (which
/// holds nothing to erase).
pub(crate) fn is_plain(value: &Value) -> bool {
    !value.is_null() && value.get(SEALED).is_none()
}

/// The personal fields of `object` held in plain text.
pub(crate) fn plain_fields(
    fields: &PersonalFields,
    object: &serde_json::Map<String, Value>,
) -> Vec<&'static str> {
    fields.fields.iter().filter(|f| object.get(f.key).is_some_and(is_plain)).map(|f| f.key).collect()
}

/// The subject of a payload: its subject field, when a string.
pub(crate) fn subject_of<'a>(
    fields: &PersonalFields,
    object: &'a serde_json::Map<String, Value>,
) -> Option<&'a str> {
    object.get(fields.subject).and_then(Value::as_str)
}

/// The events of `store` whose type in `catalogue` has personal fields that hold `subject`'s
/// data in plain text: what forgetting `subject` (deleting its key) cannot erase. Walks every
/// event (O(events) reads, in stream order through [`Links`], which sees every committed event,
/// where a global read may still hold the newest back); [`seal_plaintext`] seals them, and
/// forgetting then erases them.
pub async fn plaintext_of<S: Links>(
    store: &S,
    catalogue: &PersonalCatalogue,
    subject: &str,
) -> Result<Vec<PlaintextAt>, StoreError> {
    let mut found = Vec::new();
    walk_links(store, |l| {
        let Some(fields) = catalogue.fields(l.name, l.schema_version) else { return };
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(l.payload) else { return };
        if subject_of(fields, &object) != Some(subject) {
            return;
        }
        let plain = plain_fields(fields, &object);
        if !plain.is_empty() {
            found.push(PlaintextAt {
                stream: l.stream.to_owned(),
                version: l.stream_version,
                position: l.position,
                name: l.name.to_owned(),
                fields: plain,
            });
        }
    })
    .await?;
    Ok(found)
}

/// Lends every link of `store` to `visit`, in (stream, version) order, a batch per round trip.
pub(crate) async fn walk_links<S: Links>(
    store: &S,
    mut visit: impl FnMut(&Link<'_>) + Send,
) -> Result<u64, StoreError> {
    const BATCH: usize = 1_000;
    let (mut stream, mut version, mut total) = (String::new(), 0, 0);
    loop {
        let mut last: Option<(String, u64)> = None;
        let n = store
            .visit_links(LinkKey { stream: &stream, version }, false, BATCH, |l| {
                match &mut last {
                    Some((s, v)) if s == l.stream => *v = l.stream_version,
                    _ => last = Some((l.stream.to_owned(), l.stream_version)),
                }
                visit(l);
            })
            .await?;
        total += n as u64;
        match last {
            Some((s, v)) if n == BATCH => (stream, version) = (s, v),
            _ => return Ok(total),
        }
    }
}
