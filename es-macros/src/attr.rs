//! Parsing of `#[event(..)]` and `#[aggregate(..)]` attributes into plain values.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::{LitInt, LitStr, Token};

use crate::ctxt::Ctxt;

/// The name of an attribute key, comparable with a `syn::Path`.
#[derive(Copy, Clone)]
pub struct Symbol(pub &'static str);

pub const EVENT: Symbol = Symbol("event");
pub const AGGREGATE: Symbol = Symbol("aggregate");
pub const PROJECTION: Symbol = Symbol("projection");
pub const REACTOR: Symbol = Symbol("reactor");
pub const CONTRACT: Symbol = Symbol("contract");
pub const INTEGRATION: Symbol = Symbol("integration");
pub const STATE: Symbol = Symbol("state");
pub const EVENT_SET: Symbol = Symbol("event_set");
pub const TAG: Symbol = Symbol("tag");
pub const NAME: Symbol = Symbol("name");
pub const VERSION: Symbol = Symbol("version");
pub const UPCAST_FROM: Symbol = Symbol("upcast_from");
pub const RENAMED_FROM: Symbol = Symbol("renamed_from");
pub const EVENTS: Symbol = Symbol("events");
pub const ERROR: Symbol = Symbol("error");
pub const EVENT_ENUM: Symbol = Symbol("event_enum");
pub const SNAPSHOT_VERSION: Symbol = Symbol("snapshot_version");

impl PartialEq<Symbol> for syn::Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl std::fmt::Display for Symbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A value that may be given at most once; a second occurrence is an error at its own token.
pub struct Attr<T> {
    attr: &'static str,
    key: Symbol,
    value: Option<T>,
}

impl<T> Attr<T> {
    pub fn none(attr: &'static str, key: Symbol) -> Self {
        Attr { attr, key, value: None }
    }

    pub fn set<S: ToTokens>(&mut self, cx: &Ctxt, spanned: S, value: T) {
        if self.value.is_some() {
            cx.error_spanned_by(
                spanned,
                format_args!("duplicate #[{}({} = ...)] attribute", self.attr, self.key),
            );
        } else {
            self.value = Some(value);
        }
    }

    pub fn get(self) -> Option<T> {
        self.value
    }
}

/// A version number with the literal it came from, for spans.
#[derive(Clone)]
pub struct Version {
    pub value: u32,
    pub lit: LitInt,
}

/// The expression inside the invisible groups that `macro_rules!` puts around a `$x:literal`
/// or `$x:expr` it passes on.
fn ungroup(expr: syn::Expr) -> syn::Expr {
    match expr {
        syn::Expr::Group(group) => ungroup(*group.expr),
        other => other,
    }
}

/// Parses `= "text"` for a key of `#[attr(..)]`.
pub fn parse_lit_str(meta: &ParseNestedMeta, attr: &str) -> syn::Result<LitStr> {
    let expr: syn::Expr = meta.value()?.parse()?;
    match ungroup(expr) {
        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Ok(s),
        other => Err(syn::Error::new_spanned(
            other,
            format_args!(
                "expected a string literal, as in #[{attr}({} = \"...\")]",
                meta.path.to_token_stream()
            ),
        )),
    }
}

/// Parses `= N` where N is a schema version: an integer from 1 to u32::MAX.
pub fn parse_version(meta: &ParseNestedMeta, attr: &str) -> syn::Result<Version> {
    let expr: syn::Expr = meta.value()?.parse()?;
    let lit = match ungroup(expr) {
        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(lit), .. }) => lit,
        other => {
            return Err(syn::Error::new_spanned(
                other,
                format_args!("expected an integer, as in #[{attr}(version = 2)]"),
            ))
        }
    };
    match lit.base10_parse::<u32>() {
        Ok(0) => Err(syn::Error::new_spanned(
            &lit,
            format_args!(
                "versions start at 1: write #[{attr}({} = 1)] or leave it out",
                meta.path.to_token_stream()
            ),
        )),
        Ok(value) => Ok(Version { value, lit }),
        Err(_) => Err(syn::Error::new_spanned(
            &lit,
            format_args!("a schema version is an unsuffixed integer from 1 to {}", u32::MAX),
        )),
    }
}

/// Parses `(A, b::B, ..)`: a parenthesized list of paths.
pub fn parse_path_list(meta: &ParseNestedMeta) -> syn::Result<Punctuated<syn::Path, Token![,]>> {
    let content;
    syn::parenthesized!(content in meta.input);
    Punctuated::parse_terminated(&content)
}

/// Skips the value of an unknown key (`= expr` or `(..)`), so that parsing can go on past it and
/// report every mistake in one go.
pub fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        let _: TokenStream = content.parse()?;
    }
    Ok(())
}
