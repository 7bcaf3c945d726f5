//! The bank as an HTTP service (axum), on a SQLite file.
//!
//! ```text
//! cargo run --example service                    # http://127.0.0.1:3000, store service.db
//! cargo run --example service -- 127.0.0.1:8080 other.db
//!
//! curl -X POST localhost:3000/accounts/ann/open -H 'content-type: application/json' -d '{"owner":"Ann"}'
//! curl -X POST localhost:3000/accounts/ann/deposits -H 'content-type: application/json' \
//!      -H 'Idempotency-Key: 4c1f...' -d '{"amount":100}'     # the same key again records nothing; with another body: 422
//! curl localhost:3000/accounts/ann                 # the aggregate
//! curl localhost:3000/balances                     # the read model
//! curl -N localhost:3000/events                    # live feed (server-sent events)
//! ```

mod app;
#[path = "../bank/domain.rs"]
#[allow(dead_code)]
mod domain;
#[path = "../bank/read_model.rs"]
mod read_model;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let path = args.next().unwrap_or_else(|| "service.db".to_owned());
    let store = es_sqlite::SqliteStore::open(&path).await?;
    let bank = app::Bank::start(store).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("the bank listens on http://{addr} (store: SQLite file {path}); Ctrl-C stops it");
    axum::serve(listener, app::router(bank))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
