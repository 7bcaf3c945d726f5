//! The relay against the real NATS server (`ES_NATS_URL`, by default the local one) and real
//! stores. Every test publishes to a JetStream stream of its own and deletes it after.

#![allow(missing_docs)]

mod broker;
mod faults;
mod kill;
mod names;
mod publish;

use std::collections::HashMap;

use es_core::integration::{MapError, Outgoing, Translate};
use es_core::{Contract, Event, EventContext, IntegrationEvent};
use es_nats::async_nats::{self, jetstream, Client};
use es_nats::{headers, RelayOptions};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited {
    pub n: u64,
}

/// Maps to two integration events.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Flagged {
    pub n: u64,
}

/// Maps to a message as large as `size` says: over the server's limit, it is parked.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Bulky {
    pub size: usize,
}

#[derive(IntegrationEvent, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[integration(name = "Blob")]
pub struct Blob {
    pub data: String,
}

/// Does not map: parked.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Garbled {
    pub n: u64,
}

#[derive(IntegrationEvent, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[integration(name = "PaymentReceived", version = 2)]
pub struct PaymentReceived {
    pub account: String,
    pub n: u64,
}

#[derive(IntegrationEvent, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[integration(name = "risk.Flag")]
pub struct Flag {
    pub n: u64,
}

#[derive(Contract)]
#[contract(events(Deposited, Flagged, Garbled, Bulky))]
pub struct Payments;

impl Translate<Deposited> for Payments {
    fn translate(&self, e: &Deposited, at: &EventContext<'_>) -> Result<Outgoing, MapError> {
        Outgoing::one(PaymentReceived { account: at.stream.into(), n: e.n })
    }
}

impl Translate<Flagged> for Payments {
    fn translate(&self, e: &Flagged, at: &EventContext<'_>) -> Result<Outgoing, MapError> {
        Outgoing::one(PaymentReceived { account: at.stream.into(), n: e.n })?.and(Flag { n: e.n })
    }
}

impl Translate<Garbled> for Payments {
    fn translate(&self, e: &Garbled, _: &EventContext<'_>) -> Result<Outgoing, MapError> {
        Err(MapError::new(format!("garbled deposit {}", e.n)))
    }
}

impl Translate<Bulky> for Payments {
    fn translate(&self, e: &Bulky, _: &EventContext<'_>) -> Result<Outgoing, MapError> {
        Outgoing::one(Blob { data: "x".repeat(e.size) })
    }
}

/// Options for a stream of the test's own (prefix `t<uuid>`), and the stream's name.
pub fn options() -> (RelayOptions, String) {
    let id = format!("t{}", es_core::Uuid::new_v4().simple());
    (RelayOptions::new(&id).stream(id.to_uppercase()), id.to_uppercase())
}

/// A client of the test server; the panic says how to start NATS.
pub async fn client() -> Client {
    let url = es_nats::url_from_env();
    match async_nats::connect(&url).await {
        Ok(client) => client,
        Err(e) => panic!("these tests need NATS with JetStream ({e})\n{}", es_nats::how_to_start(&url)),
    }
}

/// A message as a consumer reads it back.
#[derive(Debug, Clone)]
pub struct Received {
    pub subject: String,
    pub msg_id: String,
    pub stream: String,
    pub stream_version: u64,
    pub payload: serde_json::Value,
}

/// Every message of `stream`, in the stream's order.
pub async fn read_back(client: &Client, stream: &str) -> Vec<Received> {
    let js = jetstream::new(client.clone());
    let mut s = js.get_stream(stream).await.expect("the stream exists");
    let last = s.info().await.expect("info").state.last_sequence;
    let mut out = Vec::with_capacity(last as usize);
    for seq in 1..=last {
        let m = s.get_raw_message(seq).await.expect("message");
        let header = |k: &str| m.headers.get(k).map(|v| v.as_str().to_owned()).unwrap_or_default();
        out.push(Received {
            subject: m.subject.to_string(),
            msg_id: header(headers::MSG_ID),
            stream: es_nats::unescape_header_value(&header(headers::STREAM)).expect("an escaped stream"),
            stream_version: header(headers::STREAM_VERSION).parse().expect("a version"),
            payload: serde_json::from_slice(&m.payload).expect("JSON"),
        });
    }
    out
}

/// Each message id once, and each stream's messages in version order.
pub fn assert_once_in_order(received: &[Received]) {
    let mut ids = HashMap::new();
    for r in received {
        if let Some(before) = ids.insert(r.msg_id.clone(), r) {
            panic!("message {} arrived twice: {before:?} and {r:?}", r.msg_id);
        }
    }
    let mut last: HashMap<&str, u64> = HashMap::new();
    for r in received {
        let previous = last.insert(&r.stream, r.stream_version).unwrap_or(0);
        assert!(
            r.stream_version >= previous,
            "{} out of order: version {} after {previous}",
            r.stream,
            r.stream_version
        );
    }
}

pub async fn delete_stream(client: &Client, stream: &str) {
    jetstream::new(client.clone()).delete_stream(stream).await.expect("delete the test stream");
}
