//! W12: verifying the hash chain of 1,000,000 events on PostgreSQL, against a hand-written loop
//! (the same keyset pages, SHA-256 over the same bytes, compared with the stored hash).
//! W13: decoding an event with two personal fields (opened with the subject's key) against the
//! same event without personal fields. W14: `load_verified` against `load` on SQLite.

use std::hint::black_box;

use es_core::integrity::verify_all;
use es_core::personal::Keyring;
use es_core::{Aggregate, Apply, Event, EventStore, ExpectedVersion, Handle, NewEvent, Repository};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::measure::{row, runtime, stats, time, time_async};

const EVENTS: u64 = 1_000_000;
const STREAMS: u64 = 1_000;
const PAGE: i64 = 2_000;

pub fn verify_pg(runs: usize) {
    runtime().block_on(async {
        let (store, _) = crate::sql::pg().await;
        for s in 0..STREAMS {
            let batch = (0..EVENTS / STREAMS)
                .map(|n| NewEvent::new("MoneyDeposited", 3, serde_json::json!({ "amount": n, "currency": "EUR", "memo": "" })))
                .collect();
            store.append(&format!("Account-{s}"), ExpectedVersion::NoStream, batch).await.expect("fill");
        }
        let select = format!(
            "SELECT stream, stream_version, event_id, name, schema_version, payload::text, metadata::text, recorded_us, hash
             FROM {}.es_events WHERE (stream, stream_version) > ($1, $2) ORDER BY stream, stream_version LIMIT $3",
            store.schema()
        );
        let (mut framework, mut hand) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let (t, report) = time_async(verify_all(&store, |_| {})).await;
            let report = report.expect("verify");
            assert_eq!((report.events, report.breaks.len()), (EVENTS, 0));
            framework.push(EVENTS as f64 / t.as_secs_f64() / 1e3);

            let (t, checked) = time_async(async {
                let (mut stream, mut version, mut prev, mut checked) = (String::new(), 0i64, [0u8; 32], 0u64);
                loop {
                    let rows = sqlx::query(&select).bind(&stream).bind(version).bind(PAGE).fetch_all(store.pool()).await.expect("select");
                    for r in &rows {
                        let s: &str = r.get(0);
                        if s != stream {
                            (stream, prev) = (s.to_owned(), [0; 32]);
                        }
                        version = r.get(1);
                        let (name, payload, metadata): (&str, &str, &str) = (r.get(3), r.get(5), r.get(6));
                        let mut h = Sha256::new();
                        h.update(prev);
                        h.update((s.len() as u64).to_be_bytes());
                        h.update(s.as_bytes());
                        h.update((version as u64).to_be_bytes());
                        h.update(r.get::<es_core::Uuid, _>(2).as_bytes());
                        h.update((name.len() as u64).to_be_bytes());
                        h.update(name.as_bytes());
                        h.update((r.get::<i32, _>(4) as u32).to_be_bytes());
                        for text in [payload, metadata] {
                            h.update((text.len() as u64).to_be_bytes());
                            h.update(text.as_bytes());
                        }
                        h.update(r.get::<i64, _>(7).to_be_bytes());
                        prev = h.finalize().into();
                        assert_eq!(r.get::<&[u8], _>(8), &prev[..], "a clean chain");
                        checked += 1;
                    }
                    if rows.len() < PAGE as usize {
                        return checked;
                    }
                }
            })
            .await;
            assert_eq!(checked, EVENTS);
            hand.push(EVENTS as f64 / t.as_secs_f64() / 1e3);
        }
        row("W12 verify_pg", "k events/s", stats(framework), Some(stats(hand)), true);
        crate::sql::done(store).await;
    });
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Registered {
    #[event(subject)]
    pub customer: String,
    #[event(personal)]
    pub name: String,
    #[event(personal)]
    pub email: String,
    pub plan: String,
}

/// The same event, nothing personal.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Plain")]
pub struct Plain {
    pub customer: String,
    pub name: String,
    pub email: String,
    pub plan: String,
}

const DECODES: usize = 200_000;

pub fn decode_personal(runs: usize) {
    let keys = Keyring::default();
    let sealed = keys
        .scope(|| {
            Registered {
                customer: "c-42".into(),
                name: "Ann Example".into(),
                email: "ann@example.com".into(),
                plan: "gold".into(),
            }
            .encode_payload()
        })
        .expect("encode");
    let plain = Plain {
        customer: "c-42".into(),
        name: "Ann Example".into(),
        email: "ann@example.com".into(),
        plan: "gold".into(),
    }
    .encode_payload()
    .expect("encode");
    let (mut personal, mut baseline) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (t, ()) = time(|| {
            keys.scope(|| {
                for _ in 0..DECODES {
                    black_box(
                        Registered::decode_version(1, black_box(sealed.payload.get())).expect("decode"),
                    );
                }
            })
        });
        personal.push(DECODES as f64 / t.as_secs_f64() / 1e3);
        let (t, ()) = time(|| {
            for _ in 0..DECODES {
                black_box(Plain::decode_version(1, black_box(plain.payload.get())).expect("decode"));
            }
        });
        baseline.push(DECODES as f64 / t.as_secs_f64() / 1e3);
    }
    row("W13 decode_personal", "k events/s", stats(personal), Some(stats(baseline)), true);
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Added {
    pub n: u64,
}

#[derive(Aggregate, Default)]
#[aggregate(events(Added), error = std::convert::Infallible)]
pub struct Tally {
    pub total: u64,
}

impl Apply<Added> for Tally {
    fn apply(&mut self, e: &Added) {
        self.total += e.n;
    }
}

impl Handle<u64> for Tally {
    fn handle(&self, n: &u64) -> Result<Vec<TallyEvent>, Self::Error> {
        Ok(vec![Added { n: *n }.into()])
    }
}

pub fn load_verified(runs: usize) {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = es_sqlite::SqliteStore::open(dir.path().join("w14.db")).await.expect("open");
        let batch = (0..1_000u64).map(|n| NewEvent::new("Added", 1, serde_json::json!({ "n": n }))).collect();
        store.append("Tally-t", ExpectedVersion::NoStream, batch).await.expect("fill");
        let tallies = Repository::<Tally, _>::new(store.clone());
        let (mut verified, mut plain) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let (t, ()) = time_async(async {
                for _ in 0..50 {
                    black_box(tallies.load_verified("t").await.expect("load"));
                }
            })
            .await;
            verified.push(t.as_secs_f64() * 1e3 / 50.0);
            let (t, ()) = time_async(async {
                for _ in 0..50 {
                    black_box(tallies.load("t").await.expect("load"));
                }
            })
            .await;
            plain.push(t.as_secs_f64() * 1e3 / 50.0);
        }
        row("W14 load_verified_sqlite", "ms/load", stats(verified), Some(stats(plain)), false);
    });
}
