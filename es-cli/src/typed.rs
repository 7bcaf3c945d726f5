//! What only a binary with the user's types can do: `catalogue` (every registered event) and
//! `rebuild` (a registered projection, from the first event, with progress; or `--beside`, as
//! a new version beside the live one, built until caught up and switched to by its workers or
//! with `--switch`: [`beside`]).

use std::future::Future;
use std::io::Write;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use es_core::consume::versions;
use es_core::consume::{Projected, Stepped};
use es_core::personal::Privacy;
use es_core::registry::EventRegistration;
use es_core::{EventStore, Feed, FeedError, Leases, Projection, StoreError};
use es_postgres::PostgresStore;
use es_sqlite::SqliteStore;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use crate::beside::{self, Beside, Plan};

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
    /// `rebuild NAME --beside [--version N] [--switch]` on SQLite ([`beside::rebuild_beside`]).
    fn beside_sqlite_with<'a>(
        &'a self,
        store: SqliteStore,
        name: &'a str,
        plan: Plan,
        progress: &'a mut Progress,
        out: &'a mut (dyn Write + Send),
    ) -> BuiltBeside<'a>;
    /// `rebuild NAME --beside [--version N] [--switch]` on PostgreSQL
    /// ([`beside::rebuild_beside`]).
    fn beside_postgres_with<'a>(
        &'a self,
        store: PostgresStore,
        name: &'a str,
        plan: Plan,
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
    fn beside_sqlite_with<'a>(
        &'a self,
        store: SqliteStore,
        name: &'a str,
        plan: Plan,
        progress: &'a mut Progress,
        out: &'a mut (dyn Write + Send),
    ) -> BuiltBeside<'a> {
        Box::pin(beside::rebuild_beside::<P, _>(store, name, plan, progress, out))
    }

    fn beside_postgres_with<'a>(
        &'a self,
        store: PostgresStore,
        name: &'a str,
        plan: Plan,
        progress: &'a mut Progress,
        out: &'a mut (dyn Write + Send),
    ) -> BuiltBeside<'a> {
        Box::pin(beside::rebuild_beside::<P, _>(store, name, plan, progress, out))
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
/// gives the lease back at the end. Refused once readers read a version above 1 (built beside):
/// the checkpoint `name` is then the retired version 1's.
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
    let active = versions::active_version(&store, name).await?;
    if active > 1 {
        return Err(StoreError::backend(
            "es",
            format!(
                "readers of `{name}` read version {active}, built beside version 1: rebuilding in place would rebuild the retired version 1; run `es rebuild {name} --beside` to build version {} beside version {active}",
                active + 1
            ),
        ));
    }
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
pub(crate) fn feed_error(e: FeedError) -> StoreError {
    match e {
        FeedError::Store(e) => e,
        other => StoreError::backend("es", other),
    }
}

#[cfg(test)]
mod tests {
    use es_core::consume::versions;
    use es_core::{
        Cursor, EventContext, EventStore, ExpectedVersion, MemoryStore, NewEvent, Project, Projection,
    };
    use serde::{Deserialize, Serialize};

    use super::rebuild;
    use crate::progress::Progress;

    #[derive(es_core::Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
    struct Pinged;

    #[derive(Projection, Default, Debug, PartialEq, Serialize, Deserialize)]
    #[projection(events(Pinged))]
    struct Pings {
        count: u64,
    }

    impl Project<Pinged> for Pings {
        fn project(&mut self, _: &Pinged, _: &EventContext<'_>) {
            self.count += 1;
        }
    }

    /// After a side-by-side switch, `name`'s checkpoint is the retired version 1's: an in-place
    /// rebuild would rebuild what nobody reads. Refused, pointing at `--beside`.
    #[tokio::test]
    async fn an_in_place_rebuild_is_refused_once_a_version_above_1_is_active() {
        let store = MemoryStore::new();
        let pings = (0..10).map(|_| NewEvent::new("Pinged", 1, serde_json::json!(null))).collect();
        store.append("Pinger-1", ExpectedVersion::Any, pings).await.expect("append");
        let mut progress = Progress::new("rebuild", 10, false);
        let read = rebuild::<Pings, _>(store.clone(), "pings", &mut progress, &mut Vec::new()).await;
        assert_eq!(read.ok(), Some(10), "version 1 active: rebuilt in place");

        versions::switch(&store, "pings", 2, Cursor::at(10)).await.expect("switch to version 2");
        let before = es_core::CheckpointStore::load_checkpoint(&store, "pings").await.expect("load");
        let refused = rebuild::<Pings, _>(store.clone(), "pings", &mut progress, &mut Vec::new()).await;
        let error = refused.expect_err("version 2 is active").to_string();
        assert!(error.contains("read version 2") && error.contains("es rebuild pings --beside"), "{error}");
        let after = es_core::CheckpointStore::load_checkpoint(&store, "pings").await.expect("load");
        assert_eq!(before.map(|c| c.cursor), after.map(|c| c.cursor), "nothing reset");
    }
}
