//! `projections`, `verify`, `parked`, `forget`: what runs on the store, and its health.

use es_core::integrity::verify_all;
use es_core::worker::status;
use serde_json::{json, Value};

use crate::admin::Store;
use crate::error::CliError;
use crate::progress::Progress;
use crate::Output;

fn time(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

pub async fn projections<S: Store>(store: &S, out: &mut Output<'_>) -> Result<(), CliError> {
    let mut rows = Vec::new();
    for name in store.checkpoints().await? {
        rows.push(status(store, &name).await?);
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
        return out.json_value(&Value::Array(list.collect()));
    }
    writeln!(
        out.w,
        "{:<28} {:>12} {:>8}  {:<24} {:<20}",
        "name", "position", "lag", "owner (epoch)", "renewed"
    )?;
    for s in &rows {
        let (owner, renewed) = match &s.lease {
            Some(l) => (format!("{} ({})", l.owner, l.epoch), time(l.renewed_at)),
            None => ("-".to_owned(), "-".to_owned()),
        };
        let position = s.cursor.map_or("-".to_owned(), |c| c.to_string());
        writeln!(out.w, "{:<28} {:>12} {:>8}  {:<24} {:<20}", s.name, position, s.lag, owner, renewed)?;
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
            writeln!(out.w, "  {b}")?;
        }
    }
    Ok(report.breaks.is_empty())
}

pub async fn parked<S: Store>(store: &S, name: Option<&str>, out: &mut Output<'_>) -> Result<(), CliError> {
    let names = match name {
        Some(n) => vec![n.to_owned()],
        None => store.parking().await?,
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
            p.reactor,
            p.event.position,
            p.event.stream,
            p.event.stream_version,
            p.event.name,
            p.attempts,
            p.error
        )?;
    }
    Ok(())
}

pub async fn forget<S: Store>(store: &S, subject: &str, out: &mut Output<'_>) -> Result<(), CliError> {
    let keys = store.keys().ok_or_else(|| CliError::new("this store keeps no keys"))?;
    let had = keys.forget(subject).await?;
    if out.json {
        return out.json_value(&json!({ "subject": subject, "had_key": had }));
    }
    if had {
        writeln!(out.w, "forgot {subject}: its personal data now reads as erased")?;
    } else {
        writeln!(out.w, "{subject} has no key (never had personal data, or was forgotten already)")?;
    }
    Ok(())
}
