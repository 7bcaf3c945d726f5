//! `#[derive(EventSet)]`: on the user's enum of events, `EventEnum` (the codec shared with the
//! aggregates' generated enums), `EventSet` (its name) and `From<E>` per variant.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::EventSet;
use crate::expand::event_enum::{self, Member};

pub fn expand(set: &EventSet) -> TokenStream {
    let input = set.original;
    let members: Vec<_> = set.variants.iter().map(|v| Member { variant: &v.ident, ty: &v.ty }).collect();
    let from_impls = event_enum::from_impls(&input.ident, &input.generics, &members);
    let codec = event_enum::codec(&input.ident, &input.generics, &members);
    let owner = format!("event set `{}`", input.ident);
    let names_distinct =
        event_enum::names_distinct(&owner, &set.variants.iter().map(|v| &v.ty).collect::<Vec<_>>());
    let set_impl = impl_event_set(set);
    quote! {
        #from_impls
        #codec
        #set_impl
        #names_distinct
    }
}

/// `impl EventSet`: the name.
pub fn impl_event_set(set: &EventSet) -> TokenStream {
    let ident = &set.original.ident;
    let (impl_generics, ty_generics, where_clause) = set.original.generics.split_for_impl();
    let name = &set.name;
    quote! {
        #[automatically_derived]
        impl #impl_generics ::es_core::__private::EventSet for #ident #ty_generics #where_clause {
            const NAME: &'static str = #name;
        }
    }
}
