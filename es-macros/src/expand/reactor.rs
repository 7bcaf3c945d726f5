//! `#[derive(Reactor)]`: the async dispatch from stored events to `React<E>` impls. Events the
//! reactor does not list are skipped by name, without decoding.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ast::Consumer;

pub fn expand(reactor: &Consumer) -> TokenStream {
    let events = reactor.events.as_deref().unwrap_or_default();
    let dispatch = events.iter().map(|ty| {
        quote_spanned! {ty.span()=>
            if <#ty as ::es_core::__private::Event>::is_named(__es_at.name) {
                let __es_event = ::es_core::__private::decode_one::<#ty>(__es_at)?;
                <Self as ::es_core::__private::React<#ty>>::react(self, &__es_event, __es_at).await?;
                return ::core::result::Result::Ok(true);
            }
        }
    });
    let names = events
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> <#ty as ::es_core::__private::Event>::is_named(__es_name)));
    impl_reactor(reactor, quote!(#(#names)||*), quote!(#(#dispatch)* ::core::result::Result::Ok(false)))
}

/// `impl Reactor` with the given bodies (the fallback passes `unreachable!()`).
pub fn impl_reactor(reactor: &Consumer, handles: TokenStream, dispatch: TokenStream) -> TokenStream {
    let ident = &reactor.original.ident;
    let (impl_generics, ty_generics, where_clause) = reactor.original.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics ::es_core::__private::Reactor for #ident #ty_generics #where_clause {
            fn handles(__es_name: &str) -> bool {
                #handles
            }

            #[allow(unreachable_code)]
            async fn react_event<'__es>(
                &'__es self,
                __es_at: &'__es ::es_core::__private::ReactContext<'__es>,
            ) -> ::core::result::Result<bool, ::es_core::__private::ReactError> {
                #dispatch
            }
        }
    }
}
