//! Collects every error of one derive so they are reported together, each at its own span.

use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::ToTokens;

/// The errors found so far while parsing and checking one derive input.
#[derive(Default)]
pub struct Ctxt {
    errors: Option<syn::Error>,
}

impl Ctxt {
    /// Records an error spanning `tokens`.
    pub fn error_spanned_by<T: ToTokens, M: Display>(&mut self, tokens: T, message: M) {
        self.syn_error(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// Records an error that syn produced.
    pub fn syn_error(&mut self, error: syn::Error) {
        match &mut self.errors {
            Some(errors) => errors.combine(error),
            None => self.errors = Some(error),
        }
    }

    /// Returns every recorded error as `compile_error!` invocations, or `None` when there were none.
    pub fn into_compile_errors(self) -> Option<TokenStream> {
        self.errors.map(|e| e.to_compile_error())
    }
}

/// Records the error of a fallible parse step and returns its value, if any.
pub fn record<T>(cx: &mut Ctxt, result: syn::Result<T>) -> Option<T> {
    result.map_err(|e| cx.syn_error(e)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    #[test]
    fn collects_all_errors() {
        let mut cx = Ctxt::default();
        assert!(Ctxt::default().into_compile_errors().is_none());
        cx.syn_error(syn::Error::new(Span::call_site(), "first"));
        cx.syn_error(syn::Error::new(Span::call_site(), "second"));
        let out = cx.into_compile_errors().expect("errors").to_string();
        assert!(out.contains("first") && out.contains("second"), "{out}");
    }
}
