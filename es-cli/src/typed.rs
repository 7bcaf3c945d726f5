//! What only a binary with the user's types can do: `catalogue` (every registered event) and
//! `rebuild` (a registered projection, from the first event, with progress; or `--beside`, as
//! a new version beside the live one, switched to once caught up: [`beside`]).

use std::future::Future;
use std::io::Write;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use es_core::consume::{Projected, Stepped};
use es_core::personal::Privacy;
use es_core::registry::EventRegistration;
use es_core::{EventStore, Feed, FeedError, Leases, Projection, StoreError};
use es_postgres::PostgresStore;
use es_sqlite::SqliteStore;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use crate::beside::{self, Beside};

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

type BuiltBeside<'a> = Pin<Box<dyn Future<Output = Result<Beside, StoreError>> + Send + 'a>>;

/// Rebuilds one projection type on either store, in place or beside the live version.
pub trait Rebuild: Send + Sync {
    /// `rebuild NAME --beside [--version N]` on SQLite ([`beside::rebuild_beside`]).
    fn beside_sqlite<'a>(
        &'a self,
        store: SqliteStore,
        name: &'a str,
        version: Option<u64>,
        progress: &'a mut Progress,
        out: &'a mut (dyn Write + Send),
    ) -> BuiltBeside<'a>;
    /// `rebuild NAME --beside [--version N]` on PostgreSQL ([`beside::rebuild_beside`]).
    fn beside_postgres<'a>(
        &'a self,
        store: PostgresStore,
        name: &'a str,
        version: Option<u64>,
        progress: &'a mut Progress,
        out: &'a mut (dyn Write + Send),
    ) -> BuiltBeside<'a>;
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
    fn beside_sqlite<'a>(
        &'a self,
        store: SqliteStore,
        name: &'a str,
        version: Option<u64>,
        progress: &'a mut Progress,
        out: &'a mut (dyn Write + Send),
    ) -> BuiltBeside<'a> {
        Box::pin(beside::rebuild_beside::<P, _>(store, name, version, progress, out))
    }

    fn beside_postgres<'a>(
        &'a self,
        store: PostgresStore,
        name: &'a str,
        version: Option<u64>,
        progress: &'a mut Progress,
        out: &'a mut (dyn Write + Send),
    ) -> BuiltBeside<'a> {
        Box::pin(beside::rebuild_beside::<P, _>(store, name, version, progress, out))
    }

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

/// How long the rebuild's lease lasts unless renewed (it is renewed at every batch).
const REBUILD_LEASE: Duration = Duration::from_secs(30);

/// On the one consumer lifecycle ([`Feed`]), under the projection's lease (so no live worker
/// saves meanwhile, and one that was paused past its lease is fenced): resets the checkpoint,
/// then reads every event a batch at a time, each checkpoint saved fenced, reporting progress;
/// gives the lease back at the end.
async fn rebuild<P, S>(
    store: S,
    name: &str,
    progress: &mut Progress,
    out: &mut (dyn Write + Send),
) -> Result<u64, StoreError>
where
    P: Projection + Default + Serialize + DeserializeOwned,
    S: EventStore + Leases + Privacy,
{
    let owner = format!("es-rebuild/{}", es_core::lease::worker_id());
    let mut feed = Feed::new(name, Projected::<P>::default(), store.clone())
        .batch(2_000)
        .leased(REBUILD_LEASE)
        .owner(owner);
    if let Err(e) = feed.reset().await {
        let holder = store.lease(name).await?.map(|l| format!("{} (epoch {})", l.owner, l.epoch));
        return Err(match e {
            FeedError::Store(StoreError::Fenced { .. }) => StoreError::backend(
                "es",
                format!(
                    "projection `{name}` is held by {}: stop its workers, or wait for the lease to lapse, then rebuild",
                    holder.unwrap_or_else(|| "another worker".into())
                ),
            ),
            other => feed_error(other),
        });
    }
    let mut read = 0u64;
    let result = loop {
        match feed.step().await {
            Ok(Stepped::Worked { read: n, more, .. }) => {
                read += n as u64;
                progress.at(read, out);
                if !more {
                    break Ok(read);
                }
            }
            Ok(Stepped::Standby { .. } | Stepped::Fenced { .. }) => {
                break Err(StoreError::backend(
                    "es",
                    format!("another worker took `{name}` over during the rebuild"),
                ))
            }
            Err(e) => break Err(feed_error(e)),
        }
    };
    feed.release().await?;
    result
}

/// A feed's error as the store error `es` reports.
fn feed_error(e: FeedError) -> StoreError {
    match e {
        FeedError::Store(e) => e,
        other => StoreError::backend("es", other),
    }
}
