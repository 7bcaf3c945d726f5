//! `#[derive(Event)]`: the name, the schema version and the typed upcast chain.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ast::Event;

pub fn expand(event: &Event) -> TokenStream {
    let input = event.original;
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let name = &event.name;
    let version = event.version();
    let renamed = &event.renamed_from;

    let decode_older = event.upcast_from.as_ref().map(|prev| {
        // Spanned at the user's `upcast_from = Prev`, so a missing `From<Prev>` points there.
        quote_spanned! {prev.span()=>
            if __es_version < <Self as ::es_core::__private::Event>::VERSION {
                return match <#prev as ::es_core::__private::Event>::decode_version(__es_version, __es_payload) {
                    ::core::result::Result::Ok(__es_old) => {
                        ::core::result::Result::Ok(<Self as ::core::convert::From<#prev>>::from(__es_old))
                    }
                    ::core::result::Result::Err(__es_failure) => ::core::result::Result::Err(__es_failure),
                };
            }
        }
    });

    let chain_checks = event
        .upcast_from
        .as_ref()
        .filter(|_| input.generics.params.is_empty())
        .map(|prev| {
            let prev_str = quote!(#prev).to_string().replace(' ', "");
            let older = format!(
                "#[event(upcast_from = {prev_str})]: `{prev_str}` must have a lower version than `{ident}`"
            );
            let same = format!(
                "#[event(upcast_from = {prev_str})]: `{prev_str}` must have the same event name as `{ident}` (or one of its #[event(renamed_from = ...)])"
            );
            quote_spanned! {prev.span()=>
                const _: () = {
                    ::core::assert!(
                        <#prev as ::es_core::__private::Event>::VERSION < <#ident as ::es_core::__private::Event>::VERSION,
                        #older
                    );
                    ::core::assert!(
                        ::es_core::__private::upcast_names_match(
                            <#prev as ::es_core::__private::Event>::NAME,
                            <#ident as ::es_core::__private::Event>::NAME,
                            <#ident as ::es_core::__private::Event>::RENAMED_FROM,
                        ),
                        #same
                    );
                };
            }
        });

    // Generic events cannot be registered: there is no one type to name.
    let registration = input.generics.params.is_empty().then(|| {
        let upcast_from = match &event.upcast_from {
            Some(prev) => quote! {
                ::core::option::Option::Some((
                    <#prev as ::es_core::__private::Event>::NAME,
                    <#prev as ::es_core::__private::Event>::VERSION,
                ))
            },
            None => quote!(::core::option::Option::None),
        };
        quote! {
            ::es_core::__private::inventory::submit! {
                ::es_core::__private::EventRegistration {
                    name: <#ident as ::es_core::__private::Event>::NAME,
                    version: <#ident as ::es_core::__private::Event>::VERSION,
                    rust_type: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)),
                    renamed_from: <#ident as ::es_core::__private::Event>::RENAMED_FROM,
                    upcast_from: #upcast_from,
                }
            }
        }
    });

    quote! {
        #registration

        #[automatically_derived]
        impl #impl_generics ::es_core::__private::Event for #ident #ty_generics #where_clause {
            const NAME: &'static str = #name;
            const VERSION: u32 = #version;
            const RENAMED_FROM: &'static [&'static str] = &[#(#renamed),*];

            fn decode_version(
                __es_version: u32,
                __es_payload: &str,
            ) -> ::core::result::Result<Self, ::es_core::__private::DecodeFailure> {
                #decode_older
                ::es_core::__private::decode_current::<Self>(__es_version, __es_payload)
            }
        }
        #chain_checks
    }
}
