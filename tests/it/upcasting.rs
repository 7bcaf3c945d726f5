//! Versioned events: old records read as current types through typed and JSON steps, renames,
//! the registry check, and the testing helpers.

use es_core::registry::{check_lists, EventRegistration, RegistryProblem};
use es_core::upcast::JsonUpcaster;
use es_core::{Aggregate, Apply, Event, EventStore, ExpectedVersion, NewEvent, Repository};
use es_testing::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::bank::*;

#[derive(Deserialize)]
struct Fixture {
    stream: String,
    name: String,
    schema_version: u32,
    payload: Value,
}

fn fixture(file: &str) -> Vec<Fixture> {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Records written by two older releases, then one by this one, read back from SQLite.
#[tokio::test]
async fn records_of_older_releases_read_as_current_types(
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let store = es_sqlite::SqliteStore::open(dir.path().join("bank.db")).await?;
    for f in fixture("bank_release_1.json").into_iter().chain(fixture("bank_release_2.json")) {
        store
            .append(&f.stream, ExpectedVersion::Any, vec![NewEvent::new(f.name, f.schema_version, f.payload)])
            .await?;
    }
    let accounts = Repository::<Account, _>::new(store.clone());
    accounts.execute("old", Deposit { amount: 5 }).await?;

    let events: Vec<AccountEvent> = store
        .read_stream("Account-old", 1, 100)
        .await?
        .iter()
        .map(es_core::codec::decode)
        .collect::<Result<_, _>>()?;
    let deposit =
        |amount, currency: &str| MoneyDeposited { amount, currency: currency.into(), memo: String::new() };
    let expected: Vec<AccountEvent> = vec![
        AccountOpened { owner: "Olga".into() }.into(),
        deposit(100, "EUR").into(),
        MoneyWithdrawn { amount: 30 }.into(),
        deposit(50, "CHF").into(),
        MoneyWithdrawn { amount: 20 }.into(),
        deposit(5, "EUR").into(),
    ];
    assert_eq!(events, expected, "v1, v2 and v3 deposits and the renamed withdrawal read as current types");
    assert_eq!(accounts.load("old").await?.state.balance, 105);
    Ok(())
}

#[test]
fn one_upcast_at_a_time() {
    assert_upcasts::<AccountEvent>(
        "MoneyDeposited",
        1,
        json!({ "amount": 7 }),
        MoneyDeposited { amount: 7, currency: "EUR".into(), memo: String::new() },
    );
    assert_upcasts::<AccountEvent>("CashWithdrawn", 1, json!({ "amount": 3 }), MoneyWithdrawn { amount: 3 });
}

#[test]
fn scenarios_can_start_from_stored_records() {
    Account::given_stored([
        ("AccountOpened", 1, json!({ "owner": "Olga" })),
        ("MoneyDeposited", 1, json!({ "amount": 10 })),
        ("MoneyDeposited", 2, json!({ "amount": 5, "currency": "EUR" })),
    ])
    .when(Withdraw { amount: 15 })
    .then((MoneyWithdrawn { amount: 15 },));
}

// A chain that mixes steps: version 1 exists only as JSON (its struct is gone), version 2 is a
// struct kept for its typed step, version 3 is current.
fn price_v1_to_v2(mut v: Value) -> Value {
    let cents = v["cents"].as_str().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    v["cents"] = json!(cents);
    v
}
es_core::json_upcaster!("PriceSet", 1 => price_v1_to_v2);

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "PriceSet", version = 2)]
pub struct PriceSetV2 {
    cents: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(version = 3, upcast_from = PriceSetV2)]
pub struct PriceSet {
    cents: u64,
    currency: String,
}

impl From<PriceSetV2> for PriceSet {
    fn from(old: PriceSetV2) -> Self {
        PriceSet { cents: old.cents, currency: "EUR".into() }
    }
}

#[derive(Aggregate, Default, Debug)]
#[aggregate(events(PriceSet), error = String)]
pub struct Product {
    cents: u64,
}

impl Apply<PriceSet> for Product {
    fn apply(&mut self, e: &PriceSet) {
        self.cents = e.cents;
    }
}

#[test]
fn json_and_typed_steps_mix_in_one_chain() {
    let expected = PriceSet { cents: 250, currency: "EUR".into() };
    assert_upcasts::<ProductEvent>("PriceSet", 1, json!({ "cents": "250" }), expected.clone());
    assert_upcasts::<ProductEvent>("PriceSet", 2, json!({ "cents": 250 }), expected);
    let product = Product::given_stored([("PriceSet", 1, json!({ "cents": "99" }))]);
    assert_eq!(product.state().cents, 99);
}

#[test]
fn this_programs_registry_is_consistent() {
    assert_event_registry_ok();
}

fn event(
    name: &'static str,
    version: u32,
    rust_type: &'static str,
    upcast_from: Option<(&'static str, u32)>,
) -> EventRegistration {
    EventRegistration { name, version, rust_type, renamed_from: &[], upcast_from }
}

fn upcaster(name: &'static str, from: u32, declared_in: &'static str) -> JsonUpcaster {
    JsonUpcaster { name, from, upcast: |v| v, declared_in }
}

#[test]
fn the_registry_check_catches_each_planted_mistake() {
    let events = [
        event("Deposited", 3, "app::Deposited", Some(("Deposited", 1))), // skips version 2
        event("Deposited", 1, "app::DepositedV1", None),
        event("Opened", 1, "app::Opened", None),
        event("Opened", 1, "legacy::Opened", None), // same name and version as app::Opened
        event("Priced", 4, "app::Priced", None),
    ];
    let upcasters = [
        upcaster("Priced", 1, "app::upcasts"),
        upcaster("Priced", 1, "app::more_upcasts"), // two for one key
        upcaster("Priced", 3, "app::upcasts"),      // nothing from 2: a gap
        upcaster("Closed", 1, "app::upcasts"),      // no such event
    ];
    let problems = check_lists(&events, &upcasters);
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 5, "{shown:#?}");
    assert!(problems.contains(&RegistryProblem::DuplicateVersion {
        name: "Opened".into(),
        version: 1,
        rust_types: vec!["app::Opened".into(), "legacy::Opened".into()],
    }));
    assert!(problems.contains(&RegistryProblem::TypedChainGap {
        rust_type: "app::Deposited".into(),
        version: 3,
        from_version: 1
    }));
    assert!(problems.contains(&RegistryProblem::JsonChainGap {
        name: "Priced".into(),
        missing_from: 2,
        to: 4
    }));
    assert!(
        shown.iter().any(|s| s
            == "two upcasters for `Priced` from version 1 (in app::more_upcasts and app::upcasts): keep one"),
        "{shown:#?}"
    );
    assert!(
        shown.iter().any(|s| s
            .starts_with("the upcaster for `Closed` from version 1 (in app::upcasts) names no known event")),
        "{shown:#?}"
    );

    // The same lists in another order give the same report.
    let mut reversed_events = events;
    reversed_events.reverse();
    let mut reversed_upcasters = upcasters;
    reversed_upcasters.reverse();
    assert_eq!(check_lists(&reversed_events, &reversed_upcasters), problems);
}
