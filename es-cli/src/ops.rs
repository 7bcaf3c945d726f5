//! `projections`, `verify`, `parked`, `forget`: what runs on the store, and its health.

use es_core::consume::versions;
use es_core::inspect::Inspect;
use es_core::integrity::verify_all;
use es_core::worker::status;
use serde_json::{json, Value};

use crate::error::CliError;
use crate::escape::escape;
use crate::progress::Progress;
use crate::{AnyOptions, AnyStore, Output, Store};

fn time(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The checkpoints with their lease and lag; a projection built in versions (`name@active`
/// records) shows which version readers read.
pub async fn projections<S: Store>(store: &S, out: &mut Output<'_>) -> Result<(), CliError> {
    let mut rows = Vec::new();
    let mut active = Vec::new();
    for name in store.checkpoint_names().await? {
        match name.strip_suffix("@active").filter(|p| versions::active_key(p) == name) {
            Some(projection) => {
                active.push((projection.to_owned(), versions::active_version(store, projection).await?))
            }
            None => rows.push(status(store, &name).await?),
        }
    }
    if out.json {
        let list = rows.iter().map(|s| {
            json!({
                "name": s.name,
                "cursor": s.cursor.map(|c| c.to_string()),
                "lag": s.lag,
                "saved_at": s.saved_at.map(time),
                "owner": s.lease.as_ref().map(|l| l.owner.clone()),
                "epoch": s.lease.as_ref().map(|l| l.epoch),
                "renewed_at": s.lease.as_ref().map(|l| time(l.renewed_at)),
            })
        });
        let versions =
            active.iter().map(|(name, version)| json!({ "name": name, "active_version": version }));
        return out.json_value(&Value::Array(list.chain(versions).collect()));
    }
    writeln!(
        out.w,
        "{:<28} {:>12} {:>8}  {:<24} {:<20}",
        "name", "position", "lag", "owner (epoch)", "renewed"
    )?;
    for s in &rows {
        let (owner, renewed) = match &s.lease {
            Some(l) => (format!("{} ({})", escape(&l.owner), l.epoch), time(l.renewed_at)),
            None => ("-".to_owned(), "-".to_owned()),
        };
        let position = s.cursor.map_or("-".to_owned(), |c| c.to_string());
        writeln!(
            out.w,
            "{:<28} {:>12} {:>8}  {:<24} {:<20}",
            escape(&s.name),
            position,
            s.lag,
            owner,
            renewed
        )?;
    }
    for (name, version) in &active {
        writeln!(out.w, "{}: readers read version {version}", escape(name))?;
    }
    Ok(())
}

/// Verifies the chain; `Ok(false)` when a link is broken.
pub async fn verify<S: Store>(store: &S, out: &mut Output<'_>) -> Result<bool, CliError> {
    let mut progress = Progress::new("verify", store.head().await?.position(), out.interactive);
    let report = verify_all(store, |p| progress.at(p.events, out.w)).await?;
    progress.finish(report.events, out.w);
    if out.json {
        let breaks: Vec<Value> = report
            .breaks
            .iter()
            .map(|b| json!({ "stream": b.stream, "version": b.version, "position": b.position, "kind": format!("{:?}", b.kind), "message": b.to_string() }))
            .collect();
        out.json_value(&json!({ "events": report.events, "streams": report.streams, "breaks": breaks }))?;
    } else if report.breaks.is_empty() {
        writeln!(
            out.w,
            "verified {} events in {} streams: every chain holds",
            report.events, report.streams
        )?;
    } else {
        writeln!(
            out.w,
            "verified {} events in {} streams: {} broken",
            report.events,
            report.streams,
            report.breaks.len()
        )?;
        for b in &report.breaks {
            writeln!(out.w, "  {}", escape(&b.to_string()))?;
        }
    }
    Ok(report.breaks.is_empty())
}

pub async fn parked<S: Store>(store: &S, name: Option<&str>, out: &mut Output<'_>) -> Result<(), CliError> {
    let names = match name {
        Some(n) => vec![n.to_owned()],
        None => store.parked_consumers().await?,
    };
    let mut rows = Vec::new();
    for n in &names {
        rows.extend(store.parked(n).await?);
    }
    if out.json {
        let list = rows.iter().map(|p| {
            json!({
                "reactor": p.reactor, "position": p.event.position, "stream": p.event.stream,
                "version": p.event.stream_version, "name": p.event.name, "attempts": p.attempts,
                "error": p.error, "parked_at": time(p.parked_at),
            })
        });
        return out.json_value(&Value::Array(list.collect()));
    }
    writeln!(out.w, "{} parked events", rows.len())?;
    for p in &rows {
        writeln!(
            out.w,
            "  {} at {} ({} v{}, {}): {} attempts: {}",
            escape(&p.reactor),
            p.event.position,
            escape(&p.event.stream),
            p.event.stream_version,
            escape(&p.event.name),
            p.attempts,
            escape(&p.error)
        )?;
    }
    Ok(())
}

pub async fn forget(store: &AnyStore, subject: &str, out: &mut Output<'_>) -> Result<(), CliError> {
    let report = store.forget(subject).await?;
    if out.json {
        let plaintext: Vec<Value> = report
            .plaintext
            .iter()
            .map(|p| json!({ "stream": p.stream, "version": p.version, "position": p.position, "name": p.name, "fields": p.fields }))
            .collect();
        return out
            .json_value(&json!({ "subject": subject, "had_key": report.had_key, "plaintext": plaintext }));
    }
    let subject = escape(subject);
    if report.had_key {
        writeln!(out.w, "forgot {subject}: its sealed personal data now reads as erased")?;
    } else {
        writeln!(out.w, "{subject} has no key (never had sealed personal data, or was forgotten already)")?;
    }
    if !report.plaintext.is_empty() {
        writeln!(
            out.w,
            "NOT ERASED: {} events hold {subject}'s personal data in plain text (stored before the fields were marked personal); seal them (es_core::shredding::seal_plaintext), then forget again:",
            report.plaintext.len()
        )?;
        for p in &report.plaintext {
            writeln!(
                out.w,
                "  {} v{} ({}): {}",
                escape(&p.stream),
                p.version,
                escape(&p.name),
                p.fields.join(", ")
            )?;
        }
        return Err(CliError::new(format!("{subject}: personal data in plain text was not erased")));
    }
    Ok(())
}

/// `migrate`: the store opened read-write, its schema brought up to date.
pub async fn migrate(url: &str, schema: &str, out: &mut Output<'_>) -> Result<(), CliError> {
    let migrated = AnyOptions::new().schema(schema).migrate(url).await?;
    migrated.store.close().await;
    let (from, to) = (migrated.from, migrated.to);
    if out.json {
        return out.json_value(&json!({ "from": from, "to": to }));
    }
    match (from, to) {
        (_, None) => writeln!(out.w, "{} has no schema to migrate", migrated.store.backend())?,
        (Some(from), Some(to)) if from == to => writeln!(out.w, "the schema is up to date (version {to})")?,
        (Some(from), Some(to)) => writeln!(out.w, "migrated the schema from version {from} to {to}")?,
        (None, Some(to)) => writeln!(out.w, "created the schema {} at version {to}", escape(schema))?,
    }
    Ok(())
}
