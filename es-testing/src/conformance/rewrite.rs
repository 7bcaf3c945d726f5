//! Sanctioned rewrites: a store replaces payloads, re-chains the stream and records the rewrite
//! in one transaction, so the stream verifies clean, with its rewrites counted.

use es_core::integrity::{
    recorded_rewrites, verify_all, verify_stream, ChainHash, PayloadEdit, Rewrite, RewriteError,
    REWRITES_STREAM,
};
use es_core::{ExpectedVersion, StoreError};

use super::batch;

fn edit(version: u64, text: &str, expected_hash: Option<ChainHash>) -> PayloadEdit {
    let payload = serde_json::value::to_raw_value(&serde_json::json!({ "sealed": text })).expect("json");
    PayloadEdit { version, payload, expected_hash }
}

fn refusal(e: StoreError) -> Option<RewriteError> {
    match e {
        StoreError::Backend { source, .. } => source.downcast::<RewriteError>().ok().map(|e| *e),
        _ => None,
    }
}

/// Two payloads of a stream replaced in one rewrite: read back exactly, the stream and the store
/// verify clean with two rewrites counted, one record per event, appends chain on after it;
/// rewrites of missing versions, of changed events and of the record stream are refused and
/// change nothing.
pub async fn rewrites_rechain<S: Rewrite>(store: S) {
    store.append("rw-a", ExpectedVersion::NoStream, batch(1, 5)).await.expect("append");
    store.append("rw-b", ExpectedVersion::NoStream, batch(1, 3)).await.expect("append");
    let before = verify_stream(&store, "rw-a").await.expect("verify").head;
    let done = store
        .rewrite_payloads("rw-a", vec![edit(4, "four", None), edit(2, "two", None)], "test")
        .await
        .expect("rewrite");
    assert_eq!(done.events.iter().map(|e| e.version).collect::<Vec<_>>(), [2, 4], "edited events, in order");
    assert!(done.events.iter().all(|e| e.old_hash != e.new_hash), "each edited event has a new hash");
    assert_eq!((Some(done.old_head), done.head_version), (before, 5), "the old head is the one verify saw");
    let read = store.read_stream("rw-a", 1, 10).await.expect("read");
    assert_eq!(read[1].payload.get(), r#"{"sealed":"two"}"#, "the new payload is stored as given");
    assert_eq!(read[3].payload.get(), r#"{"sealed":"four"}"#);
    assert_eq!(read.len(), 5, "a rewrite adds or removes no event");

    let check = verify_stream(&store, "rw-a").await.expect("verify");
    assert_eq!((check.broken, check.rewrites, check.head), (None, 2, Some(done.new_head)));
    let all = verify_all(&store, |_| {}).await.expect("verify_all");
    assert_eq!((all.breaks, all.rewrites), (vec![], 2), "the store verifies, its rewrites counted");
    let records = recorded_rewrites(&store, Some("rw-a")).await.expect("records");
    assert_eq!(records.len(), 2, "one record per rewritten event in {REWRITES_STREAM}");
    assert_eq!(records[0].new_hash, done.events[0].new_hash.to_string());

    store.append("rw-a", ExpectedVersion::Exact(5), batch(6, 1)).await.expect("append after a rewrite");
    assert_eq!(verify_stream(&store, "rw-a").await.expect("verify").broken, None, "appends chain on");

    let payloads = |events: Vec<es_core::StoredEvent>| -> Vec<String> {
        events.iter().map(|e| e.payload.get().to_owned()).collect()
    };
    let b_before = payloads(store.read_stream("rw-b", 1, 10).await.expect("read"));
    let missing = store.rewrite_payloads("rw-b", vec![edit(9, "x", None)], "test").await.expect_err("no v9");
    assert!(matches!(refusal(missing), Some(RewriteError::NoSuchEvent { version: 9, .. })));
    let stale = Some(done.events[0].old_hash);
    let changed = store.rewrite_payloads("rw-a", vec![edit(2, "x", stale)], "test").await.expect_err("stale");
    assert!(matches!(refusal(changed), Some(RewriteError::Changed { version: 2, .. })));
    let own =
        store.rewrite_payloads(REWRITES_STREAM, vec![edit(1, "x", None)], "test").await.expect_err("own");
    assert_eq!(refusal(own), Some(RewriteError::RecordStream));
    assert_eq!(recorded_rewrites(&store, None).await.expect("records").len(), 2, "refusals record nothing");
    assert_eq!(
        payloads(store.read_stream("rw-b", 1, 10).await.expect("read")),
        b_before,
        "a refusal changes nothing"
    );
}
