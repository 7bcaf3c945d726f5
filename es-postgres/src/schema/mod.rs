//! The PostgreSQL schema: its name ([`SchemaName`]), versioned migrations applied under an
//! advisory lock so several processes starting at once migrate exactly once, and the check a
//! read-only opening makes instead.

mod migrations;
mod name;

use sqlx::PgConnection;

pub use name::{NameProblem, SchemaName, SchemaNameError};

use migrations::{CURRENT, MIGRATIONS};

/// An arbitrary constant naming the advisory lock migrations hold.
const MIGRATION_LOCK: i64 = 0x65_73_5f_6d_69_67; // "es_mig"

/// Creates the schema if needed and applies the migrations it lacks, in the transaction `conn`
/// is in.
pub(crate) async fn migrate(conn: &mut PgConnection, schema: &SchemaName) -> Result<(), SchemaError> {
    let s = schema.ident();
    // Migrations wait for each other (another process may be running a long one) and for the
    // tables they alter: no lock timeout here, whatever the store's sessions use.
    sqlx::query("SET LOCAL lock_timeout = 0").execute(&mut *conn).await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {s}")).execute(&mut *conn).await?;
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {s}.es_migrations (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now())"
    ))
    .execute(&mut *conn)
    .await?;
    let applied = applied_version(conn, schema).await?;
    if applied > CURRENT {
        return Err(SchemaError::Newer { schema: schema.to_string(), found: applied, current: CURRENT });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        sqlx::raw_sql(&schema.render(sql)).execute(&mut *conn).await?;
        sqlx::query(&format!("INSERT INTO {s}.es_migrations (version) VALUES ($1)"))
            .bind(index as i32 + 1)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Checks, changing nothing, that `schema` exists and is at this program's version: what a
/// read-only opening does instead of migrating.
pub(crate) async fn check(conn: &mut PgConnection, schema: &SchemaName) -> Result<(), SchemaError> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema.as_str())
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Err(SchemaError::Missing { schema: schema.to_string() });
    }
    let versioned: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'es_migrations')",
    )
    .bind(schema.as_str())
    .fetch_one(&mut *conn)
    .await?;
    let applied = if versioned { applied_version(conn, schema).await? } else { 0 };
    match applied {
        found if found > CURRENT => {
            Err(SchemaError::Newer { schema: schema.to_string(), found, current: CURRENT })
        }
        found if found < CURRENT => {
            Err(SchemaError::NeedsMigrating { schema: schema.to_string(), found, current: CURRENT })
        }
        _ => Ok(()),
    }
}

/// The last migration applied to `schema` (0 for none).
async fn applied_version(conn: &mut PgConnection, schema: &SchemaName) -> Result<usize, SchemaError> {
    let applied: Option<i32> =
        sqlx::query_scalar(&format!("SELECT max(version) FROM {}.es_migrations", schema.ident()))
            .fetch_one(&mut *conn)
            .await?;
    // A negative version is nobody's: treat it as none applied.
    Ok(usize::try_from(applied.unwrap_or(0)).unwrap_or(0))
}

/// Why a schema could not be opened: its name, its version, or PostgreSQL. Carried as the source
/// of the [`StoreError`](es_core::StoreError) that opening returns, for callers that match on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The name is not one the store accepts.
    #[error(transparent)]
    Name(#[from] SchemaNameError),
    /// Opened read-only, and the schema is not there (a read-only opening never creates it).
    #[error("schema `{schema}` does not exist (a read-only opening does not create it)")]
    Missing {
        /// The schema's name.
        schema: String,
    },
    /// Opened read-only, and the schema is at an older version than this program's.
    #[error("schema `{schema}` has version {found} and this program needs {current}: it needs migrating: run `es migrate` (a read-only opening never migrates)")]
    NeedsMigrating {
        /// The schema's name.
        schema: String,
        /// Its version.
        found: usize,
        /// This program's.
        current: usize,
    },
    /// A newer program migrated the schema.
    #[error("the schema has version {found}, newer than this program's {current}: upgrade the program (schema `{schema}`)")]
    Newer {
        /// The schema's name.
        schema: String,
        /// Its version.
        found: usize,
        /// This program's.
        current: usize,
    },
    /// PostgreSQL failed.
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

#[cfg(test)]
mod tests {
    use super::{migrations::MIGRATIONS, SchemaName};

    /// What the name check guarantees, the migrations rely on: rendered for any accepted name,
    /// the name appears only as `"name"` or `'"name"'`.
    #[test]
    fn migrations_hold_the_name_only_quoted() {
        let name = SchemaName::new("Zq_9").expect("a valid name");
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let rendered = name.render(sql);
            assert!(
                !rendered.contains('{') || !rendered.contains("{s}"),
                "migration {} left a placeholder",
                i + 1
            );
            let bare = rendered.replace("'\"Zq_9\"'", "").replace("\"Zq_9\"", "");
            assert!(!bare.contains("Zq_9"), "migration {} writes the name unquoted", i + 1);
            assert!(!rendered.contains("$q$"), "migration {} dollar-quotes the name", i + 1);
        }
    }
}
