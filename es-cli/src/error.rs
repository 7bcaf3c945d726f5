//! Errors a person reads: one line that says what went wrong and how to fix it.

use es_core::StoreError;

/// A failed command, as one line for the terminal.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(String);

impl CliError {
    /// An error that says `why` (newlines become spaces: one line; other control characters,
    /// from stored names quoted in it, escaped).
    pub fn new(why: impl Into<String>) -> Self {
        let line = why.into().split_whitespace().collect::<Vec<_>>().join(" ");
        CliError(crate::escape::escape(&line).into_owned())
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::new(e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::new(format!("writing the output: {e}"))
    }
}

impl From<crate::any::OpenError> for CliError {
    fn from(e: crate::any::OpenError) -> Self {
        CliError::new(e.to_string())
    }
}
