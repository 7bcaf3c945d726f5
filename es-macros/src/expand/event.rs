//! `#[derive(Event)]`: the name, the schema version and the typed upcast chain.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ast::Event;
use crate::personal;
use crate::tags;

pub fn expand(event: &Event) -> TokenStream {
    let input = event.original;
    let personal = &event.personal;
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let name = &event.name;
    let version = event.version();
    let renamed = &event.renamed_from;
    let renamed_fields = personal::renamed(personal);
    let personal_registration =
        input.generics.params.is_empty().then(|| personal::registration(personal, ident));
    let personal = personal::expand(personal);
    let tags = tags::expand(&event.tags);

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
        .map(|prev| chain_checks(prev, ident));

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
        #personal_registration

        #[automatically_derived]
        impl #impl_generics ::es_core::__private::Event for #ident #ty_generics #where_clause {
            const NAME: &'static str = #name;
            const VERSION: u32 = #version;
            const RENAMED_FROM: &'static [&'static str] = &[#(#renamed),*];
            #personal
            #tags

            #[inline]
            fn decode_version(
                __es_version: u32,
                __es_payload: &str,
            ) -> ::core::result::Result<Self, ::es_core::__private::DecodeFailure> {
                #decode_older
                ::es_core::__private::decode_version::<Self>(__es_version, __es_payload, #renamed_fields)
            }
        }
        #chain_checks
    }
}

/// Compile-time checks that `upcast_from = Prev` names an older version of the same event,
/// reported at `Prev` with both events' stored names and versions.
fn chain_checks(prev: &syn::Path, ident: &syn::Ident) -> TokenStream {
    let prev_str = quote!(#prev).to_string().replace(' ', "");
    let ident_str = ident.to_string();
    let event = quote!(::es_core::__private::Event);
    // "`Prev` ("Name" version 3) ... `Ident` ("Name" version 2)"
    let describe = quote! {
        .str("`").str(#prev_str).str("` (\"").str(<#prev as #event>::NAME).str("\" version ")
        .num(<#prev as #event>::VERSION)
    };
    let describe_self = quote! {
        .str("`").str(#ident_str).str("` (\"").str(<#ident as #event>::NAME).str("\" version ")
        .num(<#ident as #event>::VERSION)
    };
    let head = format!("#[event(upcast_from = {prev_str})]: ");
    quote_spanned! {prev.span()=>
        const _: () = if <#prev as #event>::VERSION >= <#ident as #event>::VERSION {
            ::core::panic!("{}", ::es_core::__private::ConstMessage::new().str(#head)
                #describe .str(") must have a lower version than ") #describe_self .str(")")
                .as_str());
        };
        const _: () = if !::es_core::__private::upcast_names_match(
            <#prev as #event>::NAME,
            <#ident as #event>::NAME,
            <#ident as #event>::RENAMED_FROM,
        ) {
            ::core::panic!("{}", ::es_core::__private::ConstMessage::new().str(#head)
                #describe .str(") must have the same event name as ") #describe_self
                .str("), or one of its #[event(renamed_from = ...)]")
                .as_str());
        };
    }
}
