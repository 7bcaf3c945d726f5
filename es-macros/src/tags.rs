//! `#[event(tag)]` and `#[event(tag = "key")]` on an event's fields: parsed into a model with
//! every mistake recorded, checked, and expanded into the event's `TAGS` and `tags()`.
//!
//! A tag is `key:value`, the value the field's `ToString` (so its `Display`): an id, a name, a
//! number. Decisions across streams read the events that carry a tag, so the value must name one
//! entity and stay the same for it: a `String`, an integer or a `Uuid`, not a float or a
//! structure whose `Display` varies.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, LitStr};

use crate::attr::{self, TAG};
use crate::ctxt::{record, Ctxt};
use crate::personal::Personal;

/// A field marked `#[event(tag)]` or `#[event(tag = "key")]`.
pub struct Tagged {
    /// The field: its name, or its index in a tuple struct.
    pub member: syn::Member,
    /// The tag key: the one given, or the field's name.
    pub key: LitStr,
    /// Whether the key was given (`tag = "key"`).
    pub key_given: bool,
    pub ty: syn::Type,
    /// The attribute's key, for spans.
    pub marker: syn::Path,
}

/// The tagged fields of an event, in the order written.
#[derive(Default)]
pub struct Tags {
    pub fields: Vec<Tagged>,
}

impl Tags {
    /// Reads the `tag` keys of the fields' `#[event(..)]` attributes, recording every mistake.
    /// Other keys of the same attributes belong to [`Personal`], which reads and checks them.
    pub fn from_syn(cx: &Ctxt, input: &DeriveInput) -> Self {
        let mut tags = Tags::default();
        let Data::Struct(data) = &input.data else { return tags };
        for (index, field) in data.fields.iter().enumerate() {
            for a in field.attrs.iter().filter(|a| a.path() == &attr::EVENT) {
                let result = a.parse_nested_meta(|meta| {
                    if meta.path != TAG {
                        return attr::skip_value(&meta);
                    }
                    // #[event(tag)], #[event(tag = "course")]
                    let given = if meta.input.peek(syn::Token![=]) {
                        match record(cx, attr::parse_lit_str(&meta, "event")) {
                            Some(key) => Some(key),
                            None => return Ok(()),
                        }
                    } else {
                        None
                    };
                    let key_given = given.is_some();
                    let key = match (given, &field.ident) {
                        (Some(key), _) => key,
                        (None, Some(ident)) => LitStr::new(&ident.unraw().to_string(), meta.path.span()),
                        (None, None) => {
                            cx.error_spanned_by(
                                &meta.path,
                                "a tag on a tuple field needs a key: write #[event(tag = \"course\")]",
                            );
                            return Ok(());
                        }
                    };
                    let member = match &field.ident {
                        Some(ident) => syn::Member::Named(ident.clone()),
                        None => syn::Member::Unnamed(index.into()),
                    };
                    tags.fields.push(Tagged {
                        member,
                        key,
                        key_given,
                        ty: field.ty.clone(),
                        marker: meta.path.clone(),
                    });
                    Ok(())
                });
                record(cx, result);
            }
        }
        tags
    }
}

/// A tag key is not empty and holds no `:` (it ends where the value starts); each key is given
/// once; a tag is stored in clear beside the event, so a personal field cannot be one.
pub fn check(cx: &Ctxt, tags: &Tags, personal: &Personal) {
    let mut seen: Vec<String> = Vec::new();
    for tagged in &tags.fields {
        let key = tagged.key.value();
        // At the key when given, else at `tag`.
        let spanned =
            if tagged.key_given { tagged.key.to_token_stream() } else { tagged.marker.to_token_stream() };
        if key.trim().is_empty() {
            cx.error_spanned_by(&spanned, "a tag key cannot be empty: write #[event(tag = \"course\")], or #[event(tag)] to use the field's name");
        } else if key.contains(':') {
            cx.error_spanned_by(
                &spanned,
                format_args!("a tag key cannot hold `:`, which separates it from the value (`{key}:<value>`): write a key without `:`"),
            );
        } else if seen.contains(&key) {
            cx.error_spanned_by(
                &spanned,
                format_args!("the tag key `{key}` is given twice: each tag of an event needs its own key, as in #[event(tag = \"other\")]"),
            );
        }
        seen.push(key);
        if let syn::Member::Named(ident) = &tagged.member {
            if personal.fields.iter().any(|f| &f.ident == ident) {
                cx.error_spanned_by(
                    &tagged.marker,
                    "a personal field cannot be a tag: tags are stored in clear beside the event (and indexed), so they would keep the personal data after it is forgotten; tag the subject's id or another field instead",
                );
            }
        }
    }
}

/// `const TAGS` and `fn tags` for the event's impl; nothing without tags.
pub fn expand(tags: &Tags) -> TokenStream {
    if tags.fields.is_empty() {
        return TokenStream::new();
    }
    let keys = tags.fields.iter().map(|t| &t.key);
    let values = tags.fields.iter().map(|t| {
        let (key, member, ty) = (&t.key, &t.member, &t.ty);
        // Spanned at the field's type, so a type without `Display` is reported there.
        quote_spanned! {ty.span()=>
            ::es_core::__private::tag(#key, &<#ty as ::es_core::__private::ToString>::to_string(&self.#member))
        }
    });
    quote! {
        const TAGS: &'static [&'static str] = &[#(#keys),*];

        fn tags(&self) -> ::es_core::__private::Vec<::es_core::__private::String> {
            let mut __es_tags = ::es_core::__private::Vec::new();
            #( __es_tags.push(#values); )*
            __es_tags
        }
    }
}

#[cfg(test)]
mod tests;
