//! `streams`, `show`, `tail`, `stats`: what the store holds.

use std::time::Duration;

use es_core::{Cursor, StoredEvent};
use serde_json::{json, Value};

use crate::error::CliError;
use crate::escape::escape;
use crate::sealed::{self, Subjects};
use crate::{Output, Store};

pub async fn streams<S: Store>(store: &S, prefix: &str, out: &mut Output<'_>) -> Result<(), CliError> {
    let rows = store.streams(prefix).await?;
    if out.json {
        // A stream's version is its event count: versions start at 1, without gaps.
        let list: Vec<Value> =
            rows.iter().map(|r| json!({ "stream": r.stream, "events": r.version })).collect();
        return out.json_value(&Value::Array(list));
    }
    writeln!(out.w, "{:>8}  stream", "events")?;
    for r in &rows {
        writeln!(out.w, "{:>8}  {}", r.version, escape(&r.stream))?;
    }
    writeln!(out.w, "{} streams", rows.len())?;
    Ok(())
}

/// One event as JSON: every field, payload and metadata as JSON values, and its sealed
/// personal fields with their state.
pub fn event_json(e: &StoredEvent, fields: &[sealed::Field]) -> Value {
    json!({
        "stream": e.stream,
        "version": e.stream_version,
        "position": e.position,
        "cursor": e.cursor.to_string(),
        "id": e.id.to_string(),
        "recorded_at": humantime::format_rfc3339_micros(e.recorded_at).to_string(),
        "name": e.name,
        "schema_version": e.schema_version,
        "rust_type": rust_type(&e.name, e.schema_version),
        "metadata": serde_json::to_value(&e.metadata).unwrap_or(Value::Null),
        "payload": serde_json::from_str::<Value>(e.payload.get()).unwrap_or(Value::Null),
        "sealed": sealed::json(fields),
    })
}

/// The Rust type this program decodes `name` at `version` with, when it registered one.
fn rust_type(name: &str, version: u32) -> Option<&'static str> {
    let events = es_core::registry::events();
    let exact = events.iter().find(|r| r.name == name && r.version == version);
    exact.or_else(|| events.iter().find(|r| r.name == name)).map(|r| r.rust_type)
}

/// One event on a line, every stored text escaped, sealed fields shown by their state.
fn event_line(e: &StoredEvent, fields: &[sealed::Field]) -> String {
    let typed = rust_type(&e.name, e.schema_version).map(|t| format!(" ({t})")).unwrap_or_default();
    let meta = if e.metadata.is_empty() {
        String::new()
    } else {
        format!("  metadata {}", escape(&serde_json::to_string(&e.metadata).unwrap_or_default()))
    };
    format!(
        "{:>5} {:>9}  {}  {} v{}{typed}  {}{meta}",
        e.stream_version,
        e.position,
        humantime::format_rfc3339_micros(e.recorded_at),
        escape(&e.name),
        e.schema_version,
        sealed::text(e.payload.get(), fields)
    )
}

pub async fn show<S: Store>(store: &S, stream: &str, out: &mut Output<'_>) -> Result<(), CliError> {
    let mut events = Vec::new();
    loop {
        let page = store.read_stream(stream, events.len() as u64 + 1, 1_000).await?;
        let n = page.len();
        events.extend(page);
        if n < 1_000 {
            break;
        }
    }
    if events.is_empty() {
        return Err(CliError::new(format!("no stream `{stream}` in this store (`es streams` lists them)")));
    }
    let mut subjects = Subjects::default();
    let mut fields = Vec::with_capacity(events.len());
    for e in &events {
        fields.push(subjects.fields(store, e.payload.get()).await);
    }
    if out.json {
        let list = events.iter().zip(&fields).map(|(e, f)| event_json(e, f)).collect();
        return out.json_value(&Value::Array(list));
    }
    writeln!(out.w, "{}: {} events", escape(stream), events.len())?;
    writeln!(out.w, "{:>5} {:>9}  {:<27}  event", "ver", "position", "recorded at")?;
    for (e, f) in events.iter().zip(&fields) {
        writeln!(out.w, "{}", event_line(e, f))?;
    }
    Ok(())
}

pub async fn tail<S: Store>(
    store: &S,
    all: bool,
    count: Option<u64>,
    out: &mut Output<'_>,
) -> Result<(), CliError> {
    let mut after = if all { Cursor::START } else { store.head().await? };
    let mut watch = store.watch();
    let mut printed = 0;
    let mut subjects = Subjects::default();
    loop {
        let page = store.read_all(after, 256).await?;
        for e in &page {
            if count.is_some_and(|c| printed >= c) {
                return Ok(());
            }
            let fields = subjects.fields(store, e.payload.get()).await;
            if out.json {
                writeln!(out.w, "{}", event_json(e, &fields))?;
            } else {
                writeln!(out.w, "{:<20} {}", escape(&e.stream), event_line(e, &fields))?;
            }
            out.w.flush()?;
            after = e.cursor;
            printed += 1;
        }
        if count.is_some_and(|c| printed >= c) {
            return Ok(());
        }
        if page.is_empty() {
            match &mut watch {
                Some(w) => drop(tokio::time::timeout(Duration::from_millis(500), w.changed()).await),
                None => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
}

pub async fn stats<S: Store>(store: &S, out: &mut Output<'_>) -> Result<(), CliError> {
    let names = store.event_names().await?;
    let streams = store.streams("").await?.len();
    let events: u64 = names.iter().map(|n| n.events).sum();
    let head = store.head().await?;
    let checkpoints = store.checkpoint_names().await?.len();
    let mut parked = 0;
    for name in store.parked_consumers().await? {
        parked += store.parked(&name).await?.len();
    }
    if out.json {
        let by_name: serde_json::Map<String, Value> =
            names.iter().map(|n| (n.name.clone(), json!(n.events))).collect();
        return out.json_value(&json!({
            "backend": store.backend(), "events": events, "streams": streams, "head": head.to_string(),
            "checkpoints": checkpoints, "parked": parked, "by_name": by_name,
        }));
    }
    writeln!(out.w, "store: {}", store.backend())?;
    writeln!(out.w, "events: {events} in {streams} streams; head of the global order: {head}")?;
    writeln!(out.w, "checkpoints: {checkpoints}; parked events: {parked}")?;
    writeln!(out.w, "by name:")?;
    for n in &names {
        writeln!(out.w, "  {:>8}  {}", n.events, escape(&n.name))?;
    }
    Ok(())
}
