//! Tracing: one `execute` produces an `es.execute` span with its stream, command, attempts and
//! events recorded, around the store's `es.visit` (the load) and `es.append` spans.
//!
//! A binary of its own: tracing caches per call site whether anyone listens, and tests on other
//! threads without a subscriber would race with this one's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use es_core::{MemoryStore, Repository};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[path = "../examples/bank/domain.rs"]
#[allow(dead_code)]
mod bank;

use bank::{Account, Deposit, Open};

type Fields = BTreeMap<String, String>;

/// Keeps each closed span's name and fields, in closing order.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(String, Fields)>>>);

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}").trim_matches('"').to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
                values.record(&mut Collect(fields));
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            let fields = span.extensions().get::<Fields>().cloned().unwrap_or_default();
            self.0.lock().expect("capture").push((span.name().to_owned(), fields));
        }
    }
}

#[tokio::test]
async fn one_execute_is_traced_with_its_fields() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let accounts = Repository::<Account, _>::new(MemoryStore::new());
    accounts.execute("ann", Open { owner: "Ann".into() }).await.expect("open");
    capture.0.lock().expect("capture").clear();

    accounts.execute("ann", Deposit { amount: 5 }).await.expect("deposit");
    let spans = capture.0.lock().expect("capture").clone();
    let find = |name: &str| spans.iter().find(|(n, _)| n == name).map(|(_, f)| f.clone()).unwrap_or_default();
    let execute = find("es.execute");
    assert_eq!(execute.get("stream").map(String::as_str), Some("Account-ann"), "{spans:?}");
    assert!(execute.get("command").is_some_and(|c| c.ends_with("Deposit")), "{execute:?}");
    assert_eq!(
        (execute.get("attempts").map(String::as_str), execute.get("recorded").map(String::as_str)),
        (Some("1"), Some("1"))
    );
    let append = find("es.append");
    assert_eq!(append.get("backend").map(String::as_str), Some("memory"));
    assert_eq!(append.get("events").map(String::as_str), Some("1"));
    let visit = find("es.visit");
    assert_eq!(
        (visit.get("stream").map(String::as_str), visit.get("rows").map(String::as_str)),
        (Some("Account-ann"), Some("1"))
    );
    let order: Vec<&str> = spans.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(order.last(), Some(&"es.execute"), "the store's spans close inside the command's: {order:?}");
}
