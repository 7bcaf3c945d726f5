//! Personal fields through the codec: errors never quote a personal value, JSON upcasters see
//! and transform plain personal values, and personal fields renamed with `renamed_from` still
//! open what was sealed under their old key; after forget each reads as erased.

use es_core::personal::Privacy;
use es_core::{
    Aggregate, Apply, DeadLetters, Event, EventStore, ExpectedVersion, MemoryStore, NewEvent, React,
    ReactContext, ReactError, Reactor, ReactorRunner, Repository, RetryPolicy,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

// ---- the events as this program declares them ----

/// An age, personal: a value of the wrong type must not show up in any error text.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AgeGiven {
    #[event(subject)]
    pub person: String,
    #[event(personal)]
    pub age: u32,
    pub plan: String,
}

/// Version 2: version 1 was `{"person", "name"}` and lives on only as a JSON step, which
/// renames `name` and upper-cases it.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(version = 2)]
pub struct PersonNamed {
    #[event(subject)]
    pub person: String,
    #[event(personal, erased = "(forgotten)".to_owned())]
    pub full_name: String,
}

fn person_named_v1_to_v2(mut v: Value) -> Value {
    let name = v["name"].as_str().unwrap_or_default().to_uppercase();
    if let Some(object) = v.as_object_mut() {
        object.remove("name");
        object.insert("full_name".into(), json!(name));
    }
    v
}
es_core::json_upcaster!("PersonNamed", 1 => person_named_v1_to_v2);

/// Version 2 of a nickname; the version 1 struct is still declared (its personal fields, with
/// their former keys, apply to version 1 payloads) but a JSON step, not `upcast_from`, leads
/// from it.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(version = 2)]
pub struct Nicknamed {
    #[event(subject)]
    pub person: String,
    #[event(personal)]
    pub nick: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Nicknamed", version = 1)]
pub struct NicknamedV1 {
    #[event(subject)]
    pub person: String,
    #[event(personal, renamed_from = "nickname")]
    pub nick: String,
}

fn nicknamed_v1_to_v2(mut v: Value) -> Value {
    v["nick"] = json!(format!("~{}~", v["nick"].as_str().unwrap_or("<not a string>")));
    v
}
es_core::json_upcaster!("Nicknamed", 1 => nicknamed_v1_to_v2);

/// Version 2 of a score; version 1 (text) lives on as a JSON step that adds a scale.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(version = 2)]
pub struct Scored {
    #[event(subject)]
    pub person: String,
    #[event(personal)]
    pub score: u32,
    pub scale: u32,
}

fn scored_v1_to_v2(mut v: Value) -> Value {
    v["scale"] = json!(10);
    v
}
es_core::json_upcaster!("Scored", 1 => scored_v1_to_v2);

/// A personal field renamed twice: `tel`, then `phone`, now `mobile`.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PhoneGiven {
    #[event(subject)]
    pub person: String,
    #[event(personal, renamed_from = "phone", renamed_from = "tel")]
    pub mobile: String,
}

// ---- what older programs stored: same field keys, other event names (so the registry holds
// one type per name and version); the records are stored under the names above ----

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OldAgeGiven {
    #[event(subject)]
    pub person: String,
    #[event(personal)]
    pub age: String,
    pub plan: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OldPersonNamed {
    #[event(subject)]
    pub person: String,
    #[event(personal)]
    pub name: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OldNicknamed {
    #[event(subject)]
    pub person: String,
    #[event(personal)]
    pub nickname: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OldScored {
    #[event(subject)]
    pub person: String,
    #[event(personal)]
    pub score: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OldPhoneGiven {
    #[event(subject)]
    pub person: String,
    #[event(personal)]
    pub phone: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OldestPhoneGiven {
    #[event(subject)]
    pub person: String,
    #[event(personal)]
    pub tel: String,
}

#[derive(Aggregate, Default, Debug)]
#[aggregate(events(AgeGiven, PersonNamed, Nicknamed, PhoneGiven, Scored), error = std::convert::Infallible)]
pub struct Person {
    pub age: u32,
    pub names: Vec<String>,
    pub nick: String,
    pub phones: Vec<String>,
}

impl Apply<AgeGiven> for Person {
    fn apply(&mut self, e: &AgeGiven) {
        self.age = e.age;
    }
}
impl Apply<PersonNamed> for Person {
    fn apply(&mut self, e: &PersonNamed) {
        self.names.push(e.full_name.clone());
    }
}
impl Apply<Nicknamed> for Person {
    fn apply(&mut self, e: &Nicknamed) {
        self.nick.clone_from(&e.nick);
    }
}
impl Apply<Scored> for Person {
    fn apply(&mut self, _: &Scored) {}
}
impl Apply<PhoneGiven> for Person {
    fn apply(&mut self, e: &PhoneGiven) {
        self.phones.push(e.mobile.clone());
    }
}

/// Seals `old` with the store's keys as an older program did, and stores it as `name` at
/// `version` in `person`'s stream.
async fn store_as<T: Event>(store: &MemoryStore, person: &str, old: &T, name: &str, version: u32) {
    let keys = store.keys().expect("the memory store keeps keys");
    keys.ensure([person]).await.expect("a key");
    let encoded = keys.scope(|| es_core::codec::encode_event(old)).expect("encode");
    let payload: Value = serde_json::from_str(encoded.payload.get()).expect("json");
    store
        .append(
            &format!("Person-{person}"),
            ExpectedVersion::Any,
            vec![NewEvent::new(name, version, payload)],
        )
        .await
        .expect("append");
}

/// The first stored event of `person`'s stream, decoded through the codec with the store's keys.
async fn decode_first(store: &MemoryStore, person: &str) -> Result<PersonEvent, es_core::DecodeError> {
    let keys = store.keys().expect("keys");
    let stored = store.read_stream(&format!("Person-{person}"), 1, 1).await.expect("read");
    keys.load_sealed(stored[0].payload.get()).await.expect("load the key");
    keys.scope(|| es_core::codec::decode::<PersonEvent>(&stored[0]))
}

#[track_caller]
fn assert_no_plaintext(error: &dyn std::fmt::Display, debug: &dyn std::fmt::Debug, plain: &str) {
    let (shown, debugged) = (error.to_string(), format!("{debug:?}"));
    assert!(!shown.contains(plain), "the error text quotes the personal value: {shown}");
    assert!(!debugged.contains(plain), "the error's Debug quotes the personal value: {debugged}");
}

#[tokio::test]
async fn decode_errors_never_quote_a_personal_value() {
    let store = MemoryStore::new();
    let secret = "Ann Secret-Smith";
    // Sealed, opens to a string where the type now holds a number.
    let old = OldAgeGiven { person: "p-1".into(), age: secret.into(), plan: "gold".into() };
    store_as(&store, "p-1", &old, "AgeGiven", 1).await;
    let e = decode_first(&store, "p-1").await.expect_err("a string is not a u32");
    assert_no_plaintext(&e, &e, secret);
    let text = e.to_string();
    assert!(text.contains("personal field `age` holds a string"), "{text}");
    assert!(text.contains("AgeGiven") && text.contains("Person-p-1"), "still says where: {text}");

    // The same through a repository: the error a command handler would log or return.
    let people = Repository::<Person, _>::new(store.clone());
    let e = people.load("p-1").await.expect_err("does not decode");
    assert_no_plaintext(&e, &e, secret);

    // Stored in plain text (before the field was marked personal): not quoted either, and
    // serde's line and column are kept.
    let plain = json!({ "person": "p-2", "age": secret, "plan": "gold" });
    store
        .append("Person-p-2", ExpectedVersion::Any, vec![NewEvent::new("AgeGiven", 1, plain)])
        .await
        .expect("append");
    let e = decode_first(&store, "p-2").await.expect_err("a string is not a u32");
    assert_no_plaintext(&e, &e, secret);
    assert!(e.to_string().contains("at line 1 column"), "{e}");

    // A mistake in a field that is not personal keeps serde's whole message.
    let wrong = json!({ "person": "p-3", "age": 41, "plan": 7 });
    store
        .append("Person-p-3", ExpectedVersion::Any, vec![NewEvent::new("AgeGiven", 1, wrong)])
        .await
        .expect("append");
    let e = decode_first(&store, "p-3").await.expect_err("a number is not a string");
    assert!(e.to_string().contains("invalid type: integer `7`, expected a string"), "{e}");
}

/// Reacts to ages; never gets one here: the stored one does not decode.
#[derive(Reactor)]
#[reactor(events(AgeGiven))]
pub struct AgeWatcher;

impl React<AgeGiven> for AgeWatcher {
    async fn react(&self, _: &AgeGiven, _: &ReactContext<'_>) -> Result<(), ReactError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_parked_event_does_not_quote_a_personal_value() {
    let store = MemoryStore::new();
    let secret = "Cleo Undisclosed";
    let old = OldAgeGiven { person: "p-7".into(), age: secret.into(), plan: "gold".into() };
    store_as(&store, "p-7", &old, "AgeGiven", 1).await;
    let mut runner = ReactorRunner::start("age-watcher", AgeWatcher, store.clone())
        .await
        .expect("start")
        .with_retry(RetryPolicy::default().max_attempts(1));
    runner.catch_up().await.expect("the event that does not decode is parked");
    let parked = store.parked("age-watcher").await.expect("parked");
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert!(parked[0].error.contains("personal field `age`"), "{}", parked[0].error);
    assert!(!format!("{parked:?}").contains(secret), "the dead letter quotes the personal value: {parked:?}");
}

#[tokio::test]
async fn upcast_errors_never_quote_a_personal_value() {
    let store = MemoryStore::new();
    let secret = "Bob Hidden";
    // Version 1 held the score as text; the step passes it on to version 2, a number.
    let old = OldScored { person: "p-4".into(), score: secret.into() };
    store_as(&store, "p-4", &old, "Scored", 1).await;
    let e = decode_first(&store, "p-4").await.expect_err("text is not a u32");
    assert_no_plaintext(&e, &e, secret);
    assert!(e.to_string().contains("personal field `score` holds a string"), "{e}");
}

#[tokio::test]
async fn json_upcasters_see_and_transform_plain_personal_values() {
    let store = MemoryStore::new();
    let v1 = OldPersonNamed { person: "p-5".into(), name: "Ann Smith".into() };
    store_as(&store, "p-5", &v1, "PersonNamed", 1).await;
    // Stored when version 1's field was still called `nickname`.
    let nick = OldNicknamed { person: "p-5".into(), nickname: "annie".into() };
    store_as(&store, "p-5", &nick, "Nicknamed", 1).await;

    let stored = store.read_all(es_core::Cursor::START, 10).await.expect("read");
    assert!(stored
        .iter()
        .all(|e| !e.payload.get().contains("Ann Smith") && !e.payload.get().contains("annie")));

    let people = Repository::<Person, _>::new(store.clone());
    let ann = people.load("p-5").await.expect("load").state;
    assert_eq!(ann.names, ["ANN SMITH"], "the step read the plain name, renamed and upper-cased it");
    assert_eq!(
        ann.nick, "~annie~",
        "version 1's struct moved `nickname` to `nick` and opened it for the step"
    );

    assert!(store.forget("p-5").await.expect("forget").had_key);
    let ann = people.load("p-5").await.expect("load after forget").state;
    assert_eq!(ann.names, ["(forgotten)"], "the result's personal field reads as erased");
    assert_eq!(ann.nick, "", "erased, whatever the step made of version 1's erased value");
}

#[tokio::test]
async fn renamed_personal_fields_open_under_their_former_keys() {
    let store = MemoryStore::new();
    store_as(
        &store,
        "p-6",
        &OldestPhoneGiven { person: "p-6".into(), tel: "555-0100".into() },
        "PhoneGiven",
        1,
    )
    .await;
    store_as(
        &store,
        "p-6",
        &OldPhoneGiven { person: "p-6".into(), phone: "555-0101".into() },
        "PhoneGiven",
        1,
    )
    .await;
    let people = Repository::<Person, _>::new(store.clone());
    people.load("p-6").await.expect("load");
    let events: Vec<PhoneGiven> = {
        let keys = store.keys().expect("keys");
        let stored = store.read_stream("Person-p-6", 1, 10).await.expect("read");
        keys.scope(|| stored.iter().map(es_core::codec::decode::<PersonEvent>).collect::<Result<Vec<_>, _>>())
            .expect("decode")
            .into_iter()
            .map(|e| match e {
                PersonEvent::PhoneGiven(p) => p,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    };
    assert_eq!(events.iter().map(|e| e.mobile.as_str()).collect::<Vec<_>>(), ["555-0100", "555-0101"]);
    assert_eq!(people.load("p-6").await.expect("load").state.phones, ["555-0100", "555-0101"]);

    // New events seal under the current key, and open again.
    let keys = store.keys().expect("keys");
    let now = PhoneGiven { person: "p-6".into(), mobile: "555-0102".into() };
    let encoded = keys.scope(|| es_core::codec::encode_event(&now)).expect("encode");
    let payload: Value = serde_json::from_str(encoded.payload.get()).expect("json");
    assert!(payload["mobile"]["es:sealed"].is_object(), "{payload}");

    assert!(store.forget("p-6").await.expect("forget").had_key);
    let after = people.load("p-6").await.expect("load after forget").state;
    assert_eq!(after.phones, ["", ""], "both read as erased");
}

#[test]
fn the_registry_accepts_these_events() {
    es_testing::assert_event_registry_ok();
}
