//! The hash chain: every append links its events to the last of their stream, so a store that
//! nobody tampered with verifies, stream by stream and whole.

use es_core::integrity::{verify_all, verify_stream, LinkKey, Links};
use es_core::{ExpectedVersion, Metadata, NewEvent};

use super::batch;

/// Appends of every shape (batches, single events, metadata, unicode, an idempotent retry, an
/// empty batch, odd stream names) chain: every stream verifies, and the whole store too, in
/// batches smaller than it.
pub async fn chains_verify<S: Links>(store: S) {
    let streams = ["chain-a", "chain-b", "chäin ü 🦀", "chain-a-"];
    for (i, stream) in streams.iter().enumerate() {
        store.append(stream, ExpectedVersion::NoStream, batch(1, 3)).await.expect("append");
        let meta = Metadata::default().with("who", "ann").correlation_id(es_core::Uuid::from_u128(i as u128));
        let e =
            NewEvent::new("Noted", 2, serde_json::json!({ "text": "é\u{1F980}\"q\"" })).with_metadata(meta);
        let retry = vec![e.clone()];
        store.append(stream, ExpectedVersion::Exact(3), vec![e]).await.expect("append");
        store.append(stream, ExpectedVersion::Exact(3), retry).await.expect("an exact retry is acknowledged");
        store.append(stream, ExpectedVersion::Any, vec![]).await.expect("an empty append");
        store.append(stream, ExpectedVersion::Any, batch(10, 2_005)).await.expect("append");
    }
    for stream in streams {
        let check = verify_stream(&store, stream).await.expect("verify_stream");
        assert_eq!(check.broken, None, "stream {stream:?} of an untouched store verifies");
        assert_eq!(check.events, 2_009, "every event of {stream:?} is checked, once");
        assert!(check.head.is_some(), "an intact stream reports its head");
    }
    let mut batches = 0;
    let all = verify_all(&store, |_| batches += 1).await.expect("verify_all");
    assert_eq!((all.streams, all.events, all.breaks), (4, 4 * 2_009, vec![]), "the whole store verifies");
    assert!(batches >= 4, "progress is reported per batch ({batches})");
    let missing = verify_stream(&store, "no-such-stream").await.expect("verify_stream");
    assert_eq!((missing.events, missing.broken), (0, None));
    let mut n = 0;
    store
        .visit_links(LinkKey { stream: "chain-a", version: 2_007 }, true, 10, |_| n += 1)
        .await
        .expect("visit");
    assert_eq!(n, 2, "a link visit starts after the version given");
}
