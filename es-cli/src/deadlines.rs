//! `deadlines`: the scheduled commands that are pending (scheduled, neither cancelled nor fired
//! yet), soonest first.

use std::time::SystemTime;

use es_core::consume::pending_deadlines;
use es_core::EventStore;
use serde_json::{json, Value};

use crate::error::CliError;
use crate::escape::escape;
use crate::Output;

/// Lists the pending deadlines: id, due time (and how far off), target, command.
pub async fn deadlines<S: EventStore>(store: &S, out: &mut Output<'_>) -> Result<(), CliError> {
    let pending = pending_deadlines(store).await?;
    let now = SystemTime::now();
    if out.json {
        let list = pending.iter().map(|p| {
            json!({
                "id": p.id.to_string(),
                "due": humantime::format_rfc3339_millis(p.due()).to_string(),
                "target": p.target,
                "command": p.command,
                "key": p.key,
                "payload": p.payload,
                "scheduled_by": p.scheduled_by,
            })
        });
        return out.json_value(&Value::Array(list.collect()));
    }
    writeln!(out.w, "{:<36}  {:<24} {:>10}  {:<24} command", "id", "due", "in", "target")?;
    for p in &pending {
        let due = p.due();
        let until = match due.duration_since(now) {
            Ok(ahead) => {
                humantime::format_duration(std::time::Duration::from_secs(ahead.as_secs())).to_string()
            }
            Err(_) => "due".to_owned(),
        };
        let key = if p.key.is_empty() { String::new() } else { format!(" [{}]", escape(&p.key)) };
        writeln!(
            out.w,
            "{:<36}  {:<24} {:>10}  {:<24} {}{key}",
            p.id,
            humantime::format_rfc3339_seconds(due).to_string(),
            until,
            escape(&p.target),
            escape(&p.command),
        )?;
    }
    writeln!(out.w, "{} pending", pending.len())?;
    Ok(())
}
