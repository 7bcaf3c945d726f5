//! Testing support for the es event-sourcing framework.
//!
//! - [`conformance`]: the checks every `EventStore` must pass, and
//!   [`store_conformance!`] to run them all for a store in one line.

pub mod conformance;

#[doc(hidden)]
pub mod __private {
    pub use tokio;
}
