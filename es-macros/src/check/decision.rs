//! The rules of `#[derive(State)]` and `#[derive(EventSet)]`, one function each, the rule
//! written above it. That each listed event is an event, carries the state's tag and has its
//! `Apply` impl is checked by the compiler on the generated code, at the event in the list.

use std::collections::HashMap;

use quote::ToTokens;

use super::listed_once;
use crate::ast::{EventSet, State};
use crate::ctxt::Ctxt;

/// Checks a `#[derive(State)]` model.
pub fn state(cx: &Ctxt, state: &State) {
    state_events_listed(cx, state);
    listed_once(cx, state.events.iter().flatten(), "state");
    state_tag_given(cx, state);
}

/// Checks a `#[derive(EventSet)]` model.
pub fn event_set(cx: &Ctxt, set: &EventSet) {
    set_name_not_empty(cx, set);
    set_types_distinct(cx, set);
}

// A state folds the events it lists, at least one.
fn state_events_listed(cx: &Ctxt, state: &State) {
    match &state.events {
        None => cx.error_spanned_by(
            &state.original.ident,
            "missing #[state(events(...))]: list the events this state folds, as in #[state(events(CourseCreated, StudentSubscribed), tag = course)]",
        ),
        Some(events) if events.is_empty() => cx.error_spanned_by(
            &state.original.ident,
            "#[state(events())] is empty: list at least one event type, as in #[state(events(CourseCreated), tag = course)]",
        ),
        Some(_) => {}
    }
}

// A state selects its events by one tag key: given, not empty, without `:`.
fn state_tag_given(cx: &Ctxt, state: &State) {
    match &state.tag {
        None if state.tag_written => {}
        None => cx.error_spanned_by(
            &state.original.ident,
            "missing #[state(tag = ...)]: name the tag key that selects this state's events, as in #[state(events(..), tag = course)]",
        ),
        Some(tag) if tag.value().trim().is_empty() => cx.error_spanned_by(
            tag,
            "a tag key cannot be empty: write #[state(tag = course)]",
        ),
        Some(tag) if tag.value().contains(':') => cx.error_spanned_by(
            tag,
            "a tag key cannot hold `:`, which separates it from the value: write the key alone, as in #[state(tag = course)]",
        ),
        Some(_) => {}
    }
}

// The set's name starts its decisions' streams: it cannot be empty.
fn set_name_not_empty(cx: &Ctxt, set: &EventSet) {
    if set.name.value().trim().is_empty() {
        cx.error_spanned_by(
            &set.name,
            "an event set name cannot be empty: write #[event_set(name = \"University\")] or leave it out to use the type's name",
        );
    }
}

// Each event type is in one variant: decoding picks the variant by the event's type.
fn set_types_distinct(cx: &Ctxt, set: &EventSet) {
    let mut seen = HashMap::new();
    for variant in &set.variants {
        let key = variant.ty.to_token_stream().to_string().replace(' ', "");
        if let Some(first) = seen.insert(key.clone(), &variant.ident) {
            cx.error_spanned_by(
                &variant.ty,
                format_args!(
                    "`{key}` is already the event of variant `{first}`: each event type goes in one variant (From<{key}> must know which)"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::{parse_quote, DeriveInput};

    fn state_errors(input: DeriveInput) -> String {
        let cx = Ctxt::new();
        let model = State::from_syn(&cx, &input);
        state(&cx, &model);
        cx.check().err().map(|e| e.to_compile_error().to_string()).unwrap_or_default()
    }

    fn set_errors(input: DeriveInput) -> String {
        let cx = Ctxt::new();
        let model = EventSet::from_syn(&cx, &input);
        event_set(&cx, &model);
        cx.check().err().map(|e| e.to_compile_error().to_string()).unwrap_or_default()
    }

    #[test]
    fn a_state_needs_events_and_a_tag() {
        let e = state_errors(parse_quote!(
            struct Course;
        ));
        assert!(e.contains("missing #[state(events(...))]"), "{e}");
        assert!(e.contains("missing #[state(tag = ...)]"), "{e}");
        let e = state_errors(parse_quote!(
            #[state(events(), tag = "")]
            struct Course;
        ));
        assert!(e.contains("#[state(events())] is empty"), "{e}");
        assert!(e.contains("a tag key cannot be empty"), "{e}");
        let e = state_errors(parse_quote!(
            #[state(events(A, B, A), tag = "course:x")]
            struct Course;
        ));
        assert!(e.contains("`A` is listed twice in #[state(events(...))]"), "{e}");
        assert!(e.contains("cannot hold `:`"), "{e}");
    }

    #[test]
    fn accepts_a_valid_state_and_set() {
        assert_eq!(
            state_errors(parse_quote!(
                #[state(events(A, B), tag = course)]
                struct Course;
            )),
            ""
        );
        assert_eq!(
            set_errors(parse_quote!(
                enum U {
                    A(A),
                    B(m::B),
                }
            )),
            ""
        );
    }

    #[test]
    fn a_set_has_a_name_and_each_type_once() {
        let e = set_errors(parse_quote!(
            #[event_set(name = " ")]
            enum U {
                A(A),
                Again(A),
            }
        ));
        assert!(e.contains("an event set name cannot be empty"), "{e}");
        assert!(e.contains("`A` is already the event of variant `A`"), "{e}");
    }
}
