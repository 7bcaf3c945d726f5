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

/// POSTs `body` as it is (not necessarily JSON) with an optional `Idempotency-Key`; the status
/// and the body as JSON (`null` when it is not JSON).
async fn post_raw(base: &str, path: &str, body: &str, key: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    let res = req.send().await.unwrap_or_else(|e| panic!("POST {path:?} answered: {e}"));
    let status = res.status().as_u16();
    let text = res.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// GETs `path`: the status and the body as JSON (`null` when it is not JSON).
async fn get(base: &str, path: &str) -> (u16, Value) {
    let res =
        reqwest::get(format!("{base}{path}")).await.unwrap_or_else(|e| panic!("GET {path:?} answered: {e}"));
    let status = res.status().as_u16();
    let text = res.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_else(|| panic!("a JSON error body, got {body}"))
}

/// Waits until the read model shows `expected`.
async fn balances_become(base: &str, expected: Value) {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = get(base, "/balances").await.1;
        if last == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the read model shows {last}, not {expected}");
}

/// Two deposits of `u64::MAX`: the second is refused (422), the account still loads, and the
/// read model, whose sum over one owner's accounts would overflow, keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_balance_never_overflows() {
    let (base, _dir) = serve().await;
    let max = u64::MAX;
    assert_eq!(post_raw(&base, "/accounts/ann/open", r#"{"owner":"Ann"}"#, None).await.0, 200);
    let deposit = format!(r#"{{"amount":{max}}}"#);
    assert_eq!(post_raw(&base, "/accounts/ann/deposits", &deposit, None).await.0, 200);
    let (status, body) = post_raw(&base, "/accounts/ann/deposits", &deposit, None).await;
    assert_eq!(status, 422, "{body}");
    assert!(error_of(&body).contains("past the largest"), "{body}");
    assert_eq!(post_raw(&base, "/accounts/ann/deposits", r#"{"amount":1}"#, None).await.0, 422);
    let (status, account) = get(&base, "/accounts/ann").await;
    assert_eq!((status, account["balance"].as_u64(), account["version"].as_u64()), (200, Some(max), Some(2)));

    // A second account of Ann's: each balance fits, their sum does not.
    assert_eq!(post_raw(&base, "/accounts/ann-2/open", r#"{"owner":"Ann"}"#, None).await.0, 200);
    assert_eq!(post_raw(&base, "/accounts/ann-2/deposits", &deposit, None).await.0, 200);
    assert_eq!(post_raw(&base, "/accounts/bob/open", r#"{"owner":"Bob"}"#, None).await.0, 200);
    assert_eq!(post_raw(&base, "/accounts/bob/deposits", r#"{"amount":5}"#, None).await.0, 200);
    balances_become(&base, json!({ "Ann": max, "Bob": 5 })).await;
}

/// An `Idempotency-Key` names one request (method, route with the account, body): the same
/// request again answers as the first did and records nothing; any other request with the key
/// is refused with 422 and records nothing either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_names_one_request() {
    let (base, _dir) = serve().await;
    for who in ["ann", "bob"] {
        assert_eq!(post_raw(&base, &format!("/accounts/{who}/open"), r#"{"owner":"X"}"#, None).await.0, 200);
    }
    let key = Some("key-1");
    let (status, first) = post_raw(&base, "/accounts/ann/deposits", r#"{"amount":5}"#, key).await;
    assert_eq!(status, 200, "{first}");
    // The same request again, spaced differently: the same events, the same status.
    let (status, again) = post_raw(&base, "/accounts/ann/deposits", r#"{ "amount" : 5 }"#, key).await;
    assert_eq!((status, &again), (200, &first), "the first result again");

    let reused = [
        ("/accounts/ann/deposits", r#"{"amount":6}"#),    // another body
        ("/accounts/bob/deposits", r#"{"amount":5}"#),    // another account
        ("/accounts/ann/withdrawals", r#"{"amount":5}"#), // another command
    ];
    for (path, body) in reused {
        let (status, answer) = post_raw(&base, path, body, key).await;
        assert_eq!(status, 422, "{path} {body}: {answer}");
        assert_eq!(error_of(&answer), "Idempotency-Key reused for a different request");
    }
    let (_, ann) = get(&base, "/accounts/ann").await;
    assert_eq!((ann["balance"].as_u64(), ann["version"].as_u64()), (Some(5), Some(2)), "one deposit: {ann}");
    let (_, bob) = get(&base, "/accounts/bob").await;
    assert_eq!((bob["balance"].as_u64(), bob["version"].as_u64()), (Some(0), Some(1)), "nothing: {bob}");

    // A key that is no header a client should send.
    let long = "k".repeat(256);
    let (status, answer) = post_raw(&base, "/accounts/ann/deposits", r#"{"amount":5}"#, Some(&long)).await;
    assert_eq!(status, 400, "{answer}");
    assert!(error_of(&answer).contains("Idempotency-Key"));
}

/// Whatever comes in, the answer is a clean 4xx with a JSON error, and the service keeps
/// serving. Ids with line breaks, spaces, slashes or invisible
/// characters are refused (400): an id becomes a stream name that relays put in message
/// headers. Letters of any script are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_input_makes_a_panic() {
    let (base, _dir) = serve().await;
    let open = r#"{"owner":"Ann"}"#;
    let long_id = "a".repeat(65);
    let long_owner = format!(r#"{{"owner":"{}"}}"#, "o".repeat(201));
    let cases: Vec<(String, &str, u16)> = vec![
        ("/accounts/a%0Ab/open".into(), open, 400),
        ("/accounts/a%0Db/open".into(), open, 400),
        ("/accounts/a%20b/open".into(), open, 400),
        ("/accounts/a%2Fb/open".into(), open, 400),
        ("/accounts/a%E2%80%AEb/open".into(), open, 400), // right-to-left override
        ("/accounts/%FF/open".into(), open, 400),         // not UTF-8
        (format!("/accounts/{long_id}/open"), open, 400),
        ("/accounts//open".into(), open, 400), // empty
        ("/accounts/ann/open".into(), "not json", 400),
        ("/accounts/ann/open".into(), "", 400),
        ("/accounts/ann/open".into(), "[]", 400),
        ("/accounts/ann/open".into(), r#"{"owner":""}"#, 400),
        ("/accounts/ann/open".into(), &long_owner, 400),
        ("/accounts/ann/open".into(), open, 200),
        ("/accounts/ann/deposits".into(), r#"{"amount":18446744073709551616}"#, 400),
        ("/accounts/ann/deposits".into(), r#"{"amount":-1}"#, 400),
        ("/accounts/ann/deposits".into(), r#"{"amount":1.5}"#, 400),
        ("/accounts/ann/deposits".into(), r#"{"amount":"1"}"#, 400),
        ("/accounts/ann/deposits".into(), "{}", 400),
        ("/accounts/ann/deposits".into(), r#"{"amount":0}"#, 422),
        ("/accounts/ann/withdrawals".into(), r#"{"amount":1}"#, 422),
        ("/accounts/zo%C3%AB/open".into(), r#"{"owner":"Zoë\n"}"#, 200),
    ];
    for (path, body, expected) in &cases {
        let (status, answer) = post_raw(&base, path, body, None).await;
        assert_eq!(status, *expected, "POST {path} {body:?}: {answer}");
        if *expected != 200 {
            assert!(!error_of(&answer).is_empty(), "POST {path}: {answer}");
        }
    }
    let (status, answer) = get(&base, "/accounts/a%0Ab").await;
    assert_eq!(status, 400, "{answer}");
    let (status, zoe) = get(&base, "/accounts/zo%C3%AB").await;
    assert_eq!((status, zoe["id"].as_str()), (200, Some("zoë")), "{zoe}");
    balances_become(&base, json!({ "Ann": 0, "Zoë\n": 0 })).await;
}
