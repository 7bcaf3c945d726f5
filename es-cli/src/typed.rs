//! What only a binary with the user's types can do: `catalogue` (every registered event) and
//! `rebuild` (a registered projection, from the first event, with progress).

use std::future::Future;
use std::io::Write;
use std::marker::PhantomData;
use std::pin::Pin;

use es_core::registry::EventRegistration;
use es_core::{CheckpointStore, EventStore, Projection, ProjectionRunner, StoreError};
use es_postgres::PostgresStore;
use es_sqlite::SqliteStore;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use crate::error::CliError;
use crate::progress::Progress;
use crate::Output;

pub fn catalogue(out: &mut Output<'_>) -> Result<(), CliError> {
    let events = es_core::registry::events();
    if out.json {
        let list = events.iter().map(|e| {
            json!({
                "name": e.name, "version": e.version, "rust_type": e.rust_type,
                "renamed_from": e.renamed_from, "upcast_from": e.upcast_from.map(|(n, v)| json!({ "name": n, "version": v })),
            })
        });
        return out.json_value(&serde_json::Value::Array(list.collect()));
    }
    if events.is_empty() {
        writeln!(
            out.w,
            "no event types are registered in this program (embed es-cli in the binary that defines them)"
        )?;
        return Ok(());
    }
    writeln!(out.w, "| event | version | Rust type | upcast from | formerly |")?;
    writeln!(out.w, "| --- | ---: | --- | --- | --- |")?;
    for e in &events {
        writeln!(
            out.w,
            "| {} | {} | `{}` | {} | {} |",
            e.name,
            e.version,
            e.rust_type,
            upcast(e),
            e.renamed_from.join(", ")
        )?;
    }
    Ok(())
}

fn upcast(e: &EventRegistration) -> String {
    e.upcast_from.map_or(String::new(), |(name, version)| format!("{name} v{version}"))
}

type Rebuilt<'a> = Pin<Box<dyn Future<Output = Result<u64, StoreError>> + Send + 'a>>;

/// Rebuilds one projection type on either store.
pub trait Rebuild: Send + Sync {
    fn sqlite<'a>(
        &'a self,
        store: SqliteStore,
        name: &'a str,
        progress: &'a mut Progress,
        out: &'a mut (dyn Write + Send),
    ) -> Rebuilt<'a>;
    fn postgres<'a>(
        &'a self,
        store: PostgresStore,
        name: &'a str,
        progress: &'a mut Progress,
        out: &'a mut (dyn Write + Send),
    ) -> Rebuilt<'a>;
}

/// The rebuild of projection type `P`.
pub struct Rebuilder<P>(pub PhantomData<fn() -> P>);

impl<P: Projection + Default + Serialize + DeserializeOwned> Rebuild for Rebuilder<P> {
    fn sqlite<'a>(
        &'a self,
        store: SqliteStore,
        name: &'a str,
        progress: &'a mut Progress,
        out: &'a mut (dyn Write + Send),
    ) -> Rebuilt<'a> {
        Box::pin(rebuild::<P, _>(store, name, progress, out))
    }

    fn postgres<'a>(
        &'a self,
        store: PostgresStore,
        name: &'a str,
        progress: &'a mut Progress,
        out: &'a mut (dyn Write + Send),
    ) -> Rebuilt<'a> {
        Box::pin(rebuild::<P, _>(store, name, progress, out))
    }
}

/// Forgets the checkpoint, then reads every event a batch at a time, reporting progress.
async fn rebuild<P, S>(
    store: S,
    name: &str,
    progress: &mut Progress,
    out: &mut (dyn Write + Send),
) -> Result<u64, StoreError>
where
    P: Projection + Default + Serialize + DeserializeOwned,
    S: EventStore + CheckpointStore,
{
    store.delete_checkpoint(name).await?;
    let mut runner = ProjectionRunner::<P, _>::start(name, store).await?.with_batch(2_000);
    let mut read = 0u64;
    loop {
        let n = runner.step().await?;
        if n == 0 {
            return Ok(read);
        }
        read += n as u64;
        progress.at(read, out);
    }
}
