//! A PostgreSQL role of a test's own, with session defaults an operator might set, dropped after.

use sqlx::{Connection, Executor, PgConnection};

use crate::url;

/// A login role with a unique name, allowed to create schemas in the test database.
pub struct Role {
    pub name: String,
    /// A password too, for servers that do not trust local connections.
    password: String,
    admin: PgConnection,
}

impl Role {
    /// Creates the role; `defaults` are `(setting, value)` pairs set with `ALTER ROLE .. SET`.
    pub async fn create(defaults: &[(&str, &str)]) -> Role {
        let name = format!("es_role_{}", es_core::Uuid::new_v4().simple());
        let password = es_core::Uuid::new_v4().simple().to_string();
        let mut admin = PgConnection::connect(&url()).await.expect("connect as the tests' user");
        admin
            .execute(format!("CREATE ROLE {name} LOGIN PASSWORD '{password}'").as_str())
            .await
            .expect("create the role");
        for (setting, value) in defaults {
            let sql = format!("ALTER ROLE {name} SET {setting} = '{value}'");
            admin.execute(sql.as_str()).await.expect("set the role's default");
        }
        let database: String =
            sqlx::query_scalar("SELECT current_database()").fetch_one(&mut admin).await.expect("database");
        let grant = format!("GRANT CREATE ON DATABASE \"{database}\" TO {name}");
        admin.execute(grant.as_str()).await.expect("let the role create schemas");
        Role { name, password, admin }
    }

    /// The tests' server URL, logging in as this role.
    pub fn url(&self) -> String {
        let url = url();
        let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
        let host = rest.rfind('@').map_or(rest, |at| &rest[at + 1..]);
        format!("{scheme}://{}:{}@{host}", self.name, self.password)
    }

    /// Drops what the role owns, then the role.
    pub async fn drop(mut self) {
        for sql in [format!("DROP OWNED BY {}", self.name), format!("DROP ROLE {}", self.name)] {
            self.admin.execute(sql.as_str()).await.expect("drop the role");
        }
    }
}
