//! Personal data stored before its field was marked personal, on every store: release 1 wrote
//! the name and email in plain text; release 2 marks them personal. `plaintext_of` finds them,
//! `seal_plaintext` seals them in place (once: a second run rewrites nothing), no plaintext is
//! left in the events table, aggregates load the same values, `verify` reports the streams
//! intact with their rewrites recorded, and forgetting then erases them. An edit by SQL is still
//! reported as tampering, and a rewrite never launders one.

use es_core::integrity::{
    link_hash, recorded_rewrites, verify_all, verify_chain, verify_stream, BreakKind, ChainHash, Rewrite,
};
use es_core::personal::{Keyring, Privacy};
use es_core::shredding::{plaintext_of, seal_plaintext, PersonalCatalogue, SkipReason};
use es_core::{
    Aggregate, Apply, Event, EventStore, ExpectedVersion, Handle, MemoryStore, NewEvent, Repository,
};
use serde::{Deserialize, Serialize};

use crate::stores::{pg_store, sqlite_store};

/// Release 2's registration: name and email are personal now.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "ResealRegistered")]
pub struct Registered {
    #[event(subject)]
    pub customer: String,
    #[event(personal)]
    pub name: String,
    #[event(personal, erased = "unknown".to_owned())]
    pub email: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "ResealRenamed")]
pub struct Renamed {
    #[event(subject)]
    pub customer: String,
    #[event(personal)]
    pub name: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "ResealNoted")]
pub struct Noted {
    pub note: String,
}

#[derive(Aggregate, Default, Debug)]
#[aggregate(events(Registered, Renamed, Noted), error = std::convert::Infallible)]
pub struct ResealCustomer {
    pub customer: String,
    pub name: String,
    pub email: String,
}

impl Apply<Registered> for ResealCustomer {
    fn apply(&mut self, e: &Registered) {
        (self.customer, self.name, self.email) = (e.customer.clone(), e.name.clone(), e.email.clone());
    }
}
impl Apply<Renamed> for ResealCustomer {
    fn apply(&mut self, e: &Renamed) {
        self.name = e.name.clone();
    }
}
impl Apply<Noted> for ResealCustomer {
    fn apply(&mut self, _: &Noted) {}
}

pub struct Rename(String);

impl Handle<Rename> for ResealCustomer {
    fn handle(&self, cmd: &Rename) -> Result<Vec<ResealCustomerEvent>, Self::Error> {
        Ok(vec![Renamed { customer: self.customer.clone(), name: cmd.0.clone() }.into()])
    }
}

fn catalogue() -> PersonalCatalogue {
    PersonalCatalogue::new().event::<Registered>().event::<Renamed>().event::<Noted>()
}

/// Every plain value release 1 stored.
const PLAIN: [&str; 6] =
    ["Ann Plain", "ann@plain.example", "Ann Second", "Bob Plain", "bob@plain.example", "Cy Plain"];

fn stream(id: &str) -> String {
    ResealCustomer::stream_name(id)
}

fn raw(name: &str, payload: serde_json::Value) -> NewEvent {
    NewEvent::new(name, 1, payload)
}

fn keys<S: EventStore + Privacy>(store: &S) -> Keyring {
    store.keys().expect("the store keeps keys")
}

/// Release 1 (plain) and release 2 (sealed) events of three customers; `c3` is then forgotten.
async fn write_history<S: Privacy + EventStore + Rewrite + es_core::Turns>(store: &S) {
    let registered = |c: &str, name: &str, email: &str| {
        raw("ResealRegistered", serde_json::json!({ "customer": c, "name": name, "email": email }))
    };
    let events = vec![
        registered("c1", "Ann Plain", "ann@plain.example"),
        raw("ResealNoted", serde_json::json!({ "note": "vip" })),
        raw("ResealRenamed", serde_json::json!({ "customer": "c1", "name": "Ann Second" })),
    ];
    store.append(&stream("c1"), ExpectedVersion::NoStream, events).await.expect("release 1");
    let bob = vec![registered("c2", "Bob Plain", "bob@plain.example")];
    store.append(&stream("c2"), ExpectedVersion::NoStream, bob).await.expect("release 1");
    let cy = vec![registered("c3", "Cy Plain", "cy@plain.example")];
    store.append(&stream("c3"), ExpectedVersion::NoStream, cy).await.expect("release 1");

    let customers = Repository::<ResealCustomer, _>::new(store.clone());
    customers.execute("c1", Rename("Ann Third".into())).await.expect("release 2 seals");
    customers.execute("c3", Rename("Cy Sealed".into())).await.expect("release 2 seals");
    assert!(keys(store).forget("c3").await.expect("forget"), "c3 had a key");
}

/// Finds the plain values, seals them, and checks what the store holds afterwards; `payloads`
/// are every payload in the events table, read by the test's own means.
async fn seal_and_check<S, F, Fut>(store: &S, payloads: F)
where
    S: Privacy + EventStore + Rewrite + es_core::Turns,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let catalogue = catalogue();
    let found = plaintext_of(store, &catalogue, "c1").await.expect("plaintext_of");
    let at: Vec<(u64, Vec<&str>)> = found.iter().map(|p| (p.version, p.fields.clone())).collect();
    assert_eq!(
        at,
        [(1, vec!["name", "email"]), (3, vec!["name"])],
        "c1's plain events, sealed v4 not among them"
    );
    assert_eq!(
        plaintext_of(store, &catalogue, "c3").await.expect("plaintext_of").len(),
        1,
        "forgotten, still plain"
    );
    let before = payloads().await;
    assert!(
        PLAIN.iter().all(|p| before.iter().any(|s| s.contains(p))),
        "release 1's values are in the table"
    );
    assert_eq!(verify_all(store, |_| {}).await.expect("verify").breaks, vec![]);

    let mut passes = Vec::new();
    let report =
        seal_plaintext(store, &catalogue, &keys(store), |p| passes.push(p.pass)).await.expect("seal");
    assert_eq!((report.sealed, report.erased, report.streams, report.skipped), (4, 1, 3, vec![]));
    assert!(passes.contains(&1) && passes.contains(&2), "progress of both passes");

    let after = payloads().await;
    for plain in PLAIN.iter().chain(&["cy@plain.example"]) {
        assert!(!after.iter().any(|s| s.contains(plain)), "{plain:?} is still in the events table");
    }
    for id in ["c1", "c2", "c3"] {
        assert_eq!(plaintext_of(store, &catalogue, id).await.expect("plaintext_of"), vec![], "{id}");
    }

    let customers = Repository::<ResealCustomer, _>::new(store.clone());
    let ann = customers.load("c1").await.expect("load").state;
    assert_eq!((ann.name.as_str(), ann.email.as_str()), ("Ann Third", "ann@plain.example"));
    let bob = customers.load("c2").await.expect("load").state;
    assert_eq!(
        (bob.name.as_str(), bob.email.as_str()),
        ("Bob Plain", "bob@plain.example"),
        "sealed, same values"
    );
    let cy = customers.load("c3").await.expect("load").state;
    assert_eq!(
        (cy.name.as_str(), cy.email.as_str()),
        ("", "unknown"),
        "a forgotten subject's plain data is erased"
    );

    let all = verify_all(store, |_| {}).await.expect("verify");
    assert_eq!((all.breaks, all.rewrites), (vec![], 4), "intact, with the rewrites recorded");
    let c1 = verify_stream(store, &stream("c1")).await.expect("verify");
    assert_eq!((c1.broken, c1.rewrites, c1.events), (None, 2, 4));
    let records = recorded_rewrites(store, None).await.expect("records");
    assert_eq!(records.len(), 4);
    assert!(records.iter().all(|r| r.reason.contains("plain text")), "each record says why");

    let again = seal_plaintext(store, &catalogue, &keys(store), |_| {}).await.expect("seal again");
    assert_eq!((again.sealed, again.streams), (0, 0), "a second run seals nothing");
    assert_eq!(recorded_rewrites(store, None).await.expect("records").len(), 4, "and records nothing");
    assert_eq!(payloads().await, after, "and changes no payload");

    assert!(keys(store).forget("c1").await.expect("forget"));
    let ann = customers.load("c1").await.expect("load").state;
    assert_eq!(
        (ann.name.as_str(), ann.email.as_str()),
        ("", "unknown"),
        "forgetting now erases the old events too"
    );
    assert_eq!(verify_all(store, |_| {}).await.expect("verify").breaks, vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_plaintext_is_sealed_in_place() {
    let store = MemoryStore::new();
    write_history(&store).await;
    let payloads = || async {
        let events = store.read_all(es_core::Cursor::START, 1_000).await.expect("read");
        events.iter().map(|e| e.payload.get().to_owned()).collect::<Vec<_>>()
    };
    seal_and_check(&store, payloads).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_plaintext_is_sealed_in_place() {
    let (store, dir) = sqlite_store("reseal.db").await;
    write_history(&store).await;
    let raw = sqlx::SqlitePool::connect(&format!("sqlite:{}", dir.path().join("reseal.db").display()))
        .await
        .expect("connect");
    let payloads = || async {
        sqlx::query_scalar::<_, String>("SELECT payload FROM events ORDER BY position")
            .fetch_all(&raw)
            .await
            .expect("select")
    };
    seal_and_check(&store, payloads).await;

    // A payload edited by SQL after the rewrite is tampering, records or not.
    sqlx::query("UPDATE events SET payload = replace(payload, '\"customer\":\"c2\"', '\"customer\":\"c9\"') WHERE stream = ?1 AND stream_version = 1")
        .bind(stream("c2"))
        .execute(&raw)
        .await
        .expect("tamper");
    let check = verify_stream(&store, &stream("c2")).await.expect("verify");
    assert_eq!(check.broken.map(|b| (b.kind, b.version)), Some((BreakKind::Edited, 1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_plaintext_is_sealed_in_place() {
    let store = pg_store("es_reseal").await;
    write_history(&store).await;
    let sql = format!("SELECT payload::text FROM {}.es_events ORDER BY position", store.schema());
    let payloads =
        || async { sqlx::query_scalar::<_, String>(&sql).fetch_all(store.pool()).await.expect("select") };
    seal_and_check(&store, payloads).await;

    let edit = format!(
        "UPDATE {}.es_events SET payload = replace(payload::text, '\"c2\"', '\"c9\"')::json WHERE stream = $1 AND stream_version = 1",
        store.schema()
    );
    sqlx::query(&edit).bind(stream("c2")).execute(store.pool()).await.expect("tamper");
    let check = verify_stream(&store, &stream("c2")).await.expect("verify");
    assert_eq!(check.broken.map(|b| (b.kind, b.version)), Some((BreakKind::Edited, 1)));
    store.drop_schema().await.expect("drop the test schema");
}

/// An events row: position, stream, version, id, name, schema version, payload, metadata, time.
type Row = (i64, String, i64, String, String, i64, String, String, i64);

/// Someone who knows the hash definition edits a rewritten payload and recomputes the chain:
/// the chain verifies, but not against what the rewrite recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_recomputed_after_a_rewrite_is_found() {
    let (store, dir) = sqlite_store("rechain.db").await;
    let events = vec![raw(
        "ResealRegistered",
        serde_json::json!({ "customer": "c1", "name": "Ann Plain", "email": "a@x" }),
    )];
    store.append(&stream("c1"), ExpectedVersion::NoStream, events).await.expect("append");
    store
        .append(
            &stream("c1"),
            ExpectedVersion::Exact(1),
            vec![raw("ResealNoted", serde_json::json!({ "note": "n" }))],
        )
        .await
        .expect("append");
    seal_plaintext(&store, &catalogue(), &keys(&store), |_| {}).await.expect("seal");
    let raw_pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", dir.path().join("rechain.db").display()))
        .await
        .expect("connect");
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT position, stream, stream_version, event_id, name, schema_version, payload, metadata, recorded_at
         FROM events WHERE stream = ?1 ORDER BY stream_version",
    )
    .bind(stream("c1"))
    .fetch_all(&raw_pool)
    .await
    .expect("select");
    let mut prev = ChainHash::GENESIS;
    for (position, s, version, id, name, schema, payload, metadata, at) in rows {
        let payload = if version == 1 {
            r#"{"customer":"c1","email":"forged","name":"forged"}"#.to_owned()
        } else {
            payload
        };
        let id = id.parse().expect("uuid");
        prev = link_hash(&prev, &s, version as u64, id, &name, schema as u32, &payload, &metadata, at);
        sqlx::query("UPDATE events SET payload = ?1, hash = ?2 WHERE position = ?3")
            .bind(&payload)
            .bind(&prev.0[..])
            .bind(position)
            .execute(&raw_pool)
            .await
            .expect("recompute");
    }
    let check = verify_stream(&store, &stream("c1")).await.expect("verify");
    assert_eq!(check.broken.map(|b| (b.kind, b.version)), Some((BreakKind::Rechained, 1)));
    let chain_alone = verify_chain(&store, &stream("c1")).await.expect("verify");
    assert_eq!(chain_alone.broken, None, "without the records, a recomputed chain verifies");
}

/// A stream edited by SQL before the migration is left as it is, reported, and still verifies
/// as tampered: the rewrite does not recompute the edit into a valid chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_stream_is_not_laundered() {
    let (store, dir) = sqlite_store("launder.db").await;
    let registered =
        raw("ResealRegistered", serde_json::json!({ "customer": "c1", "name": "Ann Plain", "email": "a@x" }));
    let note = raw("ResealNoted", serde_json::json!({ "note": "n" }));
    store.append(&stream("c1"), ExpectedVersion::NoStream, vec![registered, note]).await.expect("append");
    let raw_pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", dir.path().join("launder.db").display()))
        .await
        .expect("connect");
    sqlx::query(
        "UPDATE events SET payload = '{\"note\":\"edited\"}' WHERE stream = ?1 AND stream_version = 2",
    )
    .bind(stream("c1"))
    .execute(&raw_pool)
    .await
    .expect("tamper");
    let report = seal_plaintext(&store, &catalogue(), &keys(&store), |_| {}).await.expect("seal");
    assert_eq!(report.sealed, 0);
    assert!(
        matches!(&report.skipped[..], [s] if matches!(&s.reason, SkipReason::Tampered(b) if b.kind == BreakKind::Edited && b.version == 2)),
        "{:?}",
        report.skipped
    );
    let check = verify_stream(&store, &stream("c1")).await.expect("verify");
    assert_eq!(check.broken.map(|b| (b.kind, b.version)), Some((BreakKind::Edited, 2)));
    assert_eq!(recorded_rewrites(&store, None).await.expect("records"), vec![], "nothing recorded");
}
