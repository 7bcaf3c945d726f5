//! Decoding stored events: upcasting, and typed errors that say what and where.

use std::collections::HashMap;

use es_core::{
    Aggregate, Apply, CommandError, DecodeFailure, Event, EventStore, ExpectedVersion, Handle, MemoryStore,
    NewEvent, Repository, StoreError,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::bank::Account;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

async fn store_with(events: Vec<NewEvent>) -> Result<MemoryStore, StoreError> {
    let store = MemoryStore::new();
    let mut all = vec![NewEvent::new("AccountOpened", 1, json!({ "owner": "Ann" }))];
    all.extend(events);
    store.append("Account-ann", ExpectedVersion::NoStream, all).await?;
    Ok(store)
}

#[tokio::test]
async fn an_old_version_is_upcast_when_read() -> TestResult {
    let store = store_with(vec![NewEvent::new("MoneyDeposited", 1, json!({ "amount": 7 }))]).await?;
    let ann = Repository::<Account, _>::new(store).load("ann").await?;
    assert_eq!(ann.state.balance, 7);
    Ok(())
}

async fn decode_failure(
    event: NewEvent,
) -> Result<(String, DecodeFailure), Box<dyn std::error::Error + Send + Sync>> {
    let store = store_with(vec![event]).await?;
    match Repository::<Account, _>::new(store).load("ann").await {
        Err(StoreError::Decode(e)) => {
            assert_eq!((e.stream.as_str(), e.stream_version, e.position), ("Account-ann", 2, 2));
            Ok((e.to_string(), e.failure))
        }
        other => Err(format!("expected a decode error, got {other:?}").into()),
    }
}

#[tokio::test]
async fn an_unknown_event_name_is_a_typed_error() -> TestResult {
    let (message, failure) = decode_failure(NewEvent::new("AccountFrozen", 1, json!({}))).await?;
    assert!(matches!(failure, DecodeFailure::UnknownEvent));
    assert_eq!(
        message,
        "cannot decode event `AccountFrozen` (schema version 1) at `Account-ann` version 2, position 2: \
         no event type of this name is known"
    );
    Ok(())
}

#[tokio::test]
async fn a_newer_version_is_a_typed_error() -> TestResult {
    let (message, failure) = decode_failure(NewEvent::new("MoneyDeposited", 9, json!({}))).await?;
    assert!(matches!(failure, DecodeFailure::UnknownVersion { found: 9, current: 3 }), "{failure:?}");
    assert!(message.contains("`MoneyDeposited` (schema version 9)"), "{message}");
    Ok(())
}

#[tokio::test]
async fn a_payload_that_does_not_fit_is_a_typed_error() -> TestResult {
    let (message, failure) =
        decode_failure(NewEvent::new("MoneyDeposited", 3, json!({ "amount": "ten" }))).await?;
    assert!(matches!(failure, DecodeFailure::Payload(_)));
    assert!(message.contains("the payload does not fit"), "{message}");
    Ok(())
}

/// An event serde_json cannot write: a map whose keys are not strings.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Tallied {
    counts: HashMap<(u8, u8), u32>,
}

#[derive(Aggregate, Default)]
#[aggregate(events(Tallied), error = std::convert::Infallible)]
pub struct Tally;

impl Apply<Tallied> for Tally {
    fn apply(&mut self, _: &Tallied) {}
}

impl Handle<()> for Tally {
    fn handle(&self, _: &()) -> Result<Vec<TallyEvent>, Self::Error> {
        Ok(vec![Tallied { counts: HashMap::from([((1, 2), 3)]) }.into()])
    }
}

#[tokio::test]
async fn an_event_that_cannot_be_encoded_is_a_typed_error() -> TestResult {
    let tallies = Repository::<Tally, _>::new(MemoryStore::new());
    match tallies.execute("t", ()).await {
        Err(CommandError::Store(StoreError::Encode(e))) => assert_eq!(e.event_name, "Tallied"),
        other => panic!("expected an encode error, got {other:?}"),
    }
    Ok(())
}

/// Rows that do not decode are `StoreError::CorruptRow`, naming the position; a store that
/// cannot be opened is `StoreError::Unavailable`, naming where.
mod store_errors {
    use es_core::{EventStore, ExpectedVersion, NewEvent, StoreError};

    #[tokio::test]
    async fn a_corrupt_sqlite_row_is_a_typed_error() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.db");
        let store = es_sqlite::SqliteStore::open(&path).await?;
        store.append("s", ExpectedVersion::Any, vec![NewEvent::new("E", 1, serde_json::json!({}))]).await?;
        // Another program damages the file: a payload that is not JSON.
        let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await?;
        sqlx::query("UPDATE events SET payload = 'not json' WHERE position = 1").execute(&raw).await?;
        match store.read_stream("s", 1, 10).await {
            Err(StoreError::CorruptRow { backend: "sqlite", position: 1, reason }) => {
                assert!(reason.contains("payload"), "{reason}");
            }
            other => panic!("expected CorruptRow at position 1, got {other:?}"),
        }
        Ok(())
    }

    #[tokio::test]
    async fn an_unopenable_sqlite_file_is_unavailable() {
        match es_sqlite::SqliteStore::open("/nonexistent-dir/for/es/bank.db").await {
            Err(StoreError::Unavailable { backend: "sqlite", target, .. }) => {
                assert_eq!(target, "/nonexistent-dir/for/es/bank.db");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_unreachable_postgres_is_unavailable_without_the_password() {
        let options =
            es_postgres::PostgresOptions::new().connect_timeout(std::time::Duration::from_millis(300));
        match options.connect("postgres://ann:s3cret@127.0.0.1:1/nowhere").await {
            Err(e @ StoreError::Unavailable { backend: "postgres", .. }) => {
                let shown = e.to_string();
                assert!(shown.contains("postgres://ann:***@127.0.0.1:1/nowhere"), "{shown}");
                assert!(!shown.contains("s3cret"), "the password leaked: {shown}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
}
