//! W8: decoding 1,000,000 stored deposits of schema version 1, upcast through two typed steps
//! (v1 -> v2 -> v3), against 1,000,000 stored at the current version 3. Both go through
//! `es_core::codec::decode`, the path `Repository::load` and projections use.

use std::hint::black_box;
use std::time::SystemTime;

use es_core::{Metadata, StoredEvent, Uuid};
use serde_json::value::RawValue;

use crate::bank::AccountEvent;
use crate::measure::{row, stats, time};

const EVENTS: usize = 1_000_000;

fn stored(version: u32, payload: String, i: usize) -> StoredEvent {
    StoredEvent {
        id: Uuid::nil(),
        stream: "Account-bench".to_owned(),
        stream_version: i as u64 + 1,
        position: i as u64 + 1,
        cursor: es_core::Cursor::at(i as u64 + 1),
        name: "MoneyDeposited".to_owned(),
        schema_version: version,
        payload: RawValue::from_string(payload).expect("valid JSON"),
        metadata: Metadata::default(),
        recorded_at: SystemTime::UNIX_EPOCH,
    }
}

fn decode_all(events: &[StoredEvent]) -> u64 {
    let mut total = 0;
    for e in events {
        match es_core::codec::decode::<AccountEvent>(e) {
            Ok(AccountEvent::MoneyDeposited(d)) => total += d.amount,
            other => panic!("unexpected {other:?}"),
        }
    }
    total
}

pub fn run(runs: usize) {
    let v1: Vec<StoredEvent> =
        (0..EVENTS).map(|i| stored(1, format!(r#"{{"amount":{}}}"#, i % 1000), i)).collect();
    let v3: Vec<StoredEvent> = (0..EVENTS)
        .map(|i| stored(3, format!(r#"{{"amount":{},"currency":"EUR","memo":""}}"#, i % 1000), i))
        .collect();
    let (mut upcast_rates, mut current_rates) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (t, sum_v1) = time(|| decode_all(black_box(&v1)));
        upcast_rates.push(EVENTS as f64 / t.as_secs_f64());
        let (t, sum_v3) = time(|| decode_all(black_box(&v3)));
        current_rates.push(EVENTS as f64 / t.as_secs_f64());
        assert_eq!(sum_v1, sum_v3, "both decode the same amounts");
    }
    let (upcast, current) = (stats(upcast_rates).scaled(1e3), stats(current_rates).scaled(1e3));
    row("W8 upcast_decode", "k events/s", upcast, Some(current), true);
}
