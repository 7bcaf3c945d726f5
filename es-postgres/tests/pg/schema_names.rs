//! Schema names come from users (a tenant per schema, `es --schema`): a name that could reach
//! SQL as anything but a name is refused before anything is sent; an odd but legal one works.

use std::error::Error;

use es_core::{EventStore, ExpectedVersion, NewEvent};
use es_postgres::{NameProblem, PostgresOptions, SchemaError};

use crate::url;

/// Whether a schema of exactly this name exists on the server.
async fn exists(pool: &sqlx::PgPool, name: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(name)
        .fetch_one(pool)
        .await
        .expect("query pg_namespace")
}

#[tokio::test]
async fn names_that_could_reach_sql_are_refused() {
    let probe = crate::fresh_store().await;
    let cases = [
        ("es_t$q$, 1); DROP SCHEMA public CASCADE; --", NameProblem::Character('$')),
        ("es_t$fn$", NameProblem::Character('$')),
        ("es_t\"; DROP TABLE x; --", NameProblem::Character('"')),
        ("es_t'x", NameProblem::Character('\'')),
        ("es t", NameProblem::Character(' ')),
        ("es-t", NameProblem::Character('-')),
        ("", NameProblem::Empty),
        ("1es_t", NameProblem::LeadingDigit),
        (&"e".repeat(64), NameProblem::TooLong(64)),
        ("pg_es_t", NameProblem::Reserved),
    ];
    for (name, problem) in cases {
        for read_only in [false, true] {
            let options = PostgresOptions::new().schema(name);
            let options = if read_only { options.read_only() } else { options };
            let error = options.connect(&url()).await.expect_err(name);
            let text = error.to_string();
            assert!(text.contains("invalid schema name"), "{name:?}: {text}");
            let source = error.source().and_then(|s| s.downcast_ref::<SchemaError>());
            match source {
                Some(SchemaError::Name(refused)) => {
                    assert_eq!(refused.problem, problem, "{name:?}");
                    assert_eq!(refused.name, name);
                }
                other => panic!("{name:?}: not a schema name error: {other:?}"),
            }
        }
        assert!(!exists(probe.pool(), name).await, "{name:?} was not created");
    }
    // A store on a user's pool checks the name too.
    let error =
        PostgresOptions::new().schema("x$q$").from_pool(probe.pool().clone()).await.expect_err("refused");
    assert!(error.to_string().contains("invalid schema name"), "{error}");
    crate::drop_store(probe).await;
}

#[tokio::test]
async fn an_odd_but_legal_name_works() {
    // Mixed case, a leading underscore, digits, a keyword inside: kept exactly, as one schema.
    let name = format!("_Select_{}", es_core::Uuid::new_v4().simple());
    let store = PostgresOptions::new().schema(&name).connect(&url()).await.expect("a legal name opens");
    assert_eq!(store.schema_name(), name);
    assert_eq!(store.schema(), format!("\"{name}\""));
    assert!(exists(store.pool(), &name).await, "created with its case kept");
    assert!(!exists(store.pool(), &name.to_lowercase()).await, "not folded to lower case");
    let event = NewEvent::new("Opened", 1, serde_json::json!({ "owner": "ann" }));
    store.append("Odd-1", ExpectedVersion::NoStream, vec![event]).await.expect("append");
    let again = crate::reopen(store).await;
    assert_eq!(again.read_stream("Odd-1", 1, 10).await.expect("read").len(), 1);
    crate::drop_store(again).await;
}
