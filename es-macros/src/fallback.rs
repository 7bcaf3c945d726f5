//! What a derive emits beside its errors: impls with `unreachable!()` bodies, so that code using
//! the type still type-checks and the user sees the real mistake, not a cascade of follow-ups.

use proc_macro2::TokenStream;
use quote::quote;
use std::collections::HashSet;
use syn::DeriveInput;

use crate::ast::{Aggregate, Consumer, Event, EventSet, Integration, State};
use crate::expand::aggregate::{aggregate_impl, event_enum};
use crate::expand::event_enum::codec_stub;
use crate::expand::event_set::impl_event_set;
use crate::expand::state::impl_state;

/// A stand-in `impl Event`.
pub fn event(event: &Event) -> TokenStream {
    named(event.original, quote!(::es_core::__private::Event))
}

/// A stand-in `impl IntegrationEvent`.
pub fn integration(integration: &Integration) -> TokenStream {
    named(integration.original, quote!(::es_core::__private::IntegrationEvent))
}

/// An impl of `Event` or `IntegrationEvent` (the same two constants) under the type's name.
fn named(input: &DeriveInput, name_trait: TokenStream) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let name = ident.to_string();
    quote! {
        #[automatically_derived]
        impl #impl_generics #name_trait for #ident #ty_generics #where_clause {
            const NAME: &'static str = #name;
            const VERSION: u32 = 1;
        }
    }
}

/// The generated impl of a consumer (projection, reactor, contract), built by `impl_with`,
/// with `unreachable!()` bodies.
pub fn consumer(
    consumer: &Consumer,
    impl_with: fn(&Consumer, TokenStream, TokenStream) -> TokenStream,
) -> TokenStream {
    impl_with(consumer, quote!(::core::unreachable!()), quote!(::core::unreachable!()))
}

/// The event enum with the events that parsed, and a stand-in `impl Aggregate`.
pub fn aggregate(agg: &Aggregate) -> TokenStream {
    // Only events with distinct variants, so a duplicate in the list is reported once.
    let mut seen = HashSet::new();
    let events: Vec<syn::Path> = agg
        .events
        .iter()
        .flatten()
        .filter(|p| Aggregate::variant(p).is_some_and(|v| seen.insert(v.clone())))
        .cloned()
        .collect();
    let events = events.as_slice();
    let enum_ident = &agg.event_enum;
    let event_enum = event_enum(agg, events);
    let aggregate_impl = aggregate_impl(agg, &[], Vec::new());
    let codec = codec_stub(enum_ident, &syn::Generics::default());
    quote! {
        #event_enum
        #codec
        #aggregate_impl
    }
}

/// A stand-in `impl State`.
pub fn state(state: &State) -> TokenStream {
    impl_state(state, quote!(::core::unreachable!()), quote!(::core::unreachable!()))
}

/// Stand-in `impl EventEnum` and `impl EventSet`, on an enum only (on a struct the mistake is
/// the struct itself).
pub fn event_set(set: &EventSet) -> TokenStream {
    let input = set.original;
    if !matches!(input.data, syn::Data::Enum(_)) {
        return TokenStream::new();
    }
    let codec = codec_stub(&input.ident, &input.generics);
    let set_impl = impl_event_set(set);
    quote!(#codec #set_impl)
}
