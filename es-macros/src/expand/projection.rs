//! `#[derive(Projection)]`: the dispatch from stored events to `Project<E>` impls. Events the
//! projection does not list are skipped by name, without decoding.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ast::Consumer;

pub fn expand(projection: &Consumer) -> TokenStream {
    let events = projection.events.as_deref().unwrap_or_default();
    let dispatch = events.iter().map(|ty| {
        quote_spanned! {ty.span()=>
            if <#ty as ::es_core::__private::Event>::is_named(__es_stored.name) {
                let __es_event = ::es_core::__private::decode_one::<#ty>(__es_stored)?;
                <Self as ::es_core::__private::Project<#ty>>::project(self, &__es_event, __es_stored);
                return ::core::result::Result::Ok(true);
            }
        }
    });
    let names = events
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> <#ty as ::es_core::__private::Event>::is_named(__es_name)));
    impl_projection(projection, quote!(#(#names)||*), quote!(#(#dispatch)* ::core::result::Result::Ok(false)))
}

/// `impl Projection` with the given bodies (the fallback passes `unreachable!()`).
pub fn impl_projection(projection: &Consumer, handles: TokenStream, dispatch: TokenStream) -> TokenStream {
    let ident = &projection.original.ident;
    let (impl_generics, ty_generics, where_clause) = projection.original.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics ::es_core::__private::Projection for #ident #ty_generics #where_clause {
            fn handles(__es_name: &str) -> bool {
                #handles
            }

            fn project_event(
                &mut self,
                __es_stored: &::es_core::__private::EventRef<'_>,
            ) -> ::core::result::Result<bool, ::es_core::__private::DecodeError> {
                #dispatch
            }
        }
    }
}
