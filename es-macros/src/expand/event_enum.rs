//! What an enum of events needs, whoever declares it (`#[derive(Aggregate)]` generates one,
//! `#[derive(EventSet)]` is put on the user's own): `From<E>` per variant, the `EventEnum` codec
//! and the compile-time check that no two variants share a stored name.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Generics, Ident};

/// One variant of an event enum and the event type it holds (a path or a type, for spans).
pub struct Member<'a, T> {
    pub variant: &'a Ident,
    pub ty: &'a T,
}

/// `From<E>` for each variant.
pub fn from_impls<T: ToTokens>(
    enum_ident: &Ident,
    generics: &Generics,
    members: &[Member<'_, T>],
) -> TokenStream {
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let impls = members.iter().map(|Member { variant, ty }| {
        quote! {
            #[automatically_derived]
            impl #impl_generics ::core::convert::From<#ty> for #enum_ident #ty_generics #where_clause {
                fn from(__es_event: #ty) -> Self {
                    #enum_ident::#variant(__es_event)
                }
            }
        }
    });
    quote!(#(#impls)*)
}

/// `EventEnum` for the enum: encoding, and decoding through each event's chain. Every call to an
/// event's trait is spanned at its type, so a type that is no event is reported there.
pub fn codec<T: ToTokens>(enum_ident: &Ident, generics: &Generics, members: &[Member<'_, T>]) -> TokenStream {
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let decode = members.iter().map(|Member { variant, ty }| {
        quote_spanned! {ty.span()=>
            if <#ty as ::es_core::__private::Event>::is_named(__es_name) {
                return ::core::result::Result::map(
                    <#ty as ::es_core::__private::Event>::decode_version(__es_version, __es_payload),
                    #enum_ident::#variant,
                );
            }
        }
    });
    let encode_arms = members.iter().map(|Member { variant, ty }| {
        quote_spanned!(ty.span()=> #enum_ident::#variant(__es_event) => <#ty as ::es_core::__private::Event>::encode_payload(__es_event))
    });
    let subject_arms = members.iter().map(|Member { variant, ty }| {
        quote_spanned!(ty.span()=> #enum_ident::#variant(__es_event) => <#ty as ::es_core::__private::Event>::personal_subject(__es_event))
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics ::es_core::__private::EventEnum for #enum_ident #ty_generics #where_clause {
            fn encode(&self) -> ::core::result::Result<::es_core::__private::EncodedEvent, ::es_core::__private::EncodeError> {
                match self { #(#encode_arms,)* }
            }

            fn personal_subject(&self) -> ::core::option::Option<::es_core::__private::String> {
                match self { #(#subject_arms,)* }
            }

            #[inline]
            fn decode(
                __es_name: &str,
                __es_version: u32,
                __es_payload: &str,
            ) -> ::core::result::Result<Self, ::es_core::__private::DecodeFailure> {
                #( #decode )*
                ::core::result::Result::Err(::es_core::__private::DecodeFailure::UnknownEvent)
            }
        }
    }
}

/// `EventEnum` with `unreachable!()` bodies, for a derive's fallback.
pub fn codec_stub(enum_ident: &Ident, generics: &Generics) -> TokenStream {
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics ::es_core::__private::EventEnum for #enum_ident #ty_generics #where_clause {
            fn encode(&self) -> ::core::result::Result<::es_core::__private::EncodedEvent, ::es_core::__private::EncodeError> {
                ::core::unreachable!()
            }
            fn decode(
                _: &str,
                _: u32,
                _: &str,
            ) -> ::core::result::Result<Self, ::es_core::__private::DecodeFailure> {
                ::core::unreachable!()
            }
        }
    }
}

/// A compile-time check that no two listed events share a stored name (which would make decoding
/// ambiguous), reported at the later of the two in the list with both names and versions.
/// `owner` says whose list it is (`aggregate `Account``). The names are listed once; each
/// event's check scans the ones before it, so the generated code grows linearly with the list.
pub fn names_distinct<T: ToTokens>(owner: &str, types: &[&T]) -> TokenStream {
    if types.len() < 2 {
        return TokenStream::new();
    }
    let event = quote!(::es_core::__private::Event);
    let names = types.iter().map(|ty| quote!(<#ty as #event>::NAME));
    let versions = types.iter().map(|ty| quote!(<#ty as #event>::VERSION));
    let type_names = types.iter().map(|ty| ty.to_token_stream().to_string().replace(' ', ""));
    let of_owner = format!(") of {owner} are both stored as \"");
    let checks = types.iter().enumerate().skip(1).map(|(k, later)| {
        quote_spanned! {later.span()=>
            const _: () = if let ::core::option::Option::Some(__es_i) =
                ::es_core::__private::earlier_same_name(__ES_NAMES, #k)
            {
                ::core::panic!("{}", ::es_core::__private::ConstMessage::new()
                    .str("events `").str(__ES_TYPES[__es_i]).str("` (version ").num(__ES_VERSIONS[__es_i])
                    .str(") and `").str(__ES_TYPES[#k]).str("` (version ").num(__ES_VERSIONS[#k])
                    .str(#of_owner)
                    .str(__ES_NAMES[#k])
                    .str("\": give each a distinct #[event(name = ...)], or list only the current version")
                    .as_str());
            };
        }
    });
    quote! {
        const _: () = {
            const __ES_NAMES: &[&str] = &[#(#names),*];
            const __ES_VERSIONS: &[u32] = &[#(#versions),*];
            const __ES_TYPES: &[&str] = &[#(#type_names),*];
            #(#checks)*
        };
    }
}
