//! Code generation from the model in [`crate::ast`], one module per derive. Generation never
//! reads raw attributes.

pub(crate) mod aggregate;
pub(crate) mod event;
pub(crate) mod event_enum;
pub(crate) mod event_set;
pub(crate) mod integration;
pub(crate) mod projection;
pub(crate) mod reactor;
pub(crate) mod state;
