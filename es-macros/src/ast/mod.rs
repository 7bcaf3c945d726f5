//! The models the derives generate from, parsed from `syn::DeriveInput`.
//!
//! Parsing never stops at the first mistake: every attribute error is recorded in the [`Ctxt`]
//! and parsing goes on, so the user sees all of them at once.

use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Ident, LitStr};

use crate::attr::{self, Attr, Symbol, Version};
use crate::ctxt::{record, Ctxt};
use crate::personal::Personal;
use crate::tags::Tags;

mod event_set;
mod state;

pub use event_set::EventSet;
pub use state::State;

/// A `#[derive(Event)]` input.
pub struct Event<'a> {
    pub original: &'a DeriveInput,
    /// The stored name: `#[event(name = "..")]`, or the type's name.
    pub name: LitStr,
    /// True when the name was given explicitly.
    pub name_given: bool,
    /// `#[event(version = N)]`, 1 when absent.
    pub version: Option<Version>,
    /// `#[event(upcast_from = Prev)]`: the same event one schema version older.
    pub upcast_from: Option<syn::Path>,
    /// `#[event(renamed_from = "Old")]`: names this event was stored under before.
    pub renamed_from: Vec<LitStr>,
    /// The `#[event(subject)]` and `#[event(personal)]` fields.
    pub personal: Personal,
    /// The `#[event(tag)]` fields.
    pub tags: Tags,
}

/// A `#[derive(IntegrationEvent)]` input.
pub struct Integration<'a> {
    pub original: &'a DeriveInput,
    /// `#[integration(name = "..")]`, or the type's name.
    pub name: LitStr,
    /// `#[integration(version = N)]`, 1 when absent.
    pub version: u32,
}

impl<'a> Integration<'a> {
    pub fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        reject_union(cx, input, "IntegrationEvent");
        let mut name = Attr::none("integration", attr::NAME);
        let mut version = Attr::none("integration", attr::VERSION);
        for a in input.attrs.iter().filter(|a| a.path() == &attr::INTEGRATION) {
            let result = a.parse_nested_meta(|meta| {
                if meta.path == attr::NAME {
                    // #[integration(name = "bank.PaymentReceived")]
                    if let Some(s) = record(cx, attr::parse_lit_str(&meta, "integration")) {
                        name.set(cx, &meta.path, s);
                    }
                } else if meta.path == attr::VERSION {
                    // #[integration(version = 2)]
                    if let Some(v) = record(cx, attr::parse_version(&meta, "integration")) {
                        version.set(cx, &meta.path, v);
                    }
                } else {
                    unknown_key(cx, &meta, attr::INTEGRATION, &["name", "version"])?;
                }
                Ok(())
            });
            record(cx, result);
        }
        Integration {
            original: input,
            name: name
                .get()
                .unwrap_or_else(|| LitStr::new(&input.ident.unraw().to_string(), input.ident.span())),
            version: version.get().map_or(1, |v| v.value),
        }
    }
}

/// A `#[derive(Aggregate)]` input.
pub struct Aggregate<'a> {
    pub original: &'a DeriveInput,
    /// The stream-name prefix: `#[aggregate(name = "..")]`, or the type's name.
    pub name: LitStr,
    /// `#[aggregate(events(..))]`, in the order written.
    pub events: Option<Vec<syn::Path>>,
    /// `#[aggregate(error = T)]`.
    pub error: Option<syn::Type>,
    /// `#[aggregate(event_enum = Ident)]`, or `<Type>Event`.
    pub event_enum: Ident,
    /// `#[aggregate(snapshot_version = N)]`: the shape of the state in snapshots.
    pub snapshot_version: Option<Version>,
}

/// A `#[derive(Projection)]`, `#[derive(Reactor)]` or `#[derive(Contract)]` input: a type that
/// consumes listed events.
pub struct Consumer<'a> {
    pub original: &'a DeriveInput,
    /// `projection`, `reactor` or `contract`: the attribute, as written.
    pub attr: Symbol,
    /// `#[projection(events(..))]` / `#[reactor(events(..))]`, in the order written.
    pub events: Option<Vec<syn::Path>>,
}

impl<'a> Consumer<'a> {
    /// Parses the `#[attr(events(..))]` of a `#[derive(Derive)]` input.
    pub fn from_syn(cx: &Ctxt, input: &'a DeriveInput, attr: Symbol, derive: &str) -> Self {
        reject_union(cx, input, derive);
        let mut events = Attr::none(attr.0, attr::EVENTS);
        for a in input.attrs.iter().filter(|a| a.path() == &attr) {
            let result = a.parse_nested_meta(|meta| {
                if meta.path == attr::EVENTS {
                    // #[projection(events(AccountOpened, MoneyDeposited))]
                    let list = attr::parse_path_list(&meta)?;
                    events.set(cx, &meta.path, list.into_iter().collect::<Vec<_>>());
                } else {
                    unknown_key(cx, &meta, attr, &["events"])?;
                }
                Ok(())
            });
            record(cx, result);
        }
        Consumer { original: input, attr, events: events.get() }
    }
}

impl<'a> Event<'a> {
    pub fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        reject_union(cx, input, "Event");
        let mut name = Attr::none("event", attr::NAME);
        let mut version = Attr::none("event", attr::VERSION);
        let mut upcast_from = Attr::none("event", attr::UPCAST_FROM);
        let mut renamed_from = Vec::new();

        for a in input.attrs.iter().filter(|a| a.path() == &attr::EVENT) {
            let result = a.parse_nested_meta(|meta| {
                if meta.path == attr::NAME {
                    // #[event(name = "MoneyDeposited")]
                    if let Some(s) = record(cx, attr::parse_lit_str(&meta, "event")) {
                        name.set(cx, &meta.path, s);
                    }
                } else if meta.path == attr::VERSION {
                    // #[event(version = 2)]
                    if let Some(v) = record(cx, attr::parse_version(&meta, "event")) {
                        version.set(cx, &meta.path, v);
                    }
                } else if meta.path == attr::UPCAST_FROM {
                    // #[event(upcast_from = MoneyDepositedV1)]
                    let path = meta.value()?.parse::<syn::Path>()?;
                    upcast_from.set(cx, &meta.path, path);
                } else if meta.path == attr::RENAMED_FROM {
                    // #[event(renamed_from = "FundsAdded")]
                    if let Some(s) = record(cx, attr::parse_lit_str(&meta, "event")) {
                        renamed_from.push(s);
                    }
                } else {
                    unknown_key(cx, &meta, attr::EVENT, &["name", "version", "upcast_from", "renamed_from"])?;
                }
                Ok(())
            });
            record(cx, result);
        }

        let given = name.get();
        Event {
            original: input,
            name_given: given.is_some(),
            name: given.unwrap_or_else(|| LitStr::new(&input.ident.unraw().to_string(), input.ident.span())),
            version: version.get(),
            upcast_from: upcast_from.get(),
            renamed_from,
            personal: Personal::from_syn(cx, input),
            tags: Tags::from_syn(cx, input),
        }
    }

    /// The schema version, 1 when not given.
    pub fn version(&self) -> u32 {
        self.version.as_ref().map_or(1, |v| v.value)
    }
}

impl<'a> Aggregate<'a> {
    pub fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        reject_union(cx, input, "Aggregate");
        let mut name = Attr::none("aggregate", attr::NAME);
        let mut events = Attr::none("aggregate", attr::EVENTS);
        let mut error = Attr::none("aggregate", attr::ERROR);
        let mut event_enum = Attr::none("aggregate", attr::EVENT_ENUM);
        let mut snapshot_version = Attr::none("aggregate", attr::SNAPSHOT_VERSION);

        for a in input.attrs.iter().filter(|a| a.path() == &attr::AGGREGATE) {
            let result = a.parse_nested_meta(|meta| {
                if meta.path == attr::EVENTS {
                    // #[aggregate(events(AccountOpened, MoneyDeposited))]
                    let list = attr::parse_path_list(&meta)?;
                    events.set(cx, &meta.path, list.into_iter().collect::<Vec<_>>());
                } else if meta.path == attr::ERROR {
                    // #[aggregate(error = AccountError)]
                    let ty = meta.value()?.parse::<syn::Type>()?;
                    error.set(cx, &meta.path, ty);
                } else if meta.path == attr::NAME {
                    // #[aggregate(name = "Account")]
                    if let Some(s) = record(cx, attr::parse_lit_str(&meta, "aggregate")) {
                        name.set(cx, &meta.path, s);
                    }
                } else if meta.path == attr::EVENT_ENUM {
                    // #[aggregate(event_enum = AccountEvent)]
                    let ident = meta.value()?.parse::<Ident>()?;
                    event_enum.set(cx, &meta.path, ident);
                } else if meta.path == attr::SNAPSHOT_VERSION {
                    // #[aggregate(snapshot_version = 2)]
                    if let Some(v) = record(cx, attr::parse_version(&meta, "aggregate")) {
                        snapshot_version.set(cx, &meta.path, v);
                    }
                } else {
                    unknown_key(
                        cx,
                        &meta,
                        attr::AGGREGATE,
                        &["events", "error", "name", "event_enum", "snapshot_version"],
                    )?;
                }
                Ok(())
            });
            record(cx, result);
        }

        let ident = &input.ident;
        Aggregate {
            original: input,
            name: name.get().unwrap_or_else(|| LitStr::new(&ident.unraw().to_string(), ident.span())),
            events: events.get(),
            error: error.get(),
            event_enum: event_enum
                .get()
                .unwrap_or_else(|| Ident::new(&format!("{}Event", ident.unraw()), ident.span())),
            snapshot_version: snapshot_version.get(),
        }
    }

    /// The enum variant for a listed event: the last segment of its path.
    pub fn variant(path: &syn::Path) -> Option<&Ident> {
        path.segments.last().map(|s| &s.ident)
    }
}

pub(crate) fn reject_union(cx: &Ctxt, input: &DeriveInput, derive: &str) {
    if let Data::Union(u) = &input.data {
        cx.error_spanned_by(
            u.union_token,
            format_args!("#[derive({derive})] is not supported on a union: use a struct"),
        );
    }
}

/// Records an unknown key at its token, naming the keys that exist, and skips its value so that
/// parsing can go on.
pub(crate) fn unknown_key(
    cx: &Ctxt,
    meta: &syn::meta::ParseNestedMeta,
    attr: Symbol,
    known: &[&str],
) -> syn::Result<()> {
    let path = &meta.path;
    let key = quote::quote!(#path).to_string().replace(' ', "");
    let hint = match closest(&key, known) {
        Some(near) => format!("did you mean `{near}`? The keys are: {}", known.join(", ")),
        None => format!("expected one of: {}", known.join(", ")),
    };
    cx.error_spanned_by(&meta.path, format_args!("unknown {attr} attribute `{key}`; {hint}"));
    attr::skip_value(meta)
}

/// The known key nearest to a misspelt one, if any is near enough to be what was meant.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(key, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn event_errors(input: DeriveInput) -> Option<String> {
        let cx = Ctxt::new();
        let _ = Event::from_syn(&cx, &input);
        cx.check().err().map(|e| e.to_compile_error().to_string())
    }

    #[test]
    fn event_defaults_to_type_name_and_version_1() {
        let input: DeriveInput = parse_quote!(
            struct AccountOpened {
                owner: String,
            }
        );
        let cx = Ctxt::new();
        let e = Event::from_syn(&cx, &input);
        assert!(cx.check().is_ok());
        assert_eq!(e.name.value(), "AccountOpened");
        assert_eq!(e.version(), 1);
        assert!(e.upcast_from.is_none() && !e.name_given);
    }

    #[test]
    fn event_reads_every_key() {
        let input: DeriveInput = parse_quote! {
            #[event(name = "Deposited", version = 3, upcast_from = v2::Deposited, renamed_from = "Old")]
            struct Deposited;
        };
        let cx = Ctxt::new();
        let e = Event::from_syn(&cx, &input);
        assert!(cx.check().is_ok());
        assert_eq!(e.name.value(), "Deposited");
        assert_eq!(e.version(), 3);
        assert!(e.upcast_from.is_some());
        assert_eq!(e.renamed_from[0].value(), "Old");
    }

    #[test]
    fn event_reports_every_mistake_at_once() {
        let errors = event_errors(parse_quote! {
            #[event(version = 0, colour = "red", name = 5)]
            #[event(version = 2, version = 3)]
            struct E;
        })
        .expect("errors");
        assert!(errors.contains("versions start at 1: write #[event(version = 1)]"), "{errors}");
        assert!(errors.contains("unknown event attribute `colour`"), "{errors}");
        assert!(errors.contains("expected a string literal"), "{errors}");
        assert!(errors.contains("duplicate #[event(version = ...)] attribute"), "{errors}");
    }

    #[test]
    fn aggregate_reads_events_and_error() {
        let input: DeriveInput = parse_quote! {
            #[aggregate(events(A, m::B), error = MyError, name = "Acct", event_enum = Ev)]
            struct Account;
        };
        let cx = Ctxt::new();
        let a = Aggregate::from_syn(&cx, &input);
        assert!(cx.check().is_ok());
        let events = a.events.expect("events");
        assert_eq!(events.len(), 2);
        assert_eq!(Aggregate::variant(&events[1]).map(|i| i.to_string()), Some("B".into()));
        assert_eq!(a.name.value(), "Acct");
        assert_eq!(a.event_enum.to_string(), "Ev");
        assert!(a.error.is_some());
    }

    #[test]
    fn aggregate_default_enum_name() {
        let input: DeriveInput = parse_quote!(
            #[aggregate(events(A), error = E)]
            struct Account;
        );
        let cx = Ctxt::new();
        let a = Aggregate::from_syn(&cx, &input);
        assert!(cx.check().is_ok());
        assert_eq!(a.event_enum.to_string(), "AccountEvent");
        assert_eq!(a.name.value(), "Account");
    }
}
