//! Rules that look at a whole model rather than one attribute. One function per rule, the rule
//! written above it. Every violation is recorded; none stops the others from being checked.

use std::collections::HashMap;

use quote::ToTokens;

use crate::ast::{Aggregate, Consumer, Event};
use crate::ctxt::Ctxt;
use crate::personal;
use crate::tags;

mod decision;

pub use decision::{event_set, state};

/// Checks a `#[derive(Event)]` model, its personal fields included.
pub fn event(cx: &Ctxt, event: &Event) {
    event_name_not_empty(cx, event);
    upcast_needs_later_version(cx, event);
    upcast_not_from_itself(cx, event);
    renamed_from_differs(cx, event);
    personal::check(cx, &event.personal);
    personal::check_renamed_from(cx, &event.personal);
    tags::check(cx, &event.tags, &event.personal);
}

/// Checks a `#[derive(IntegrationEvent)]` model: its public name cannot be empty.
pub fn integration(cx: &Ctxt, integration: &crate::ast::Integration) {
    if integration.name.value().trim().is_empty() {
        cx.error_spanned_by(
            &integration.name,
            "a public event name cannot be empty: write #[integration(name = \"bank.PaymentReceived\")] or leave it out to use the type's name",
        );
    }
}

/// Checks a `#[derive(Aggregate)]` model.
pub fn aggregate(cx: &Ctxt, agg: &Aggregate) {
    aggregate_name_not_empty(cx, agg);
    events_listed(cx, agg);
    events_distinct(cx, agg);
    error_given(cx, agg);
}

/// Checks a `#[derive(Projection)]`, `#[derive(Reactor)]` or `#[derive(Contract)]` model.
pub fn consumer(cx: &Ctxt, consumer: &Consumer) {
    consumer_events_listed(cx, consumer);
    listed_once(cx, consumer.events.iter().flatten(), consumer.attr.0);
}

// A projection, reactor or contract lists the events it consumes, at least one.
fn consumer_events_listed(cx: &Ctxt, consumer: &Consumer) {
    let attr = consumer.attr;
    match &consumer.events {
        None => cx.error_spanned_by(
            &consumer.original.ident,
            format_args!(
                "missing #[{attr}(events(...))]: list the events this {attr} consumes, as in #[{attr}(events(AccountOpened, MoneyDeposited))]"
            ),
        ),
        Some(events) if events.is_empty() => cx.error_spanned_by(
            &consumer.original.ident,
            format_args!("#[{attr}(events())] is empty: list at least one event type"),
        ),
        Some(_) => {}
    }
}

// The stored name identifies the event forever: it cannot be empty.
fn event_name_not_empty(cx: &Ctxt, event: &Event) {
    if event.name_given && event.name.value().trim().is_empty() {
        cx.error_spanned_by(
            &event.name,
            "an event name cannot be empty: write #[event(name = \"AccountOpened\")] or leave it out to use the type's name",
        );
    }
}

// An upcast goes from an older version to this one, so this one is at least version 2.
fn upcast_needs_later_version(cx: &Ctxt, event: &Event) {
    if let Some(from) = &event.upcast_from {
        if event.version() < 2 {
            let at =
                event.version.as_ref().map_or_else(|| from.to_token_stream(), |v| v.lit.to_token_stream());
            cx.error_spanned_by(
                at,
                "#[event(upcast_from = ...)] needs a version greater than 1: add #[event(version = 2)]",
            );
        }
    }
}

// An event cannot be its own older version.
fn upcast_not_from_itself(cx: &Ctxt, event: &Event) {
    if let Some(from) = &event.upcast_from {
        if from.is_ident(&event.original.ident) {
            cx.error_spanned_by(
                from,
                "#[event(upcast_from = ...)] names this type itself: name the struct of the older version",
            );
        }
    }
}

// A former name must differ from the current one, be non-empty, and be given once.
fn renamed_from_differs(cx: &Ctxt, event: &Event) {
    let mut seen = Vec::new();
    for old in &event.renamed_from {
        let value = old.value();
        if value == event.name.value() {
            cx.error_spanned_by(
                old,
                format_args!(
                    "#[event(renamed_from = \"{value}\")] is the event's current name: name the former one"
                ),
            );
        } else if value.trim().is_empty() {
            cx.error_spanned_by(old, "#[event(renamed_from = ...)] cannot be empty");
        } else if seen.contains(&value) {
            cx.error_spanned_by(old, format_args!("duplicate #[event(renamed_from = \"{value}\")]"));
        }
        seen.push(value);
    }
}

// Stream names are `<name>-<id>`: the name cannot be empty.
fn aggregate_name_not_empty(cx: &Ctxt, agg: &Aggregate) {
    if agg.name.value().trim().is_empty() {
        cx.error_spanned_by(
            &agg.name,
            "an aggregate name cannot be empty: write #[aggregate(name = \"Account\")] or leave it out to use the type's name",
        );
    }
}

// An aggregate lists the events it records, at least one.
fn events_listed(cx: &Ctxt, agg: &Aggregate) {
    match &agg.events {
        None => cx.error_spanned_by(
            &agg.original.ident,
            "missing #[aggregate(events(...))]: list the events this aggregate records, as in #[aggregate(events(AccountOpened, MoneyDeposited), error = AccountError)]",
        ),
        Some(events) if events.is_empty() => cx.error_spanned_by(
            &agg.original.ident,
            "#[aggregate(events())] is empty: list at least one event type",
        ),
        Some(_) => {}
    }
}

// Each event is listed once.
pub(crate) fn listed_once<'a>(cx: &Ctxt, events: impl Iterator<Item = &'a syn::Path>, attr: &str) {
    let mut seen = HashMap::new();
    for path in events {
        let key = path.to_token_stream().to_string().replace(' ', "");
        if seen.insert(key.clone(), path).is_some() {
            cx.error_spanned_by(path, format_args!("`{key}` is listed twice in #[{attr}(events(...))]"));
        }
    }
}

// Each event is listed once, and no two become the same enum variant.
fn events_distinct(cx: &Ctxt, agg: &Aggregate) {
    listed_once(cx, agg.events.iter().flatten(), "aggregate");
    let mut by_path = HashMap::new();
    let mut by_variant = HashMap::new();
    for path in agg.events.iter().flatten() {
        let key = path.to_token_stream().to_string().replace(' ', "");
        if by_path.insert(key.clone(), path).is_some() {
            continue;
        }
        if let Some(variant) = Aggregate::variant(path) {
            if let Some(first) = by_variant.insert(variant.to_string(), path) {
                cx.error_spanned_by(
                    path,
                    format_args!(
                        "`{key}` and `{}` would both be the enum variant `{variant}`: list events whose type names differ",
                        first.to_token_stream().to_string().replace(' ', "")
                    ),
                );
            }
        }
    }
}

// handle() returns Result<_, Error>, so the error type must be named.
fn error_given(cx: &Ctxt, agg: &Aggregate) {
    if agg.error.is_none() {
        cx.error_spanned_by(
            &agg.original.ident,
            "missing #[aggregate(error = ...)]: name the error type that handle() returns, as in #[aggregate(events(..), error = AccountError)]",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::{parse_quote, DeriveInput};

    fn aggregate_errors(input: DeriveInput) -> String {
        let cx = Ctxt::new();
        let model = Aggregate::from_syn(&cx, &input);
        aggregate(&cx, &model);
        cx.check().err().map(|e| e.to_compile_error().to_string()).unwrap_or_default()
    }

    #[test]
    fn reports_missing_events_and_error_together() {
        let errors = aggregate_errors(parse_quote!(
            #[aggregate()]
            struct A;
        ));
        assert!(errors.contains("missing #[aggregate(events(...))]"), "{errors}");
        assert!(errors.contains("missing #[aggregate(error = ...)]"), "{errors}");
    }

    #[test]
    fn reports_duplicates() {
        let errors = aggregate_errors(parse_quote!(
            #[aggregate(events(X, Y, X, m::Y), error = E)]
            struct A;
        ));
        assert!(errors.contains("`X` is listed twice"), "{errors}");
        assert!(errors.contains("would both be the enum variant `Y`"), "{errors}");
    }

    #[test]
    fn accepts_a_valid_aggregate() {
        assert_eq!(
            aggregate_errors(parse_quote!(
                #[aggregate(events(X, Y), error = E)]
                struct A;
            )),
            ""
        );
    }

    #[test]
    fn upcast_rules() {
        let input: DeriveInput = parse_quote!(
            #[event(upcast_from = E, renamed_from = "E")]
            struct E;
        );
        let cx = Ctxt::new();
        let model = Event::from_syn(&cx, &input);
        event(&cx, &model);
        let errors = cx.check().err().map(|e| e.to_compile_error().to_string()).unwrap_or_default();
        assert!(errors.contains("needs a version greater than 1"), "{errors}");
        assert!(errors.contains("names this type itself"), "{errors}");
        assert!(errors.contains("is the event's current name"), "{errors}");
    }
}
