//! The service example driven over real HTTP on a loopback port: commands (one repeated with
//! the same `Idempotency-Key`), a refused command, the aggregate, the read model, and an event
//! seen on the live feed.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};

#[path = "../../examples/service/app.rs"]
mod app;

async fn serve() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = es_sqlite::SqliteStore::open(dir.path().join("service.db")).await.expect("open");
    let bank = app::Bank::start(store).await.expect("start");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app::router(bank)).await });
    (format!("http://{addr}"), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bank_over_http() {
    let (base, _dir) = serve().await;
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value, key: Option<&str>| {
        let mut req = http.post(format!("{base}{path}")).json(&body);
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        req.send()
    };

    let opened = post("/accounts/ann/open", json!({ "owner": "Ann" }), None).await.expect("open");
    assert_eq!(opened.status(), 200);
    let again = post("/accounts/ann/open", json!({ "owner": "Ann" }), None).await.expect("open again");
    assert_eq!(again.status(), 422, "a refused command");
    assert!(again.json::<Value>().await.expect("json")["error"]
        .as_str()
        .expect("error")
        .contains("already open"));

    // The live feed, opened before the deposit it must show.
    let feed = http.get(format!("{base}/events")).send().await.expect("feed");
    assert_eq!(feed.headers()["content-type"], "text/event-stream");
    let mut chunks = feed.bytes_stream();

    let first: Value = post("/accounts/ann/deposits", json!({ "amount": 70 }), Some("deposit-1"))
        .await
        .expect("deposit")
        .json()
        .await
        .expect("json");
    let repeat: Value = post("/accounts/ann/deposits", json!({ "amount": 70 }), Some("deposit-1"))
        .await
        .expect("retry")
        .json()
        .await
        .expect("json");
    assert_eq!(
        first["recorded"][0]["id"], repeat["recorded"][0]["id"],
        "the same key answers with the same event"
    );
    post("/accounts/ann/withdrawals", json!({ "amount": 20 }), None).await.expect("withdraw");

    let account: Value =
        http.get(format!("{base}/accounts/ann")).send().await.expect("get").json().await.expect("json");
    assert_eq!(
        (account["balance"].as_u64(), account["version"].as_u64()),
        (Some(50), Some(3)),
        "the retry recorded nothing"
    );
    assert_eq!(http.get(format!("{base}/accounts/nobody")).send().await.expect("get").status(), 404);

    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !seen.contains("event: MoneyDeposited") {
        let chunk =
            tokio::time::timeout_at(deadline, chunks.next()).await.expect("an event on the feed in time");
        seen.push_str(&String::from_utf8_lossy(&chunk.expect("open").expect("bytes")));
    }
    assert!(seen.contains(r#""amount":70"#) && seen.contains("Account-ann"), "{seen}");

    // The read model catches up in the background.
    for _ in 0..200 {
        let balances: Value =
            http.get(format!("{base}/balances")).send().await.expect("get").json().await.expect("json");
        if balances == json!({ "Ann": 50 }) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the read model did not show Ann's balance");
}
