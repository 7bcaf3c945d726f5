//! Crypto-shredding over stored history: forgetting a subject ([`forget`], which deletes its
//! key so that its sealed values read as erased, and reports what stays readable), and finding
//! and sealing personal data stored in plain text before its field was marked personal
//! ([`plaintext_of`], [`seal_plaintext`], by a [`PersonalCatalogue`]).
//!
//! The keys and sealed values themselves are [`crate::personal`]'s; this wing uses them with the
//! event model (which event types hold personal fields) and the hash chain (a sanctioned
//! rewrite is recorded, see [`crate::integrity::Rewrite`]).

mod forget;
mod reseal;

pub use forget::{forget, Forgotten};
pub use reseal::{
    plaintext_of, seal_plaintext, PersonalCatalogue, PlaintextAt, ResealProgress, ResealReport, SkipReason,
    Skipped,
};
