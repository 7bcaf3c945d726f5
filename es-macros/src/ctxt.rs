//! Collects every error of one derive so they are reported together, each at its own span
//! (serde_derive's `internals/ctxt.rs`).

use std::cell::RefCell;
use std::fmt::Display;
use std::thread;

use quote::ToTokens;

/// The errors found so far while parsing and checking one derive input.
///
/// Shared by reference so that `parse_nested_meta` closures can record into it while the caller
/// records too. It must be consumed by [`Ctxt::check`]: dropping it unchecked would silently lose
/// the user's errors, so that panics (a bug in this crate, never in the user's input).
pub struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
    checked: bool,
}

impl Ctxt {
    /// An empty context, to be consumed by [`Ctxt::check`].
    pub fn new() -> Self {
        Ctxt { errors: RefCell::new(Vec::new()), checked: false }
    }

    /// Records an error spanning `tokens`.
    pub fn error_spanned_by<T: ToTokens, M: Display>(&self, tokens: T, message: M) {
        self.syn_error(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// Records an error that syn produced.
    pub fn syn_error(&self, error: syn::Error) {
        self.errors.borrow_mut().push(error);
    }

    /// Consumes the context: `Ok` when nothing was recorded, else every error combined into one
    /// (emitted as one `compile_error!` per error, each at its span, in the order recorded).
    pub fn check(mut self) -> syn::Result<()> {
        self.checked = true;
        let mut errors = self.errors.take().into_iter();
        let Some(mut combined) = errors.next() else { return Ok(()) };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        // Not while unwinding: a second panic would abort and hide the first one.
        if !self.checked && !thread::panicking() {
            panic!("es-macros bug: a Ctxt was dropped without Ctxt::check, losing its errors");
        }
    }
}

/// Records the error of a fallible parse step and returns its value, if any.
pub fn record<T>(cx: &Ctxt, result: syn::Result<T>) -> Option<T> {
    result.map_err(|e| cx.syn_error(e)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    #[test]
    fn an_unused_context_checks_ok() {
        assert!(Ctxt::new().check().is_ok());
    }

    #[test]
    fn collects_several_errors_in_order() {
        let cx = Ctxt::new();
        cx.syn_error(syn::Error::new(Span::call_site(), "first"));
        cx.error_spanned_by(quote::quote!(Account), "second");
        let failed = record::<()>(&cx, Err(syn::Error::new(Span::call_site(), "third")));
        assert!(failed.is_none());
        assert_eq!(record(&cx, Ok(7)), Some(7));
        let error = cx.check().expect_err("three errors were recorded");
        let messages: Vec<String> = error.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages, ["first", "second", "third"]);
    }

    #[test]
    fn combined_error_emits_one_compile_error_each() {
        let cx = Ctxt::new();
        cx.syn_error(syn::Error::new(Span::call_site(), "first"));
        cx.syn_error(syn::Error::new(Span::call_site(), "second"));
        let out = cx.check().expect_err("two errors").to_compile_error().to_string();
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
    }

    #[test]
    #[should_panic(expected = "dropped without Ctxt::check")]
    fn dropping_an_unchecked_context_panics() {
        let cx = Ctxt::new();
        cx.error_spanned_by(quote::quote!(Account), "lost");
        drop(cx);
    }

    #[test]
    #[should_panic(expected = "dropped without Ctxt::check")]
    fn dropping_an_unchecked_context_panics_even_without_errors() {
        drop(Ctxt::new());
    }
}
