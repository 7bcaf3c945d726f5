//! Schema names: which the store accepts, and the one place a name is written into SQL.
//!
//! Names may come from users (one schema per tenant, `es --schema`), and the migrations write
//! the name into function bodies, which are dollar-quoted strings. So a name is checked once,
//! when a [`SchemaName`] is made, against a set that cannot close a quote of any kind or
//! start a comment: ASCII letters, digits and underscores. Everything that writes a name into
//! SQL takes a `SchemaName` and goes through [`SchemaName::ident`] or
//! [`SchemaName::ident_literal`]; no other text of the user's is ever spliced.

use std::fmt;

/// The longest name PostgreSQL keeps intact (`NAMEDATALEN - 1`); longer ones are truncated.
const MAX_LEN: usize = 63;

/// A schema name the store accepts: 1 to 63 ASCII letters, digits and underscores, not starting
/// with a digit (`[A-Za-z_][A-Za-z0-9_]{0,62}`), and not starting with `pg_` (PostgreSQL keeps
/// those for itself). Case is kept: `Tenant_A` and `tenant_a` are two schemas.
///
/// ```
/// use es_postgres::SchemaName;
///
/// assert_eq!(SchemaName::new("tenant_42").map(|s| s.to_string()).as_deref(), Ok("tenant_42"));
/// assert!(SchemaName::new("tenant-42").is_err());
/// assert!(SchemaName::new("x$q$; DROP TABLE y").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SchemaName(String);

impl SchemaName {
    /// Checks `name`, saying what is wrong with it when it is refused.
    pub fn new(name: &str) -> Result<Self, SchemaNameError> {
        let refuse = |problem| Err(SchemaNameError { name: name.to_owned(), problem });
        let Some(first) = name.chars().next() else { return refuse(NameProblem::Empty) };
        if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
            return refuse(NameProblem::Character(c));
        }
        if first.is_ascii_digit() {
            return refuse(NameProblem::LeadingDigit);
        }
        if name.len() > MAX_LEN {
            return refuse(NameProblem::TooLong(name.len()));
        }
        if name.starts_with("pg_") {
            return refuse(NameProblem::Reserved);
        }
        Ok(SchemaName(name.to_owned()))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as an SQL identifier, `"name"`. Quoted so that case is kept and a keyword
    /// (`user`, `select`) is a name like any other.
    pub(crate) fn ident(&self) -> String {
        // The name holds no `"` (checked in `new`), so there is nothing to double.
        format!("\"{}\"", self.0)
    }

    /// [`ident`](Self::ident) as an SQL string literal, `'"name"'`: the key of the appends'
    /// advisory locks, which every version of `es_append` must compute alike.
    pub(crate) fn ident_literal(&self) -> String {
        // Neither `'` nor `\` can occur (checked in `new`).
        format!("'{}'", self.ident())
    }

    /// `sql` with `{s}` replaced by [`ident`](Self::ident) and `{lit}` by
    /// [`ident_literal`](Self::ident_literal): how the migrations are written for a schema.
    pub(crate) fn render(&self, sql: &str) -> String {
        sql.replace("{lit}", &self.ident_literal()).replace("{s}", &self.ident())
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for SchemaName {
    type Err = SchemaNameError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        SchemaName::new(name)
    }
}

/// A schema name the store refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid schema name {name:?}: {problem}; a schema name is 1 to 63 ASCII letters, digits and underscores, not starting with a digit or `pg_`")]
pub struct SchemaNameError {
    /// The name refused.
    pub name: String,
    /// What is wrong with it.
    pub problem: NameProblem,
}

/// What is wrong with a refused schema name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameProblem {
    /// The name is empty.
    #[error("it is empty")]
    Empty,
    /// The name is longer than PostgreSQL keeps (in bytes).
    #[error("it is {0} bytes long, more than 63")]
    TooLong(usize),
    /// The name starts with a digit.
    #[error("it starts with a digit")]
    LeadingDigit,
    /// The name holds a character outside `[A-Za-z0-9_]`.
    #[error("it contains {0:?}")]
    Character(char),
    /// The name starts with `pg_`, which PostgreSQL keeps for its own schemas.
    #[error("the prefix `pg_` is reserved for PostgreSQL's own schemas")]
    Reserved,
}

#[cfg(test)]
mod tests {
    use super::{NameProblem, SchemaName};

    fn problem(name: &str) -> Option<NameProblem> {
        SchemaName::new(name).err().map(|e| e.problem)
    }

    #[test]
    fn accepts_letters_digits_and_underscores() {
        for name in ["public", "tenant_42", "_", "Tenant_A", "select", &"x".repeat(63)] {
            assert_eq!(SchemaName::new(name).map(|s| s.to_string()).as_deref(), Ok(name));
        }
    }

    #[test]
    fn refuses_everything_else() {
        assert_eq!(problem(""), Some(NameProblem::Empty));
        assert_eq!(problem(&"x".repeat(64)), Some(NameProblem::TooLong(64)));
        assert_eq!(problem("1tenant"), Some(NameProblem::LeadingDigit));
        assert_eq!(problem("a$q$b"), Some(NameProblem::Character('$')));
        assert_eq!(problem("we\"ird"), Some(NameProblem::Character('"')));
        assert_eq!(problem("it's"), Some(NameProblem::Character('\'')));
        assert_eq!(problem("two words"), Some(NameProblem::Character(' ')));
        assert_eq!(problem("tenant-a"), Some(NameProblem::Character('-')));
        assert_eq!(problem("café"), Some(NameProblem::Character('é')));
        assert_eq!(problem("a\0b"), Some(NameProblem::Character('\0')));
        assert_eq!(problem("pg_tenant"), Some(NameProblem::Reserved));
    }

    #[test]
    fn writes_the_name_quoted() {
        let name = SchemaName::new("Tenant_A").expect("a valid name");
        assert_eq!(name.ident(), "\"Tenant_A\"");
        assert_eq!(name.ident_literal(), "'\"Tenant_A\"'");
        assert_eq!(
            name.render("SELECT hashtext({lit}) FROM {s}.t"),
            "SELECT hashtext('\"Tenant_A\"') FROM \"Tenant_A\".t"
        );
    }

    #[test]
    fn the_error_names_the_rule() {
        let error = SchemaName::new("x$q$y").expect_err("refused");
        let text = error.to_string();
        assert!(text.contains("\"x$q$y\"") && text.contains("'$'") && text.contains("1 to 63"), "{text}");
    }
}
