//! `#[event(subject)]` and `#[event(personal)]` on an event's fields: parsed into a model with
//! every mistake recorded, checked, and expanded into the event's `PERSONAL` descriptor, the
//! former keys of renamed fields and the registration of both.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput};

use crate::attr::{self, Symbol};
use crate::ctxt::{record, Ctxt};

const SUBJECT: Symbol = Symbol("subject");
const PERSONAL: Symbol = Symbol("personal");
const ERASED: Symbol = Symbol("erased");
const RENAMED_FROM: Symbol = Symbol("renamed_from");

/// A field marked `#[event(subject)]` or `#[event(personal)]`.
pub struct Marked {
    pub ident: syn::Ident,
    /// Its key in the JSON payload (`#[serde(rename = "..")]`, or its name).
    pub key: String,
    pub ty: syn::Type,
    /// The attribute's key, for spans.
    pub marker: syn::Path,
    /// `#[event(personal, erased = ..)]`.
    pub erased: Option<syn::Expr>,
    /// `#[event(personal, renamed_from = "old")]`: the field's former JSON keys.
    pub renamed_from: Vec<syn::LitStr>,
}

/// The subject and personal fields of an event.
#[derive(Default)]
pub struct Personal {
    pub subjects: Vec<Marked>,
    pub fields: Vec<Marked>,
    /// The JSON keys of every field of the struct (marked or not), for `renamed_from` checks.
    pub keys: Vec<String>,
}

impl Personal {
    /// Reads the field attributes of `input`, recording every mistake.
    pub fn from_syn(cx: &Ctxt, input: &DeriveInput) -> Self {
        let mut personal = Personal::default();
        let Data::Struct(data) = &input.data else { return personal };
        personal.keys = data.fields.iter().filter_map(field_key).collect();
        for field in &data.fields {
            for a in field.attrs.iter().filter(|a| a.path() == &attr::EVENT) {
                let (mut marker, mut is_subject, mut erased) = (None, false, None);
                let mut renamed_from = Vec::new();
                let result = a.parse_nested_meta(|meta| {
                    if meta.path == SUBJECT || meta.path == PERSONAL {
                        // #[event(subject)], #[event(personal)]
                        is_subject = meta.path == SUBJECT;
                        marker = Some(meta.path.clone());
                    } else if meta.path == ERASED {
                        // #[event(personal, erased = "unknown".to_owned())]
                        erased = Some(meta.value()?.parse::<syn::Expr>()?);
                    } else if meta.path == RENAMED_FROM {
                        // #[event(personal, renamed_from = "name")]
                        if let Some(s) = record(cx, attr::parse_lit_str(&meta, "event")) {
                            renamed_from.push(s);
                        }
                    } else if meta.path == attr::TAG {
                        // #[event(tag)]: read by `crate::tags`.
                        attr::skip_value(&meta)?;
                    } else {
                        crate::ast::unknown_key(
                            cx,
                            &meta,
                            attr::EVENT,
                            &["subject", "personal", "erased", "renamed_from", "tag"],
                        )?;
                    }
                    Ok(())
                });
                record(cx, result);
                if marker.is_none() || is_subject {
                    for old in &renamed_from {
                        cx.error_spanned_by(old, "`renamed_from = ..` belongs to a personal field: write #[event(personal, renamed_from = \"..\")]");
                    }
                }
                let Some(marker) = marker else {
                    if let Some(e) = &erased {
                        cx.error_spanned_by(e, "`erased = ..` belongs to a personal field: write #[event(personal, erased = ..)]");
                    }
                    continue;
                };
                let Some(ident) = field.ident.clone() else {
                    cx.error_spanned_by(
                        &marker,
                        "personal data needs named fields: give this struct's fields names",
                    );
                    continue;
                };
                if is_subject {
                    if let Some(e) = &erased {
                        cx.error_spanned_by(
                            e,
                            "a subject is not erased: only #[event(personal)] fields take `erased = ..`",
                        );
                    }
                }
                let key = serde_key(cx, field, &ident);
                let marked = Marked { ident, key, ty: field.ty.clone(), marker, erased, renamed_from };
                if is_subject {
                    personal.subjects.push(marked)
                } else {
                    personal.fields.push(marked)
                }
            }
        }
        if !personal.fields.is_empty() || !personal.subjects.is_empty() {
            container_not_renamed(cx, input);
        }
        personal
    }
}

/// A field's JSON key as far as it can be read without reporting: its `#[serde(rename = "..")]`
/// or its name.
fn field_key(field: &syn::Field) -> Option<String> {
    let mut key = syn::ext::IdentExt::unraw(field.ident.as_ref()?).to_string();
    for a in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = a.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") && meta.input.peek(syn::Token![=]) {
                key = attr::parse_lit_str(&meta, "serde")?.value();
                Ok(())
            } else {
                attr::skip_value(&meta)
            }
        });
    }
    Some(key)
}

/// The field's JSON key: its `#[serde(rename = "..")]`, or its name. Serde attributes that would
/// move or hide the value are refused.
fn serde_key(cx: &Ctxt, field: &syn::Field, ident: &syn::Ident) -> String {
    let mut key = syn::ext::IdentExt::unraw(ident).to_string();
    for a in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let result = a.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") && meta.input.peek(syn::Token![=]) {
                key = attr::parse_lit_str(&meta, "serde")?.value();
            } else if meta.path.is_ident("alias") {
                cx.error_spanned_by(&meta.path, "a subject or personal field is stored under one name: it cannot take #[serde(alias)]; for a personal field's former key write #[event(personal, renamed_from = \"..\")]");
                attr::skip_value(&meta)?;
            } else if ["rename", "flatten", "skip", "skip_serializing", "skip_deserializing"]
                .iter()
                .any(|k| meta.path.is_ident(k))
            {
                cx.error_spanned_by(&meta.path, "a subject or personal field is stored under one name: it cannot take this serde attribute");
                attr::skip_value(&meta)?;
            } else {
                attr::skip_value(&meta)?;
            }
            Ok(())
        });
        record(cx, result);
    }
    key
}

/// `#[serde(rename_all)]` would change the keys the descriptor names.
fn container_not_renamed(cx: &Ctxt, input: &DeriveInput) {
    for a in input.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let result = a.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") || meta.path.is_ident("rename_all_fields") {
                cx.error_spanned_by(&meta.path, "an event with personal data cannot use #[serde(rename_all)]: rename its fields one by one with #[serde(rename = \"..\")]");
            }
            attr::skip_value(&meta)
        });
        record(cx, result);
    }
}

/// Personal fields need exactly one subject, a `String` or a `Uuid`, and a subject needs
/// personal fields.
pub fn check(cx: &Ctxt, personal: &Personal) {
    for extra in personal.subjects.iter().skip(1) {
        cx.error_spanned_by(&extra.marker, "an event has one subject: mark only one field #[event(subject)]");
    }
    for subject in &personal.subjects {
        let name = match &subject.ty {
            syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        if !matches!(name.as_deref(), Some("String" | "Uuid")) {
            cx.error_spanned_by(
                &subject.ty,
                "the subject names whose data the event holds: it must be a `String` or a `Uuid`",
            );
        }
        if personal.subjects.len() == 1 && personal.fields.is_empty() {
            cx.error_spanned_by(&subject.marker, "a subject without personal data: mark the fields holding this subject's data #[event(personal)]");
        }
    }
    if personal.subjects.is_empty() {
        if let Some(first) = personal.fields.first() {
            cx.error_spanned_by(&first.marker, "personal data needs a subject: mark the field naming whose data this is (a `String` or `Uuid`) #[event(subject)]");
        }
    }
    if let Some(both) = personal.fields.iter().find(|f| personal.subjects.iter().any(|s| s.ident == f.ident))
    {
        cx.error_spanned_by(
            &both.marker,
            "a field cannot be both the subject and personal: the subject stays readable to find the key",
        );
    }
}

/// A personal field's former key is not empty, is given once, and is no key of any field of
/// the struct now (its own or another's) nor another field's former key.
pub fn check_renamed_from(cx: &Ctxt, personal: &Personal) {
    let mut seen: Vec<(String, &syn::Ident)> = Vec::new();
    for field in &personal.fields {
        for old in &field.renamed_from {
            let value = old.value();
            if value.trim().is_empty() {
                cx.error_spanned_by(
                    old,
                    "#[event(personal, renamed_from = ...)] cannot be empty: name the field's former key",
                );
            } else if value == field.key {
                cx.error_spanned_by(old, format_args!("#[event(personal, renamed_from = \"{value}\")] is the field's current key: name the former one"));
            } else if personal.keys.contains(&value) {
                cx.error_spanned_by(old, format_args!("#[event(personal, renamed_from = \"{value}\")] is the key of another field of this event: a former key must be free"));
            } else if let Some((_, other)) = seen.iter().find(|(v, _)| *v == value) {
                if *other == &field.ident {
                    cx.error_spanned_by(
                        old,
                        format_args!("duplicate #[event(personal, renamed_from = \"{value}\")]"),
                    );
                } else {
                    cx.error_spanned_by(old, format_args!("#[event(personal, renamed_from = \"{value}\")] is already a former key of `{other}`: a stored key opens as one field"));
                }
            }
            seen.push((value, &field.ident));
        }
    }
}

/// `&[RenamedField { .. }]`: the former keys of the personal fields, a constant.
pub fn renamed(personal: &Personal) -> TokenStream {
    let renamed = personal.fields.iter().filter(|f| !f.renamed_from.is_empty()).map(|f| {
        let (key, old) = (&f.key, &f.renamed_from);
        quote! { ::es_core::__private::RenamedField { key: #key, renamed_from: &[#(#old),*] } }
    });
    quote!(&[#(#renamed),*])
}

/// The registration of the event's personal fields, for decoding its version through JSON
/// upcasters later; nothing without personal data.
pub fn registration(personal: &Personal, ident: &syn::Ident) -> TokenStream {
    if personal.subjects.is_empty() {
        return TokenStream::new();
    }
    let renamed = renamed(personal);
    quote! {
        ::es_core::__private::inventory::submit! {
            ::es_core::__private::PersonalRegistration {
                name: <#ident as ::es_core::__private::Event>::NAME,
                version: <#ident as ::es_core::__private::Event>::VERSION,
                fields: <#ident as ::es_core::__private::Event>::PERSONAL,
                renamed: #renamed,
            }
        }
    }
}

/// `const PERSONAL` and `fn personal_subject` for the event's impl; nothing without personal data.
pub fn expand(personal: &Personal) -> TokenStream {
    let Some(subject) = personal.subjects.first() else { return TokenStream::new() };
    let subject_key = &subject.key;
    let subject_ident = &subject.ident;
    let fields = personal.fields.iter().map(|f| {
        let (key, ty) = (&f.key, &f.ty);
        let value = match &f.erased {
            Some(expr) => quote_spanned!(expr.span()=> { let __es_value: #ty = #expr; __es_value }),
            None => quote_spanned!(ty.span()=> <#ty as ::core::default::Default>::default()),
        };
        quote! {
            ::es_core::__private::PersonalField {
                key: #key,
                erased: {
                    fn __es_erased() -> ::core::result::Result<::es_core::__private::serde_json::Value, ::es_core::__private::serde_json::Error> {
                        ::es_core::__private::serde_json::to_value(#value)
                    }
                    __es_erased
                },
            }
        }
    });
    let span = Span::call_site();
    quote_spanned! {span=>
        const PERSONAL: ::core::option::Option<&'static ::es_core::__private::PersonalFields> =
            ::core::option::Option::Some(&::es_core::__private::PersonalFields {
                subject: #subject_key,
                fields: &[#(#fields),*],
            });

        fn personal_subject(&self) -> ::core::option::Option<::es_core::__private::String> {
            ::core::option::Option::Some(::es_core::__private::ToString::to_string(&self.#subject_ident))
        }
    }
}

#[cfg(test)]
mod tests;
