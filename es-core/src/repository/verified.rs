//! Loading with the hash chain checked (opt-in): one read of the stream's links, each verified
//! and folded.

use crate::integrity::{recorded_rewrites, LinkKey, Links, Verifier};
use crate::model::keyed;
use crate::model::{Aggregate, EventEnum};
use crate::repository::{Loaded, Repository};
use crate::store::StoreError;

/// How many links one read lends.
const BATCH: usize = 2_000;

impl<A: Aggregate, S: Links> Repository<A, S> {
    /// Like [`load`](Repository::load), after verifying the stream's whole hash chain: a stream
    /// whose history was changed outside the application is [`StoreError::Tampered`], naming
    /// the first broken link. It reads the stream's links once, verifying and folding each, so
    /// every event it applies was verified. It folds every event and reads no snapshot: a
    /// snapshot is not covered by the chain. An event that does not decode there (its subject's
    /// key not loaded yet, say) makes it load the stream again the way [`load`](Repository::load)
    /// does, after the whole chain verified.
    ///
    /// ```
    /// # use es_core::{Aggregate, Apply, Event, Handle, MemoryStore, Repository};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
    /// # pub struct Added { n: u32 }
    /// # #[derive(Aggregate, Default)]
    /// # #[aggregate(events(Added), error = std::convert::Infallible)]
    /// # pub struct Sum { total: u32 }
    /// # impl Apply<Added> for Sum { fn apply(&mut self, e: &Added) { self.total += e.n } }
    /// # impl Handle<u32> for Sum {
    /// #     fn handle(&self, n: &u32) -> Result<Vec<SumEvent>, Self::Error> { Ok(vec![Added { n: *n }.into()]) }
    /// # }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let sums = Repository::<Sum, _>::new(MemoryStore::new());
    /// sums.execute("s", 4).await?;
    /// assert_eq!(sums.load_verified("s").await?.state.total, 4);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn load_verified(&self, id: &str) -> Result<Loaded<A>, StoreError> {
        let stream = A::stream_name(id);
        let records = recorded_rewrites(&self.store, Some(&stream)).await?;
        let mut verifier = Verifier::with_rewrites(&records);
        let mut loaded = Loaded { state: A::default(), version: 0 };
        let (mut after, mut folds) = (0, true);
        loop {
            let mut last = after;
            let visit =
                self.store.visit_links(LinkKey { stream: &stream, version: after }, true, BATCH, |l| {
                    last = l.stream_version;
                    verifier.feed(l);
                    // Folded while the links run in order; from the first event that does not
                    // decode on, the events are loaded again below.
                    if folds {
                        match A::Event::decode(l.name, l.schema_version, l.payload) {
                            Ok(event) if l.stream_version == loaded.version + 1 => {
                                loaded.state.apply(&event);
                                loaded.version = l.stream_version;
                            }
                            _ => folds = false,
                        }
                    }
                });
            let n = keyed::scoped(self.keys.as_ref(), visit).await?;
            if n < BATCH {
                break;
            }
            after = last;
        }
        if let Some(broken) = verifier.finish().pop().and_then(|check| check.broken) {
            return Err(StoreError::Tampered(Box::new(broken)));
        }
        if folds {
            return Ok(loaded);
        }
        self.load_from(id, false).await
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use crate::personal::{Keyring, MemoryKeys};
    use crate::{Aggregate, Apply, Event, EventStore, ExpectedVersion, Handle, MemoryStore, NewEvent};
    use crate::{Repository, StoreError};

    #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
    struct Joined {
        #[event(subject)]
        member: String,
        #[event(personal)]
        name: String,
    }

    #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
    struct Earned {
        points: u32,
    }

    #[derive(Aggregate, Default)]
    #[aggregate(events(Joined, Earned), error = std::convert::Infallible)]
    struct Member {
        name: String,
        points: u32,
    }

    impl Apply<Joined> for Member {
        fn apply(&mut self, e: &Joined) {
            self.name.clone_from(&e.name);
        }
    }

    impl Apply<Earned> for Member {
        fn apply(&mut self, e: &Earned) {
            self.points += e.points;
        }
    }

    impl Handle<MemberEvent> for Member {
        fn handle(&self, e: &MemberEvent) -> Result<Vec<MemberEvent>, Self::Error> {
            Ok(vec![e.clone()])
        }
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().build().expect("runtime")
    }

    #[test]
    fn a_verified_load_folds_what_it_verified_and_opens_keys_it_had_to_load() {
        rt().block_on(async {
            let (store, keys) = (MemoryStore::new(), MemoryKeys::new());
            let writer = Repository::<Member, _>::new(store.clone()).with_keys(Keyring::new(keys.clone()));
            let joined = Joined { member: "m-1".into(), name: "Ann".into() };
            writer.execute("m-1", MemberEvent::from(joined)).await.expect("join");
            for points in [2, 3] {
                writer.execute("m-1", MemberEvent::from(Earned { points })).await.expect("earn");
            }
            // A cold key cache: the key is loaded on the way.
            let reader = Repository::<Member, _>::new(store.clone()).with_keys(Keyring::new(keys));
            let loaded = reader.load_verified("m-1").await.expect("load_verified");
            assert_eq!((loaded.state.name.as_str(), loaded.state.points, loaded.version), ("Ann", 5, 3));
            assert_eq!(reader.load("m-1").await.expect("load").version, 3);
        });
    }

    #[test]
    fn an_event_that_does_not_decode_fails_the_verified_load() {
        rt().block_on(async {
            let store = MemoryStore::new();
            let members = Repository::<Member, _>::new(store.clone());
            members.execute("m-1", MemberEvent::from(Earned { points: 2 })).await.expect("earn");
            let odd = NewEvent::new("Unheard", 1, serde_json::json!({}));
            store.append("Member-m-1", ExpectedVersion::Exact(1), vec![odd]).await.expect("append");
            members.execute("m-1", MemberEvent::from(Earned { points: 3 })).await.expect_err("undecodable");
            match members.load_verified("m-1").await {
                Err(StoreError::Decode(_)) => {}
                Err(other) => panic!("expected a decode error, got {other}"),
                Ok(loaded) => panic!("an undecodable event was skipped: version {}", loaded.version),
            }
        });
    }
}
