//! W15: the relay publishing 50,000 deposits from PostgreSQL to NATS JetStream as
//! `PaymentReceived` (acks awaited before each checkpoint), against a hand-written loop: the
//! same paged SELECTs, the same JSON and headers, async-nats publishes with their acks awaited,
//! a checkpoint row upserted per page. Each run publishes to a JetStream stream of its own.

use es_core::{EventStore, ExpectedVersion, NewEvent};
use es_nats::async_nats::jetstream::{self, message::PublishMessage};
use es_nats::async_nats::HeaderMap;
use es_nats::{headers, Relay, RelayOptions};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sqlx::Row;

use crate::contract::BankContract;
use crate::measure::{row, runtime, stats, time_async};

const EVENTS: u64 = 50_000;
const ACCOUNTS: u64 = 500;
const PAGE: i64 = 500;

#[derive(Deserialize)]
struct Deposit {
    amount: u64,
    currency: String,
}

#[derive(Serialize)]
struct Payment<'a> {
    account: &'a str,
    amount: u64,
    currency: &'a str,
}

pub fn run(runs: usize) {
    runtime().block_on(async {
        let (store, _) = crate::sql::pg().await;
        for a in 0..ACCOUNTS {
            let batch = (0..EVENTS / ACCOUNTS)
                .map(|n| {
                    let mut e = NewEvent::new("MoneyDeposited", 3, serde_json::Value::Null);
                    e.payload = RawValue::from_string(crate::raw::deposit_payload(n % 100)).expect("json");
                    e
                })
                .collect();
            store.append(&format!("Account-{a}"), ExpectedVersion::NoStream, batch).await.expect("fill");
        }
        let client = es_nats::async_nats::connect(es_nats::url_from_env())
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", es_nats::how_to_start(&es_nats::url_from_env())));
        let js = jetstream::new(client.clone());
        let schema = store.schema().to_owned();
        sqlx::query(&format!("CREATE TABLE {schema}.raw_relay (name text PRIMARY KEY, commit_no bigint, position bigint)"))
            .execute(store.pool())
            .await
            .expect("raw checkpoint table");
        let select = format!(
            "SELECT commit_no, position, stream, stream_version, event_id, payload::text FROM {schema}.es_events
             WHERE (commit_no, position) > ($1, $2) ORDER BY commit_no, position LIMIT $3"
        );
        let (mut framework, mut hand) = (Vec::new(), Vec::new());
        for run in 0..runs {
            let prefix = format!("w15f{run}{}", es_core::Uuid::new_v4().simple());
            let options = RelayOptions::new(&prefix).batch(PAGE as usize);
            let (t, read) = time_async(async {
                let mut relay = Relay::start(format!("w15-{run}"), BankContract, store.clone(), client.clone(), options.clone())
                    .await
                    .expect("start");
                relay.catch_up().await.expect("catch up")
            })
            .await;
            assert_eq!(read as u64, EVENTS);
            framework.push(EVENTS as f64 / t.as_secs_f64() / 1e3);
            js.delete_stream(prefix.to_uppercase()).await.expect("delete");

            let prefix = format!("w15r{run}{}", es_core::Uuid::new_v4().simple());
            let subject = format!("{prefix}.PaymentReceived");
            js.create_stream(jetstream::stream::Config {
                name: prefix.to_uppercase(),
                subjects: vec![format!("{prefix}.>")],
                duplicate_window: std::time::Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .expect("stream");
            let (t, published) = time_async(async {
                let (mut after, mut published) = ((0i64, 0i64), 0u64);
                loop {
                    let rows = sqlx::query(&select).bind(after.0).bind(after.1).bind(PAGE).fetch_all(store.pool()).await.expect("select");
                    let mut acks = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let (stream, version, id): (&str, i64, es_core::Uuid) = (r.get(2), r.get(3), r.get(4));
                        let d: Deposit = serde_json::from_str(r.get(5)).expect("deposit");
                        let account = stream.strip_prefix("Account-").unwrap_or(stream);
                        let payload = serde_json::to_vec(&Payment { account, amount: d.amount, currency: &d.currency }).expect("json");
                        let mut h = HeaderMap::new();
                        h.insert(headers::MSG_ID, format!("raw:{id}:0").as_str());
                        h.insert(headers::NAME, "PaymentReceived");
                        h.insert(headers::VERSION, "1");
                        h.insert(headers::EVENT_ID, id.to_string().as_str());
                        h.insert(headers::STREAM, stream);
                        h.insert(headers::STREAM_VERSION, version.to_string().as_str());
                        h.insert(headers::POSITION, r.get::<i64, _>(1).to_string().as_str());
                        let publish = PublishMessage::build().payload(payload.into()).headers(h);
                        acks.push(js.send_publish(subject.clone(), publish).await.expect("publish"));
                    }
                    for ack in acks {
                        ack.await.expect("ack");
                        published += 1;
                    }
                    let Some(last) = rows.last() else { return published };
                    after = (last.get(0), last.get(1));
                    sqlx::query(&format!(
                        "INSERT INTO {schema}.raw_relay VALUES ('raw', $1, $2)
                         ON CONFLICT (name) DO UPDATE SET commit_no = excluded.commit_no, position = excluded.position"
                    ))
                    .bind(after.0)
                    .bind(after.1)
                    .execute(store.pool())
                    .await
                    .expect("checkpoint");
                }
            })
            .await;
            assert_eq!(published, EVENTS);
            hand.push(EVENTS as f64 / t.as_secs_f64() / 1e3);
            js.delete_stream(prefix.to_uppercase()).await.expect("delete");
        }
        row("W15 relay_pg_to_nats", "k events/s", stats(framework), Some(stats(hand)), true);
        crate::sql::done(store).await;
    });
}
