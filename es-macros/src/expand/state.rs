//! `#[derive(State)]`: `impl State` (its tag key, the stored names of its events, the fold of
//! one stored event through `Apply<E>`) and the compile-time check that each listed event
//! carries the state's tag.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ast::State;

pub fn expand(state: &State) -> TokenStream {
    let events = state.events.as_deref().unwrap_or_default();
    let tag = state.tag.as_ref().map(|t| t.value()).unwrap_or_default();
    let names = events.iter().map(|ty| {
        quote_spanned! {ty.span()=>
            __es_names.push(<#ty as ::es_core::__private::Event>::NAME);
            __es_names.extend_from_slice(<#ty as ::es_core::__private::Event>::RENAMED_FROM);
        }
    });
    let apply = events.iter().map(|ty| {
        quote_spanned! {ty.span()=>
            if <#ty as ::es_core::__private::Event>::is_named(__es_stored.name) {
                let __es_event = ::es_core::__private::decode_one::<#ty>(__es_stored)?;
                <Self as ::es_core::__private::Apply<#ty>>::apply(self, &__es_event);
                return ::core::result::Result::Ok(());
            }
        }
    });
    let tag_checks = events.iter().map(|ty| tag_check(state, ty, &tag));
    let body = impl_state(
        state,
        quote! {
            let mut __es_names = ::es_core::__private::Vec::new();
            #(#names)*
            __es_names
        },
        quote!(#(#apply)* ::core::result::Result::Ok(())),
    );
    quote! {
        #body
        #(#tag_checks)*
    }
}

/// A compile-time check that `ty` has a field tagged with the state's tag, reported at `ty` in
/// the list: without one, the state would never see that event.
fn tag_check(state: &State, ty: &syn::Path, tag: &str) -> TokenStream {
    let ty_name = quote!(#ty).to_string().replace(' ', "");
    let message = format!(
        "event `{ty_name}` has no field tagged `{tag}`, so state `{}` would never see it: mark the field holding the {tag} #[event(tag)] (or #[event(tag = \"{tag}\")]), or do not list `{ty_name}` here",
        state.original.ident
    );
    quote_spanned! {ty.span()=>
        const _: () = if !::es_core::__private::has_tag(<#ty as ::es_core::__private::Event>::TAGS, #tag) {
            ::core::panic!("{}", #message);
        };
    }
}

/// `impl State` with the given bodies of `event_names` and `apply_stored` (the fallback passes
/// `unreachable!()`).
pub fn impl_state(state: &State, names: TokenStream, apply: TokenStream) -> TokenStream {
    let ident = &state.original.ident;
    let (impl_generics, ty_generics, where_clause) = state.original.generics.split_for_impl();
    let tag = state.tag.as_ref().map(|t| t.value()).unwrap_or_default();
    quote! {
        #[automatically_derived]
        impl #impl_generics ::es_core::__private::State for #ident #ty_generics #where_clause {
            const TAG: &'static str = #tag;

            fn event_names() -> ::es_core::__private::Vec<&'static str> {
                #names
            }

            fn apply_stored(
                &mut self,
                __es_stored: &::es_core::__private::EventRef<'_>,
            ) -> ::core::result::Result<(), ::es_core::__private::DecodeError> {
                #apply
            }
        }
    }
}
