//! The pipeline of each derive: parse the input into a model (collecting every error), check
//! the rules that span several items, then expand the model, or emit the errors with stub impls.

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::ast;
use crate::attr;
use crate::check;
use crate::ctxt::Ctxt;
use crate::expand::{aggregate, event, integration, projection, reactor};
use crate::fallback;
use crate::personal;

/// Expands `#[derive(Event)]`.
pub fn event(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let model = ast::Event::from_syn(&mut cx, input);
    let personal = personal::Personal::from_syn(&mut cx, input);
    check::event(&mut cx, &model);
    personal::check(&mut cx, &personal);
    personal::check_renamed_from(&mut cx, &personal);
    match cx.into_compile_errors() {
        None => event::expand(&model, &personal),
        Some(errors) => {
            let stub = fallback::event(input);
            quote::quote!(#errors #stub)
        }
    }
}

/// Expands `#[derive(Projection)]`.
pub fn projection(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let model = ast::Consumer::from_syn(&mut cx, input, attr::PROJECTION, "Projection");
    check::consumer(&mut cx, &model);
    match cx.into_compile_errors() {
        None => projection::expand(&model),
        Some(errors) => {
            let stub = fallback::projection(&model);
            quote::quote!(#errors #stub)
        }
    }
}

/// Expands `#[derive(Reactor)]`.
pub fn reactor(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let model = ast::Consumer::from_syn(&mut cx, input, attr::REACTOR, "Reactor");
    check::consumer(&mut cx, &model);
    match cx.into_compile_errors() {
        None => reactor::expand(&model),
        Some(errors) => {
            let stub = fallback::reactor(&model);
            quote::quote!(#errors #stub)
        }
    }
}

/// Expands `#[derive(Aggregate)]`.
pub fn aggregate(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let model = ast::Aggregate::from_syn(&mut cx, input);
    check::aggregate(&mut cx, &model);
    match cx.into_compile_errors() {
        None => aggregate::expand(&model),
        Some(errors) => {
            let stub = fallback::aggregate(&model);
            quote::quote!(#errors #stub)
        }
    }
}

/// Expands `#[derive(IntegrationEvent)]`.
pub fn integration_event(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let model = ast::Integration::from_syn(&mut cx, input);
    check::integration(&mut cx, &model);
    match cx.into_compile_errors() {
        None => integration::expand_event(&model),
        Some(errors) => {
            let stub = fallback::integration(input);
            quote::quote!(#errors #stub)
        }
    }
}

/// Expands `#[derive(Contract)]`.
pub fn contract(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let model = ast::Consumer::from_syn(&mut cx, input, attr::CONTRACT, "Contract");
    check::consumer(&mut cx, &model);
    match cx.into_compile_errors() {
        None => integration::expand_contract(&model),
        Some(errors) => {
            let stub = fallback::contract(&model);
            quote::quote!(#errors #stub)
        }
    }
}
