//! The model of a `#[derive(State)]` input: `#[state(events(..), tag = course)]`.

use syn::ext::IdentExt;
use syn::{DeriveInput, Ident, LitStr};

use super::{reject_union, unknown_key};
use crate::attr::{self, Attr};
use crate::ctxt::{record, Ctxt};

/// A `#[derive(State)]` input: a decision state folding the listed events that carry its tag.
pub struct State<'a> {
    pub original: &'a DeriveInput,
    /// `#[state(events(..))]`, in the order written.
    pub events: Option<Vec<syn::Path>>,
    /// `#[state(tag = course)]` or `#[state(tag = "course")]`: the tag key selecting its events.
    pub tag: Option<LitStr>,
    /// Whether `tag` was written at all (a value that did not parse is reported already, and
    /// no second time as missing).
    pub tag_written: bool,
}

impl<'a> State<'a> {
    pub fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        reject_union(cx, input, "State");
        let mut events = Attr::none("state", attr::EVENTS);
        let mut tag = Attr::none("state", attr::TAG);
        let mut tag_written = false;
        for a in input.attrs.iter().filter(|a| a.path() == &attr::STATE) {
            let result = a.parse_nested_meta(|meta| {
                if meta.path == attr::EVENTS {
                    // #[state(events(CourseCreated, StudentSubscribed))]
                    let list = attr::parse_path_list(&meta)?;
                    events.set(cx, &meta.path, list.into_iter().collect::<Vec<_>>());
                } else if meta.path == attr::TAG {
                    // #[state(tag = course)], #[state(tag = "course")]
                    tag_written = true;
                    if let Some(key) = record(cx, parse_key(&meta)) {
                        tag.set(cx, &meta.path, key);
                    }
                } else {
                    unknown_key(cx, &meta, attr::STATE, &["events", "tag"])?;
                }
                Ok(())
            });
            record(cx, result);
        }
        State { original: input, events: events.get(), tag: tag.get(), tag_written }
    }
}

/// `= course` or `= "course"`: a tag key, as a string literal spanned at what was written.
fn parse_key(meta: &syn::meta::ParseNestedMeta) -> syn::Result<LitStr> {
    let value = meta.value()?;
    if value.peek(LitStr) {
        return value.parse();
    }
    if value.peek(Ident::peek_any) {
        let ident = value.call(Ident::parse_any)?;
        return Ok(LitStr::new(&ident.unraw().to_string(), ident.span()));
    }
    // Consumed whole, so that parsing goes on after it.
    let other: syn::Expr = value.parse()?;
    Err(syn::Error::new_spanned(other, "expected a tag key, as in #[state(tag = course)]"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn parse(input: DeriveInput) -> (Option<usize>, Option<String>, Option<String>) {
        let cx = Ctxt::new();
        let s = State::from_syn(&cx, &input);
        let out = (s.events.map(|e| e.len()), s.tag.map(|t| t.value()));
        let errors = cx.check().err().map(|e| e.to_compile_error().to_string());
        (out.0, out.1, errors)
    }

    #[test]
    fn reads_events_and_tag_as_ident_or_string() {
        let (events, tag, errors) = parse(parse_quote! {
            #[state(events(CourseCreated, m::StudentSubscribed), tag = course)]
            struct Course;
        });
        assert_eq!((events, tag.as_deref(), errors), (Some(2), Some("course"), None));
        let (_, tag, errors) = parse(parse_quote! {
            #[state(events(A), tag = "student")]
            struct Student;
        });
        assert_eq!((tag.as_deref(), errors), (Some("student"), None));
        let (_, tag, errors) = parse(parse_quote! {
            #[state(events(A), tag = r#type)]
            struct Kind;
        });
        assert_eq!((tag.as_deref(), errors), (Some("type"), None));
    }

    #[test]
    fn reports_unknown_keys_duplicates_and_bad_values() {
        let (_, _, errors) = parse(parse_quote! {
            #[state(events(A), tags = course, tag = 5, tag = a, tag = b)]
            struct S;
        });
        let errors = errors.expect("errors");
        assert!(errors.contains("unknown state attribute `tags`; did you mean `tag`?"), "{errors}");
        assert!(errors.contains("expected a tag key, as in #[state(tag = course)]"), "{errors}");
        assert!(errors.contains("duplicate #[state(tag = ...)] attribute"), "{errors}");
    }
}
