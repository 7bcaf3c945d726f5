//! The registry of every derived event and JSON upcaster in the program, and the check that
//! finds mistakes across it: run [`check`] in a test (es-testing has a one-line helper).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::OnceLock;

use crate::model::upcast::JsonUpcaster;
use crate::personal::PersonalFields;
use crate::personal::RenamedField;

/// An event type, as `#[derive(Event)]` registers it.
#[derive(Debug, Clone, Copy)]
pub struct EventRegistration {
    /// The stored name.
    pub name: &'static str,
    /// The schema version.
    pub version: u32,
    /// The Rust type's path.
    pub rust_type: &'static str,
    /// Former names.
    pub renamed_from: &'static [&'static str],
    /// The older version it upcasts from, if any: `(name, version)`.
    pub upcast_from: Option<(&'static str, u32)>,
}

inventory::collect!(EventRegistration);

/// The personal fields of a registered event, as `#[derive(Event)]` registers them beside its
/// [`EventRegistration`]: what opens a payload stored at that version before JSON upcasters
/// read it.
#[derive(Debug, Clone, Copy)]
pub struct PersonalRegistration {
    /// The stored name.
    pub name: &'static str,
    /// The schema version.
    pub version: u32,
    /// Its personal fields.
    pub fields: Option<&'static PersonalFields>,
    /// The former keys of its personal fields.
    pub renamed: &'static [RenamedField],
}

inventory::collect!(PersonalRegistration);

/// The personal fields and their former keys that open a payload stored as one of `names` at
/// `version`, on its way up to version `to`: those of the struct registered at that version,
/// else of the nearest one above it (a version kept only as a JSON step declares none); `None`
/// when no struct below `to` is registered.
pub(crate) fn personal_at(
    names: &[&str],
    version: u32,
    to: u32,
) -> Option<(Option<&'static PersonalFields>, &'static [RenamedField])> {
    type Index = HashMap<(&'static str, u32), Option<&'static PersonalRegistration>>;
    static INDEX: OnceLock<Index> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut index: Index =
            inventory::iter::<EventRegistration>.into_iter().map(|e| ((e.name, e.version), None)).collect();
        for p in inventory::iter::<PersonalRegistration> {
            index.insert((p.name, p.version), Some(p));
        }
        index
    });
    (version..to).find_map(|v| {
        names.iter().find_map(|name| index.get(&(*name, v))).map(|p| match p {
            Some(p) => (p.fields, p.renamed),
            None => (None, &[][..]),
        })
    })
}

/// A mistake found across the program's events and upcasters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RegistryProblem {
    /// Two Rust types claim the same stored name and version.
    DuplicateVersion {
        /// The stored name.
        name: String,
        /// The version.
        version: u32,
        /// The types.
        rust_types: Vec<String>,
    },
    /// A typed upcast skips versions: events stored at the skipped ones cannot be read.
    TypedChainGap {
        /// The newer type.
        rust_type: String,
        /// Its version.
        version: u32,
        /// The version it upcasts from.
        from_version: u32,
    },
    /// JSON upcasters lead toward a struct's version but one step is missing.
    JsonChainGap {
        /// The stored name.
        name: String,
        /// The version with no step out of it.
        missing_from: u32,
        /// The oldest struct's version the chain leads to.
        to: u32,
    },
    /// Two JSON upcasters for the same name and version.
    DuplicateUpcaster {
        /// The stored name.
        name: String,
        /// The version they read.
        from: u32,
        /// Where they were declared.
        declared_in: Vec<String>,
    },
    /// A JSON upcaster for a name no event has (now or formerly).
    UnknownUpcasterEvent {
        /// The stored name.
        name: String,
        /// The version it reads.
        from: u32,
        /// Where it was declared.
        declared_in: String,
    },
}

impl fmt::Display for RegistryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryProblem::DuplicateVersion { name, version, rust_types } => write!(
                f,
                "event `{name}` version {version} is declared by {}: give one a different name or version",
                rust_types.join(" and ")
            ),
            RegistryProblem::TypedChainGap { rust_type, version, from_version } => write!(
                f,
                "`{rust_type}` (version {version}) upcasts from version {from_version}: versions in between cannot be read; add the missing struct"
            ),
            RegistryProblem::JsonChainGap { name, missing_from, to } => write!(
                f,
                "event `{name}`: no upcaster from version {missing_from} on the way to version {to}: add json_upcaster!(\"{name}\", {missing_from} => ..)"
            ),
            RegistryProblem::DuplicateUpcaster { name, from, declared_in } => write!(
                f,
                "two upcasters for `{name}` from version {from} (in {}): keep one",
                declared_in.join(" and ")
            ),
            RegistryProblem::UnknownUpcasterEvent { name, from, declared_in } => write!(
                f,
                "the upcaster for `{name}` from version {from} (in {declared_in}) names no known event: fix the name or add renamed_from"
            ),
        }
    }
}

/// Every event this program registered (each `#[derive(Event)]` on a non-generic type), by
/// name, then version: the catalogue of what it reads and writes.
pub fn events() -> Vec<EventRegistration> {
    let mut events: Vec<EventRegistration> =
        inventory::iter::<EventRegistration>.into_iter().copied().collect();
    events.sort_by(|a, b| (a.name, a.version).cmp(&(b.name, b.version)));
    events
}

/// Checks the program's registered events and upcasters. Every problem is reported, sorted.
pub fn check() -> Result<(), Vec<RegistryProblem>> {
    let events: Vec<EventRegistration> = inventory::iter::<EventRegistration>.into_iter().copied().collect();
    let upcasters: Vec<JsonUpcaster> = inventory::iter::<JsonUpcaster>.into_iter().copied().collect();
    let problems = check_lists(&events, &upcasters);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Checks explicit lists (what [`check`] does with the program's registrations).
pub fn check_lists(events: &[EventRegistration], upcasters: &[JsonUpcaster]) -> Vec<RegistryProblem> {
    let mut problems = BTreeSet::new();

    // Each (name, version) is declared by one type.
    let mut by_key: BTreeMap<(&str, u32), BTreeSet<&str>> = BTreeMap::new();
    for e in events {
        by_key.entry((e.name, e.version)).or_default().insert(e.rust_type);
    }
    for ((name, version), types) in &by_key {
        if types.len() > 1 {
            problems.insert(RegistryProblem::DuplicateVersion {
                name: (*name).to_owned(),
                version: *version,
                rust_types: types.iter().map(|t| (*t).to_owned()).collect(),
            });
        }
    }

    // A typed step goes exactly one version back.
    for e in events {
        if let Some((_, from_version)) = e.upcast_from {
            if from_version + 1 < e.version {
                problems.insert(RegistryProblem::TypedChainGap {
                    rust_type: e.rust_type.to_owned(),
                    version: e.version,
                    from_version,
                });
            }
        }
    }

    // Upcasters: one per key, each for a known name.
    let known: BTreeSet<&str> =
        events.iter().flat_map(|e| std::iter::once(e.name).chain(e.renamed_from.iter().copied())).collect();
    let mut steps: BTreeMap<(&str, u32), Vec<&str>> = BTreeMap::new();
    for u in upcasters {
        steps.entry((u.name, u.from)).or_default().push(u.declared_in);
        if !known.contains(u.name) {
            problems.insert(RegistryProblem::UnknownUpcasterEvent {
                name: u.name.to_owned(),
                from: u.from,
                declared_in: u.declared_in.to_owned(),
            });
        }
    }
    for ((name, from), declared) in &steps {
        if declared.len() > 1 {
            let mut declared_in: Vec<String> = declared.iter().map(|d| (*d).to_owned()).collect();
            declared_in.sort();
            problems.insert(RegistryProblem::DuplicateUpcaster {
                name: (*name).to_owned(),
                from: *from,
                declared_in,
            });
        }
    }

    // JSON steps below the oldest struct of a chain are contiguous up to it.
    for oldest in events.iter().filter(|e| e.upcast_from.is_none() && e.version > 1) {
        let names: Vec<&str> =
            std::iter::once(oldest.name).chain(oldest.renamed_from.iter().copied()).collect();
        let froms: BTreeSet<u32> = steps
            .keys()
            .filter(|(n, from)| names.contains(n) && *from < oldest.version)
            .map(|(_, from)| *from)
            .collect();
        if let Some(&lowest) = froms.iter().next() {
            for missing_from in (lowest..oldest.version).filter(|v| !froms.contains(v)) {
                problems.insert(RegistryProblem::JsonChainGap {
                    name: oldest.name.to_owned(),
                    missing_from,
                    to: oldest.version,
                });
            }
        }
    }
    problems.into_iter().collect()
}
