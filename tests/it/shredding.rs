//! Crypto-shredding on every store: personal fields are stored as ciphertext only; forgetting a
//! subject makes its aggregate and projection reload with the erased values, leaves other
//! subjects untouched, keeps upcasting working and the hash chain verifying.

use std::collections::BTreeMap;

use es_core::integrity::{verify_all, Links};
use es_core::personal::Privacy;
use es_core::{
    Aggregate, Apply, CheckpointStore, Event, EventContext, ExpectedVersion, Handle, NewEvent, Project,
    Projection, ProjectionRunner, Repository, Turns,
};
use serde::{Deserialize, Serialize};

use crate::stores::{pg_store, sqlite_store};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CustomerRegistered {
    #[event(subject)]
    pub customer: String,
    #[event(personal)]
    pub name: String,
    #[event(personal, erased = "erased@invalid".to_owned())]
    pub email: String,
    pub plan: String,
}

/// An address as the first release stored it: one line.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "AddressChanged", version = 1)]
pub struct AddressChangedV1 {
    #[event(subject)]
    pub customer: String,
    #[event(personal)]
    pub address: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(version = 2, upcast_from = AddressChangedV1)]
pub struct AddressChanged {
    #[event(subject)]
    pub customer: String,
    #[event(personal)]
    pub street: String,
    #[event(personal)]
    pub city: String,
}

impl From<AddressChangedV1> for AddressChanged {
    fn from(old: AddressChangedV1) -> Self {
        AddressChanged { customer: old.customer, street: old.address, city: String::new() }
    }
}

#[derive(Aggregate, Default, Debug)]
#[aggregate(events(CustomerRegistered, AddressChanged), error = std::convert::Infallible)]
pub struct Customer {
    pub name: String,
    pub email: String,
    pub plan: String,
    pub street: String,
    pub city: String,
}

impl Apply<CustomerRegistered> for Customer {
    fn apply(&mut self, e: &CustomerRegistered) {
        (self.name, self.email, self.plan) = (e.name.clone(), e.email.clone(), e.plan.clone());
    }
}

impl Apply<AddressChanged> for Customer {
    fn apply(&mut self, e: &AddressChanged) {
        (self.street, self.city) = (e.street.clone(), e.city.clone());
    }
}

pub struct Register(&'static str, &'static str, &'static str, &'static str);
pub struct Move(&'static str, &'static str, &'static str);

impl Handle<Register> for Customer {
    fn handle(&self, Register(id, name, email, plan): &Register) -> Result<Vec<CustomerEvent>, Self::Error> {
        let e = CustomerRegistered {
            customer: id.to_string(),
            name: name.to_string(),
            email: email.to_string(),
            plan: plan.to_string(),
        };
        Ok(vec![e.into()])
    }
}

impl Handle<Move> for Customer {
    fn handle(&self, Move(id, street, city): &Move) -> Result<Vec<CustomerEvent>, Self::Error> {
        Ok(vec![AddressChanged {
            customer: id.to_string(),
            street: street.to_string(),
            city: city.to_string(),
        }
        .into()])
    }
}

/// Who lives where, by customer.
#[derive(Projection, Default, Serialize, Deserialize)]
#[projection(events(CustomerRegistered, AddressChanged))]
pub struct Directory {
    pub entries: BTreeMap<String, (String, String, String)>,
}

impl Project<CustomerRegistered> for Directory {
    fn project(&mut self, e: &CustomerRegistered, _: &EventContext<'_>) {
        self.entries.entry(e.customer.clone()).or_default().0.clone_from(&e.name);
    }
}

impl Project<AddressChanged> for Directory {
    fn project(&mut self, e: &AddressChanged, _: &EventContext<'_>) {
        let entry = self.entries.entry(e.customer.clone()).or_default();
        (entry.1, entry.2) = (e.street.clone(), e.city.clone());
    }
}

const PLAINTEXT: [&str; 6] = ["Ann", "ann@example.com", "Old Road", "Main Street", "Springfield", "Bob"];

fn entry(name: &str, street: &str, city: &str) -> (String, String, String) {
    (name.into(), street.into(), city.into())
}

async fn shredding_on<S: Privacy + Turns + CheckpointStore + Links>(store: S) {
    let keys = store.keys().expect("the store keeps keys");
    let customers = Repository::<Customer, _>::new(store.clone());
    customers.execute("c-ann", Register("c-ann", "Ann", "ann@example.com", "gold")).await.expect("register");
    // An address as the first release stored it, sealed the same way.
    keys.ensure(["c-ann"]).await.expect("a key");
    let old = AddressChangedV1 { customer: "c-ann".into(), address: "Old Road 1".into() };
    let encoded = keys.scope(|| es_core::codec::encode_event(&old)).expect("encode");
    let raw = NewEvent::new(
        encoded.name,
        encoded.schema_version,
        serde_json::from_str(encoded.payload.get()).expect("json"),
    );
    store.append("Customer-c-ann", ExpectedVersion::Exact(1), vec![raw]).await.expect("append v1");
    customers.execute("c-ann", Move("c-ann", "Main Street 2", "Springfield")).await.expect("move");
    customers.execute("c-bob", Register("c-bob", "Bob", "bob@example.com", "basic")).await.expect("register");

    let ann = customers.load("c-ann").await.expect("load").state;
    assert_eq!(
        (ann.name.as_str(), ann.street.as_str(), ann.city.as_str()),
        ("Ann", "Main Street 2", "Springfield")
    );
    assert_eq!(
        customers.load_at("c-ann", 2).await.expect("load").state.street,
        "Old Road 1",
        "upcast after opening"
    );
    let mut directory =
        ProjectionRunner::<Directory, _>::start("directory", store.clone()).await.expect("start");
    es_testing::conformance::read_all_settled(&store, 4).await;
    directory.catch_up().await.expect("catch up");
    assert_eq!(directory.projection().entries["c-ann"], entry("Ann", "Main Street 2", "Springfield"));

    for e in store.read_all(es_core::Cursor::START, 100).await.expect("read") {
        for plain in PLAINTEXT {
            assert!(
                !e.payload.get().contains(plain),
                "`{plain}` is stored in plain text: {}",
                e.payload.get()
            );
        }
    }

    assert!(keys.forget("c-ann").await.expect("forget"), "ann had a key");
    let ann = customers.load("c-ann").await.expect("an aggregate of a forgotten subject still loads").state;
    assert_eq!(
        (ann.name.as_str(), ann.email.as_str(), ann.street.as_str(), ann.city.as_str(), ann.plan.as_str()),
        ("", "erased@invalid", "", "", "gold"),
        "personal fields read as erased, the rest as stored"
    );
    assert_eq!(
        customers.load_at("c-ann", 2).await.expect("load").state.street,
        "",
        "an erased old version upcasts"
    );
    let bob = customers.load("c-bob").await.expect("load").state;
    assert_eq!(
        (bob.name.as_str(), bob.email.as_str()),
        ("Bob", "bob@example.com"),
        "other subjects are untouched"
    );

    directory.rebuild().await.expect("rebuild");
    assert_eq!(directory.projection().entries["c-ann"], entry("", "", ""));
    assert_eq!(directory.projection().entries["c-bob"], entry("Bob", "", ""));
    let first = store.read_stream("Customer-c-ann", 1, 1).await.expect("read");
    match keys.scope(|| es_core::codec::decode::<CustomerEvent>(&first[0])).expect("decode") {
        CustomerEvent::CustomerRegistered(e) => es_testing::assert_erased(&e),
        other => panic!("unexpected {other:?}"),
    }

    let report = verify_all(&store, |_| {}).await.expect("verify");
    assert_eq!(
        (report.events, report.breaks),
        (4, vec![]),
        "the chain still verifies: it covers the ciphertext"
    );
    // Commands go on for a forgotten subject: its new events get a new key.
    customers.execute("c-ann", Move("c-ann", "New Lane", "Shelbyville")).await.expect("move again");
    assert_eq!(customers.load("c-ann").await.expect("load").state.street, "New Lane");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_forgets_a_subject() {
    shredding_on(es_core::MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_forgets_a_subject() {
    let (store, dir) = sqlite_store("shred.db").await;
    shredding_on(store.clone()).await;
    let raw = sqlx::SqlitePool::connect(&format!("sqlite:{}", dir.path().join("shred.db").display()))
        .await
        .expect("connect");
    for plain in PLAINTEXT {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE instr(payload, ?1) > 0")
            .bind(plain)
            .fetch_one(&raw)
            .await
            .expect("count");
        assert_eq!(n, 0, "`{plain}` is stored in plain text");
    }
    assert!(
        store.forget("c-ann").await.expect("forget").had_key,
        "the subject's new key is forgotten in turn"
    );
    assert!(!store.forget("c-nobody").await.expect("forget").had_key, "a subject without a key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_forgets_a_subject() {
    let store = pg_store("es_shred").await;
    shredding_on(store.clone()).await;
    for plain in PLAINTEXT {
        let sql =
            format!("SELECT count(*) FROM {}.es_events WHERE strpos(payload::text, $1) > 0", store.schema());
        let n: i64 = sqlx::query_scalar(&sql).bind(plain).fetch_one(store.pool()).await.expect("count");
        assert_eq!(n, 0, "`{plain}` is stored in plain text");
    }
    store.drop_schema().await.expect("drop the test schema");
}
