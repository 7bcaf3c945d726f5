//! Derive macros of the es event-sourcing framework.
//!
//! Use them through `es_core`, which re-exports each derive beside the trait of the same name
//! (`use es_core::{Aggregate, Event};`); es-core's crate docs show a complete, tested example.
//!
//! Every derive runs the one pipeline in `derive::run`: `ast` parses the input into a model
//! (collecting every error in a `ctxt::Ctxt`), `check` validates rules that span several items,
//! and `expand` generates code from the model alone. On invalid input the errors are emitted
//! together with stub impls (`fallback`), so the user sees the real mistake rather than a cascade.

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

mod ast;
mod attr;
mod check;
mod ctxt;
mod derive;
mod expand;
mod fallback;
mod personal;
mod tags;

/// Derives `es_core::Event`: a stable name, a schema version and the upcast chain.
///
/// An event also derives `Serialize, Deserialize` (stores keep it as JSON) and, to be listed in
/// `#[aggregate(events(..))]`, `Debug, Clone, PartialEq`, which the generated event enum
/// derives: `Debug` for error messages and test reports, `Clone` so that `execute` returns the
/// events it recorded, `PartialEq` so that given / when / then can compare them.
///
/// `#[event(name = "..", version = N, upcast_from = Older, renamed_from = "..")]`, every key
/// optional: the name defaults to the type's, the version to 1.
///
/// On fields: `#[event(subject)]` marks the field naming whose data the event holds (a `String`
/// or a `Uuid`), `#[event(personal)]` the fields encrypted with that subject's key, read as
/// `Default::default()` once the subject is forgotten, or as `erased = expr`
/// (`#[event(personal, erased = "unknown".into())]`). See `es_core::personal`.
///
/// `#[event(tag)]` on a field makes it a tag, `<field name>:<value>`, stored in clear beside the
/// event for the decisions that read by tag (`#[event(tag = "course")]` names the key; a tuple
/// field needs it). The value is the field's `ToString`: give tags fields that name one entity
/// the same way every time (a `String`, an integer, a `Uuid`); a personal field cannot be a tag.
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive::run::<derive::Event>(&input).into()
}

/// Derives `es_core::State`: a decision state folding the listed events that carry its tag,
/// `#[state(events(CourseCreated, StudentSubscribed), tag = course)]`, through your `impl Apply<E>`.
#[proc_macro_derive(State, attributes(state))]
pub fn derive_state(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive::run::<derive::State>(&input).into()
}

/// Derives `es_core::EventSet` on an enum with one variant per event, `CourseCreated(CourseCreated)`:
/// the codec, the set's name (`#[event_set(name = "..")]`, the type's by default) and `From<E>`
/// per variant. The enum also derives `Debug, Clone` (and `PartialEq` for given / when / then).
#[proc_macro_derive(EventSet, attributes(event_set))]
pub fn derive_event_set(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive::run::<derive::EventSet>(&input).into()
}

/// Derives `es_core::Projection`: the dispatch from stored events to your `impl Project<E>`.
#[proc_macro_derive(Projection, attributes(projection))]
pub fn derive_projection(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive::run::<derive::Projection>(&input).into()
}

/// Derives `es_core::Reactor`: the async dispatch from stored events to your `impl React<E>`.
#[proc_macro_derive(Reactor, attributes(reactor))]
pub fn derive_reactor(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive::run::<derive::Reactor>(&input).into()
}

/// Derives `es_core::integration::IntegrationEvent`: a public event's own stable name and
/// version, `#[integration(name = "..", version = N)]` (the type's name and 1 by default).
#[proc_macro_derive(IntegrationEvent, attributes(integration))]
pub fn derive_integration_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive::run::<derive::IntegrationEvent>(&input).into()
}

/// Derives `es_core::integration::Contract`: the dispatch from the domain events listed in
/// `#[contract(events(..))]` to your `impl Translate<E>`.
#[proc_macro_derive(Contract, attributes(contract))]
pub fn derive_contract(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive::run::<derive::Contract>(&input).into()
}

/// Derives `es_core::Aggregate`: the event enum, its `From` impls, the apply dispatch and the codec.
#[proc_macro_derive(Aggregate, attributes(aggregate))]
pub fn derive_aggregate(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive::run::<derive::Aggregate>(&input).into()
}
