//! `#[derive(IntegrationEvent)]`: the public name and version; `#[derive(Contract)]`: the
//! dispatch from stored domain events to `Translate<E>` impls (others skipped by name, unread).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ast::{Consumer, Integration};

pub fn expand_event(integration: &Integration) -> TokenStream {
    let ident = &integration.original.ident;
    let (impl_generics, ty_generics, where_clause) = integration.original.generics.split_for_impl();
    let (name, version) = (&integration.name, integration.version);
    quote! {
        #[automatically_derived]
        impl #impl_generics ::es_core::__private::IntegrationEvent for #ident #ty_generics #where_clause {
            const NAME: &'static str = #name;
            const VERSION: u32 = #version;
        }
    }
}

pub fn expand_contract(contract: &Consumer) -> TokenStream {
    let events = contract.events.as_deref().unwrap_or_default();
    let dispatch = events.iter().map(|ty| {
        quote_spanned! {ty.span()=>
            if <#ty as ::es_core::__private::Event>::is_named(__es_stored.name) {
                let __es_event = ::es_core::__private::decode_one::<#ty>(__es_stored)?;
                return <Self as ::es_core::__private::Translate<#ty>>::translate(self, &__es_event, __es_stored);
            }
        }
    });
    let names = events
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> <#ty as ::es_core::__private::Event>::is_named(__es_name)));
    impl_contract(
        contract,
        quote!(#(#names)||*),
        quote!(#(#dispatch)* ::core::result::Result::Ok(::es_core::__private::Outgoing::none())),
    )
}

/// `impl Contract` with the given bodies (the fallback passes `unreachable!()`).
pub fn impl_contract(contract: &Consumer, handles: TokenStream, dispatch: TokenStream) -> TokenStream {
    let ident = &contract.original.ident;
    let (impl_generics, ty_generics, where_clause) = contract.original.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics ::es_core::__private::Contract for #ident #ty_generics #where_clause {
            fn handles(__es_name: &str) -> bool {
                #handles
            }

            fn translate_event(
                &self,
                __es_stored: &::es_core::__private::EventRef<'_>,
            ) -> ::core::result::Result<::es_core::__private::Outgoing, ::es_core::__private::MapError> {
                #dispatch
            }
        }
    }
}
