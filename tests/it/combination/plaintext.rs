//! Personal data stored before a field was marked personal: `forget` does not pass it over in
//! silence, it names every event it could not erase; once sealed in place, forget erases it.

use es_core::personal::Privacy;
use es_core::shredding::{seal_plaintext, PersonalCatalogue};
use es_core::{EventStore, ExpectedVersion, MemoryStore, NewEvent, Repository, SnapshotStore};

use super::{Earn, Member};
use crate::stores::sqlite_store;

/// A `MemberJoined` as an older release stored it: `name` and `email` in plain text.
fn joined_in_plain_text(member: &str, name: &str) -> NewEvent {
    let payload =
        serde_json::json!({ "member": member, "name": name, "email": "old@example.com", "plan": "gold" });
    NewEvent::new("MemberJoined", 1, payload)
}

macro_rules! forget_reports_plaintext {
    ($store:expr) => {{
        let store = $store;
        store
            .append(
                "Member-m-old",
                ExpectedVersion::NoStream,
                vec![joined_in_plain_text("m-old", "Olga Plain")],
            )
            .await
            .expect("append");
        let members = Repository::<Member, _>::new(store.clone()).with_snapshots(2);
        // A snapshot of a state folded from plain text is itself plain text.
        members.execute("m-old", Earn(1)).await.expect("earn");
        let snapshot = store.load_snapshot("Member-m-old").await.expect("load").expect("taken at 2");
        assert!(snapshot.state.get().contains("Olga Plain"), "{}", snapshot.state.get());
        assert_eq!(members.load("m-old").await.expect("load").state.name, "Olga Plain");

        let first = store.forget("m-old").await.expect("forget");
        assert!(!first.had_key, "nothing was ever sealed for m-old");
        assert!(!first.is_complete(), "the plain text is reported");
        assert_eq!(first.plaintext.len(), 1);
        assert_eq!((first.plaintext[0].stream.as_str(), first.plaintext[0].version), ("Member-m-old", 1));
        assert_eq!(first.plaintext[0].fields, vec!["name", "email"]);
        assert_eq!(members.load("m-old").await.expect("load").state.name, "Olga Plain", "still readable");

        let keys = store.keys().expect("keys");
        let sealed =
            seal_plaintext(&store, &PersonalCatalogue::registered(), &keys, |_| {}).await.expect("seal");
        assert_eq!(sealed.sealed, 1, "{sealed:?}");
        assert!(
            store.load_snapshot("Member-m-old").await.expect("load").is_none(),
            "dropped with the rewrite"
        );
        let second = store.forget("m-old").await.expect("forget");
        assert!(second.is_complete(), "{second:?}");
        let after = members.load("m-old").await.expect("load");
        assert_eq!((after.state.name.as_str(), after.state.points), ("", 1), "erased at last");
        let replayed = Repository::<Member, _>::new(store.clone()).load("m-old").await.expect("replay");
        assert_eq!(after, replayed);
    }};
}

#[tokio::test]
async fn memory_forget_names_the_plaintext_it_could_not_erase() {
    forget_reports_plaintext!(MemoryStore::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_forget_names_the_plaintext_it_could_not_erase() {
    let (store, _dir) = sqlite_store("plain.db").await;
    forget_reports_plaintext!(store);
}
