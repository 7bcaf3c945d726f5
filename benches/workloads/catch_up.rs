//! W9: a projection catching up on 1,000,000 events from PostgreSQL (the balance per owner over
//! 1,000 accounts), against hand-written paged SELECTs folded into a hand-written enum.

use es_core::{EventStore, ExpectedVersion, NewEvent, ProjectionRunner};
use serde_json::value::RawValue;
use sqlx::Row;

use crate::measure::{row, runtime, stats, time_async};
use crate::raw;
use crate::read_model::BalancePerOwner;

const EVENTS: u64 = 1_000_000;
const ACCOUNTS: u64 = 1_000;
const PAGE: i64 = 10_000;

pub fn run(runs: usize) {
    runtime().block_on(async {
        let (store, _) = crate::sql::pg().await;
        for a in 0..ACCOUNTS {
            let stream = format!("Account-{a}");
            let mut batch = vec![NewEvent::new("AccountOpened", 1, serde_json::json!({ "owner": format!("o{}", a % 100) }))];
            for n in 1..EVENTS / ACCOUNTS {
                let mut e = NewEvent::new("MoneyDeposited", 3, serde_json::Value::Null);
                e.payload = RawValue::from_string(raw::deposit_payload(n % 100)).expect("json");
                batch.push(e);
            }
            store.append(&stream, ExpectedVersion::NoStream, batch).await.expect("fill");
        }
        let select = format!(
            "SELECT position, stream, name, payload::text AS payload FROM {}.es_events WHERE position > $1 ORDER BY position LIMIT $2",
            store.schema()
        );
        let (mut framework, mut hand) = (Vec::new(), Vec::new());
        for run in 0..runs {
            let (t, read) = time_async(async {
                let mut runner = ProjectionRunner::<BalancePerOwner, _>::start(format!("w9-{run}"), store.clone())
                    .await
                    .expect("start")
                    .with_batch(PAGE as usize);
                runner.catch_up().await.expect("catch up")
            })
            .await;
            assert_eq!(read as u64, EVENTS);
            framework.push(EVENTS as f64 / t.as_secs_f64() / 1e3);

            let (t, total) = time_async(async {
                let (mut after, mut owners, mut balances) = (0i64, std::collections::HashMap::new(), std::collections::HashMap::<String, u64>::new());
                loop {
                    let rows = sqlx::query(&select).bind(after).bind(PAGE).fetch_all(store.pool()).await.expect("select");
                    for r in &rows {
                        let stream: &str = r.get("stream");
                        match raw::parse(r.get("name"), r.get("payload")).expect("parse") {
                            raw::RawEvent::Opened(o) => {
                                owners.insert(stream.to_owned(), o.owner);
                            }
                            raw::RawEvent::Deposited(d) => *balances.entry(owners[stream].clone()).or_default() += d.amount,
                            raw::RawEvent::Withdrawn(_) => {}
                        }
                    }
                    match rows.last() {
                        Some(last) => after = last.get("position"),
                        None => return balances.values().sum::<u64>(),
                    }
                }
            })
            .await;
            assert!(total > 0);
            hand.push(EVENTS as f64 / t.as_secs_f64() / 1e3);
        }
        row("W9 catch_up_pg", "k events/s", stats(framework), Some(stats(hand)), true);
        crate::sql::done(store).await;
    });
}
