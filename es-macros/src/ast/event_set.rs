//! The model of a `#[derive(EventSet)]` input: an enum with one variant per event type.

use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr};

use super::unknown_key;
use crate::attr::{self, Attr};
use crate::ctxt::{record, Ctxt};

/// One variant of the set: `CourseCreated(CourseCreated)`.
pub struct Variant {
    pub ident: Ident,
    /// The event type it holds.
    pub ty: syn::Type,
}

/// A `#[derive(EventSet)]` input.
pub struct EventSet<'a> {
    pub original: &'a DeriveInput,
    /// `#[event_set(name = "..")]`, or the type's name: the prefix of its decisions' streams.
    pub name: LitStr,
    /// The variants that hold one event each, in the order written.
    pub variants: Vec<Variant>,
}

impl<'a> EventSet<'a> {
    pub fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        let mut name = Attr::none("event_set", attr::NAME);
        for a in input.attrs.iter().filter(|a| a.path() == &attr::EVENT_SET) {
            let result = a.parse_nested_meta(|meta| {
                if meta.path == attr::NAME {
                    // #[event_set(name = "University")]
                    if let Some(s) = record(cx, attr::parse_lit_str(&meta, "event_set")) {
                        name.set(cx, &meta.path, s);
                    }
                } else {
                    unknown_key(cx, &meta, attr::EVENT_SET, &["name"])?;
                }
                Ok(())
            });
            record(cx, result);
        }
        let ident = &input.ident;
        EventSet {
            original: input,
            name: name.get().unwrap_or_else(|| LitStr::new(&ident.unraw().to_string(), ident.span())),
            variants: variants(cx, input),
        }
    }
}

/// The variants, each holding one event: `Name(EventType)`.
fn variants(cx: &Ctxt, input: &DeriveInput) -> Vec<Variant> {
    let data = match &input.data {
        Data::Enum(data) => data,
        Data::Struct(s) => {
            cx.error_spanned_by(s.struct_token, "#[derive(EventSet)] goes on an enum with one variant per event, as in `enum University { CourseCreated(CourseCreated), StudentSubscribed(StudentSubscribed) }`");
            return Vec::new();
        }
        Data::Union(u) => {
            cx.error_spanned_by(
                u.union_token,
                "#[derive(EventSet)] is not supported on a union: use an enum with one variant per event",
            );
            return Vec::new();
        }
    };
    if data.variants.is_empty() {
        cx.error_spanned_by(
            &input.ident,
            "an event set needs at least one variant, as in `CourseCreated(CourseCreated)`",
        );
    }
    let mut variants = Vec::new();
    for v in &data.variants {
        match &v.fields {
            Fields::Unnamed(f) if f.unnamed.len() == 1 => {
                variants.push(Variant { ident: v.ident.clone(), ty: f.unnamed[0].ty.clone() })
            }
            fields => {
                let at = if matches!(fields, Fields::Unit) { v.ident.span() } else { fields.span() };
                cx.syn_error(syn::Error::new(
                    at,
                    format_args!(
                        "each variant of an event set holds one event, its one unnamed field: write `{}(EventType)`, as in `CourseCreated(CourseCreated)`",
                        v.ident
                    ),
                ))
            }
        }
    }
    variants
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn reads_variants_and_name() {
        let input: DeriveInput = parse_quote! {
            #[event_set(name = "Uni")]
            enum University { CourseCreated(CourseCreated), Subscribed(m::StudentSubscribed) }
        };
        let cx = Ctxt::new();
        let set = EventSet::from_syn(&cx, &input);
        assert!(cx.check().is_ok());
        assert_eq!(set.name.value(), "Uni");
        let idents: Vec<String> = set.variants.iter().map(|v| v.ident.to_string()).collect();
        assert_eq!(idents, ["CourseCreated", "Subscribed"]);
    }

    #[test]
    fn reports_a_struct_and_bad_variants() {
        let errors = |input: DeriveInput| {
            let cx = Ctxt::new();
            let _ = EventSet::from_syn(&cx, &input);
            cx.check().err().map(|e| e.to_compile_error().to_string()).unwrap_or_default()
        };
        let e = errors(parse_quote! { struct University; });
        assert!(e.contains("goes on an enum"), "{e}");
        let e = errors(parse_quote! { enum U { A, B(B, C), D { d: D }, E(E) } });
        assert_eq!(e.matches("holds one event").count(), 3, "{e}");
        let e = errors(parse_quote! { #[event_set(nme = "U")] enum U { A(A) } });
        assert!(e.contains("did you mean `name`"), "{e}");
    }
}
