//! Snapshots, checkpoints and leases: the newest snapshot per stream wins, checkpoints are kept
//! per projection with their state, a lease has one holder and fences out the ones before, and
//! all survive reopening the store.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use es_core::{
    Checkpoint, CheckpointStore, Cursor, DeadLetters, EventStore, ExpectedVersion, Leases, Parked, Snapshot,
    SnapshotStore, StoreError,
};
use serde_json::value::RawValue;

fn state(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).expect("test states are JSON")
}

/// A time the stores keep exactly (whole microseconds).
fn at(micros: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(1_700_000_000_000_000 + micros)
}

fn snapshot(version: u64, text: &str) -> Snapshot {
    Snapshot { stream_version: version, schema_version: 1, state: state(text), taken_at: at(version) }
}

/// A snapshot of a later version replaces an earlier one; an older one never replaces a newer;
/// each stream keeps its own; a stream without one reads `None`; deleting one drops that
/// stream's only.
pub async fn snapshots_newest_wins_per_stream<S: SnapshotStore>(store: S) {
    assert!(store.load_snapshot("snap-a").await.expect("load").is_none(), "no snapshot yet");
    store.save_snapshot("snap-a", snapshot(10, r#"{"n":10}"#)).await.expect("save");
    store.save_snapshot("snap-a", snapshot(5, r#"{"n":5}"#)).await.expect("save an older one");
    assert_eq!(store.load_snapshot("snap-a").await.expect("load"), Some(snapshot(10, r#"{"n":10}"#)));
    store.save_snapshot("snap-a", snapshot(20, r#"{"n":20}"#)).await.expect("save");
    store.save_snapshot("snap-b", snapshot(3, r#"{"n":3}"#)).await.expect("save");
    assert_eq!(store.load_snapshot("snap-a").await.expect("load"), Some(snapshot(20, r#"{"n":20}"#)));
    assert_eq!(store.load_snapshot("snap-b").await.expect("load"), Some(snapshot(3, r#"{"n":3}"#)));
    // Deleting drops one stream's snapshot only, and then a lower version may be saved again.
    assert!(store.delete_snapshot("snap-a").await.expect("delete"), "there was one");
    assert!(!store.delete_snapshot("snap-a").await.expect("delete"), "gone already");
    assert!(store.load_snapshot("snap-a").await.expect("load").is_none(), "deleted");
    assert_eq!(store.load_snapshot("snap-b").await.expect("load"), Some(snapshot(3, r#"{"n":3}"#)));
    store.save_snapshot("snap-a", snapshot(2, r#"{"n":2}"#)).await.expect("save after delete");
    assert_eq!(store.load_snapshot("snap-a").await.expect("load"), Some(snapshot(2, r#"{"n":2}"#)));
}

/// A checkpoint is replaced whole (cursor and state together), kept per projection, and gone
/// once deleted.
pub async fn checkpoints_per_projection<S: CheckpointStore>(store: S) {
    assert!(store.load_checkpoint("proj-a").await.expect("load").is_none(), "no checkpoint yet");
    let first = Checkpoint { cursor: Cursor::at(7), state: Some(state(r#"{"seen":7}"#)), saved_at: at(1) };
    store.save_checkpoint("proj-a", first).await.expect("save");
    let second = Checkpoint { cursor: Cursor::at(9), state: None, saved_at: at(2) };
    store.save_checkpoint("proj-a", second).await.expect("save");
    let other = Checkpoint { cursor: Cursor::at(3), state: Some(state("[1,2]")), saved_at: at(3) };
    store.save_checkpoint("proj-b", other).await.expect("save");
    let a = store.load_checkpoint("proj-a").await.expect("load").expect("proj-a is kept");
    assert_eq!((a.cursor, a.state.is_none(), a.saved_at), (Cursor::at(9), true, at(2)), "replaced whole");
    let b = store.load_checkpoint("proj-b").await.expect("load").expect("proj-b is kept");
    assert_eq!((b.cursor, b.state.as_ref().map(|s| s.get())), (Cursor::at(3), Some("[1,2]")));
    store.delete_checkpoint("proj-a").await.expect("delete");
    assert!(store.load_checkpoint("proj-a").await.expect("load").is_none(), "deleted");
    assert!(store.load_checkpoint("proj-b").await.expect("load").is_some(), "the other stays");
}

/// A lease has one holder; the holder renews it at the same epoch; a takeover, after a release
/// or an expiry, moves the epoch on; a checkpoint saved under a stale epoch is refused and
/// changes nothing.
pub async fn leases_have_one_holder_and_fence<S: Leases>(store: S) {
    let ttl = Duration::from_secs(30);
    let a = store.acquire("lease-p", "a", ttl).await.expect("acquire").expect("a free lease is taken");
    assert_eq!((a.owner.as_str(), a.epoch), ("a", 1));
    assert!(store.acquire("lease-p", "b", ttl).await.expect("acquire").is_none(), "held by a");
    let renewed = store.acquire("lease-p", "a", ttl).await.expect("renew").expect("a renews");
    assert_eq!(renewed.epoch, 1, "a renewal keeps the epoch");
    let saved = Checkpoint { cursor: Cursor::at(5), state: Some(state("{}")), saved_at: at(5) };
    store.save_checkpoint_fenced(saved, &a).await.expect("the holder saves");
    store.release(&a).await.expect("release");
    let b = store.acquire("lease-p", "b", ttl).await.expect("acquire").expect("released: b takes it");
    assert_eq!(b.epoch, 2, "a new holder, a new epoch");
    let stale = Checkpoint { cursor: Cursor::at(9), state: None, saved_at: at(9) };
    match store.save_checkpoint_fenced(stale, &a).await {
        Err(StoreError::Fenced { lease, epoch: 1 }) => assert_eq!(lease, "lease-p"),
        other => panic!("a stale holder's save must be fenced, got {other:?}"),
    }
    let kept = store.load_checkpoint("lease-p").await.expect("load").expect("kept");
    assert_eq!(kept.cursor, Cursor::at(5), "the fenced save changed nothing");
    assert_eq!(
        store.lease("lease-p").await.expect("lease").map(|l| (l.owner, l.epoch)),
        Some(("b".into(), 2))
    );

    let short = Duration::from_millis(100);
    store.acquire("lease-q", "c", short).await.expect("acquire").expect("taken");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let d =
        store.acquire("lease-q", "d", ttl).await.expect("acquire").expect("an expired lease is taken over");
    assert_eq!((d.owner.as_str(), d.epoch), ("d", 2));
}

/// Parked events are kept per reactor with their error and attempts, in the global order,
/// replaced when parked again, and gone once unparked.
pub async fn dead_letters_park_and_unpark<S: EventStore + DeadLetters>(store: S) {
    store.append("dl", ExpectedVersion::Any, super::batch(0, 3)).await.expect("append");
    let events = super::read_all_settled(&store, 3).await;
    let park = |event: &es_core::StoredEvent, reactor: &str, attempts: u32| Parked {
        reactor: reactor.to_owned(),
        event: event.clone(),
        error: format!("failed {attempts} times"),
        attempts,
        parked_at: at(u64::from(attempts)),
    };
    store.park(park(&events[2], "r", 3)).await.expect("park");
    store.park(park(&events[0], "r", 3)).await.expect("park");
    store.park(park(&events[1], "other", 1)).await.expect("park");
    store.park(park(&events[0], "r", 4)).await.expect("park again");
    let parked = store.parked("r").await.expect("parked");
    assert_eq!(
        parked.iter().map(|p| p.event.id).collect::<Vec<_>>(),
        [events[0].id, events[2].id],
        "in order, per reactor"
    );
    assert_eq!(
        parked[0],
        park(&events[0], "r", 4),
        "parked again: the new error and attempts, the whole event"
    );
    store.unpark("r", events[0].id).await.expect("unpark");
    assert_eq!(store.parked("r").await.expect("parked").len(), 1);
    assert_eq!(store.parked("other").await.expect("parked").len(), 1, "other reactors keep theirs");
}

/// What was saved reads back the same from the store opened again (`reopen`), as after a
/// restart of the process.
pub async fn side_tables_survive_reopen<S, R, F>(store: S, reopen: R)
where
    S: SnapshotStore + CheckpointStore,
    R: FnOnce(S) -> F,
    F: Future<Output = S>,
{
    store.save_snapshot("keep", snapshot(4, r#"{"kept":true}"#)).await.expect("save");
    let checkpoint = Checkpoint { cursor: Cursor::at(4), state: Some(state("{}")), saved_at: at(4) };
    store.save_checkpoint("keep", checkpoint).await.expect("save");
    let store = reopen(store).await;
    assert_eq!(store.load_snapshot("keep").await.expect("load"), Some(snapshot(4, r#"{"kept":true}"#)));
    let kept = store.load_checkpoint("keep").await.expect("load").expect("the checkpoint survives");
    assert_eq!((kept.cursor, kept.saved_at), (Cursor::at(4), at(4)));
}
