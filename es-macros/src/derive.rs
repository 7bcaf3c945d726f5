//! The one pipeline every derive runs: parse the input into a model (collecting every error),
//! check the rules that span several items, then expand the model; or, if anything was wrong,
//! emit the errors together with stub impls. Each derive only says how to do each step.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput};

use crate::ast;
use crate::attr;
use crate::check;
use crate::ctxt::Ctxt;
use crate::expand;
use crate::fallback;

/// The steps of one derive, over its model.
pub trait Derive {
    /// What the input parses into; it keeps `original` for spans.
    type Model<'a>;

    /// Parses the input, recording every attribute error; parsing never stops at the first.
    fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Self::Model<'a>;

    /// Records every violation of the rules that look at the whole model.
    fn check(cx: &Ctxt, model: &Self::Model<'_>);

    /// The generated code, from a model that parsed and checked without error.
    fn expand(model: &Self::Model<'_>) -> TokenStream;

    /// Impls with `unreachable!()` bodies, emitted beside the errors so that code using the
    /// type still type-checks (thiserror's `fallback.rs`).
    fn fallback(model: &Self::Model<'_>) -> TokenStream;
}

/// Runs derive `D` on `input`.
pub fn run<D: Derive>(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let model = D::parse(&cx, input);
    D::check(&cx, &model);
    match cx.check() {
        Ok(()) => D::expand(&model),
        Err(errors) => {
            let errors = errors.to_compile_error();
            // A union cannot be any of these at all (parsing has said so): a stand-in would only
            // add unrelated errors.
            let stub = match input.data {
                Data::Union(_) => TokenStream::new(),
                Data::Struct(_) | Data::Enum(_) => D::fallback(&model),
            };
            quote!(#errors #stub)
        }
    }
}

/// `#[derive(Event)]`.
pub enum Event {}

impl Derive for Event {
    type Model<'a> = ast::Event<'a>;

    fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> ast::Event<'a> {
        ast::Event::from_syn(cx, input)
    }

    fn check(cx: &Ctxt, model: &ast::Event<'_>) {
        check::event(cx, model);
    }

    fn expand(model: &ast::Event<'_>) -> TokenStream {
        expand::event::expand(model)
    }

    fn fallback(model: &ast::Event<'_>) -> TokenStream {
        fallback::event(model)
    }
}

/// `#[derive(Aggregate)]`.
pub enum Aggregate {}

impl Derive for Aggregate {
    type Model<'a> = ast::Aggregate<'a>;

    fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> ast::Aggregate<'a> {
        ast::Aggregate::from_syn(cx, input)
    }

    fn check(cx: &Ctxt, model: &ast::Aggregate<'_>) {
        check::aggregate(cx, model);
    }

    fn expand(model: &ast::Aggregate<'_>) -> TokenStream {
        expand::aggregate::expand(model)
    }

    fn fallback(model: &ast::Aggregate<'_>) -> TokenStream {
        fallback::aggregate(model)
    }
}

/// `#[derive(State)]`.
pub enum State {}

impl Derive for State {
    type Model<'a> = ast::State<'a>;

    fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> ast::State<'a> {
        ast::State::from_syn(cx, input)
    }

    fn check(cx: &Ctxt, model: &ast::State<'_>) {
        check::state(cx, model);
    }

    fn expand(model: &ast::State<'_>) -> TokenStream {
        expand::state::expand(model)
    }

    fn fallback(model: &ast::State<'_>) -> TokenStream {
        fallback::state(model)
    }
}

/// `#[derive(EventSet)]`.
pub enum EventSet {}

impl Derive for EventSet {
    type Model<'a> = ast::EventSet<'a>;

    fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> ast::EventSet<'a> {
        ast::EventSet::from_syn(cx, input)
    }

    fn check(cx: &Ctxt, model: &ast::EventSet<'_>) {
        check::event_set(cx, model);
    }

    fn expand(model: &ast::EventSet<'_>) -> TokenStream {
        expand::event_set::expand(model)
    }

    fn fallback(model: &ast::EventSet<'_>) -> TokenStream {
        fallback::event_set(model)
    }
}

/// `#[derive(IntegrationEvent)]`.
pub enum IntegrationEvent {}

impl Derive for IntegrationEvent {
    type Model<'a> = ast::Integration<'a>;

    fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> ast::Integration<'a> {
        ast::Integration::from_syn(cx, input)
    }

    fn check(cx: &Ctxt, model: &ast::Integration<'_>) {
        check::integration(cx, model);
    }

    fn expand(model: &ast::Integration<'_>) -> TokenStream {
        expand::integration::expand_event(model)
    }

    fn fallback(model: &ast::Integration<'_>) -> TokenStream {
        fallback::integration(model)
    }
}

/// The three derives over a list of consumed events differ only in their attribute, their
/// derive's name and the impl they generate (the fallback is that impl with stub bodies).
macro_rules! consumer_derive {
    ($(#[$doc:meta])* $derive:ident, $attr:expr, $expand:path, $impl_with:path) => {
        $(#[$doc])*
        pub enum $derive {}

        impl Derive for $derive {
            type Model<'a> = ast::Consumer<'a>;

            fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> ast::Consumer<'a> {
                ast::Consumer::from_syn(cx, input, $attr, stringify!($derive))
            }

            fn check(cx: &Ctxt, model: &ast::Consumer<'_>) {
                check::consumer(cx, model);
            }

            fn expand(model: &ast::Consumer<'_>) -> TokenStream {
                $expand(model)
            }

            fn fallback(model: &ast::Consumer<'_>) -> TokenStream {
                fallback::consumer(model, $impl_with)
            }
        }
    };
}

consumer_derive!(
    /// `#[derive(Projection)]`.
    Projection,
    attr::PROJECTION,
    expand::projection::expand,
    expand::projection::impl_projection
);
consumer_derive!(
    /// `#[derive(Reactor)]`.
    Reactor,
    attr::REACTOR,
    expand::reactor::expand,
    expand::reactor::impl_reactor
);
consumer_derive!(
    /// `#[derive(Contract)]`.
    Contract,
    attr::CONTRACT,
    expand::integration::expand_contract,
    expand::integration::impl_contract
);

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn valid_input_expands_without_errors() {
        let out = run::<Aggregate>(&parse_quote! {
            #[aggregate(events(Opened), error = E)]
            struct Account;
        })
        .to_string();
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.contains("enum AccountEvent"), "{out}");
    }

    #[test]
    fn invalid_input_emits_every_error_and_stubs() {
        let out = run::<Aggregate>(&parse_quote! {
            #[aggregate(evnts(Opened), name = "A", name = "B")]
            struct Account;
        })
        .to_string();
        assert_eq!(out.matches("compile_error").count(), 4, "{out}");
        assert!(out.contains("unreachable"), "{out}");
    }

    #[test]
    fn a_state_expands_its_impl_and_a_tag_check_per_event() {
        let out = run::<State>(&parse_quote! {
            #[state(events(CourseCreated, StudentSubscribed), tag = course)]
            struct Course;
        })
        .to_string();
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.contains("const TAG : & 'static str = \"course\""), "{out}");
        assert_eq!(out.matches("has_tag").count(), 2, "{out}");
        assert!(out.contains("event `StudentSubscribed` has no field tagged `course`"), "{out}");
    }

    #[test]
    fn an_event_set_expands_the_codec_its_name_and_from_impls() {
        let out = run::<EventSet>(&parse_quote! {
            enum University { CourseCreated(CourseCreated), StudentSubscribed(StudentSubscribed) }
        })
        .to_string();
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.contains("const NAME : & 'static str = \"University\""), "{out}");
        assert_eq!(out.matches("From < CourseCreated >").count(), 1, "{out}");
        assert!(out.contains("EventEnum for University"), "{out}");
        assert!(out.contains("of event set `University` are both stored as"), "{out}");
    }

    #[test]
    fn an_invalid_event_set_on_a_struct_gets_no_stub() {
        let out = run::<EventSet>(&parse_quote!(
            struct University;
        ))
        .to_string();
        assert!(out.contains("goes on an enum"), "{out}");
        assert!(!out.contains("impl"), "{out}");
    }

    #[test]
    fn a_union_gets_its_error_and_no_stub() {
        let out = run::<Projection>(&parse_quote! {
            #[projection(events(Opened))]
            union Totals { a: u32 }
        })
        .to_string();
        assert!(out.contains("is not supported on a union"), "{out}");
        assert!(!out.contains("impl"), "{out}");
    }
}
