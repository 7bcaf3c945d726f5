//! `rebuild NAME --beside [--version N] [--switch]`: builds a new version of a projection beside
//! the live one (its own checkpoint and lease, see [`es_core::consume::versions`]), with
//! progress, until it has caught up. Readers keep reading the live version.
//!
//! By default it does not switch readers over: once it exits, nothing would keep the new
//! version current. The workers of the new version (`ProjectionWorker::version(n)`) do that:
//! started, they resume from the checkpoint this built, catch up and switch readers, and the
//! live version's workers retire. `--switch` switches from here once caught up (and not behind
//! the live version), for when workers of version n run already. Killed, it resumes where it
//! stopped when run again; while another process holds the version's lease (its workers, or
//! another rebuild), it shows that one's progress and waits until it gives the lease up or
//! switches.

use std::io::Write;
use std::time::Duration;

use es_core::consume::versions::{self, versioned_name, Switched};
use es_core::consume::{Projected, Stepped};
use es_core::personal::Privacy;
use es_core::{EventStore, Feed, Leases, Projection, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::progress::Progress;
use crate::typed::feed_error;

/// How long the build's lease lasts unless renewed (it is renewed at every batch).
const LEASE: Duration = Duration::from_secs(30);

/// Events per batch (and per checkpoint).
const BATCH: usize = 2_000;

/// How often to look again while another process builds the version, or switches.
const STANDBY_POLL: Duration = Duration::from_millis(500);

/// What `rebuild NAME --beside` is asked to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Plan {
    /// The version to build (default: the active one plus one).
    pub version: Option<u64>,
    /// Switch readers to it once caught up (only while workers of that version run: nothing
    /// else keeps it current after this exits).
    pub switch: bool,
}

/// How a side-by-side rebuild ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Caught up, not switched: readers still read the version active before.
    Built,
    /// This run switched readers to the version.
    Switched,
    /// The version was made active by another process (its workers).
    ActiveElsewhere,
}

/// What a side-by-side rebuild came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beside {
    /// The version built.
    pub version: u64,
    /// The version readers read before (no record: version 1).
    pub from: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// The position the version had caught up to.
    pub position: u64,
}

/// The error of a side-by-side rebuild that cannot go on.
fn refuse(message: String) -> StoreError {
    StoreError::backend("es", message)
}

/// Refused: a version newer than the one built is active.
fn newer(name: &str, active: u64, version: u64) -> StoreError {
    refuse(format!(
        "version {active} of `{name}` was switched to during the rebuild of version {version}: rebuild a version above {active}"
    ))
}

/// Builds version `plan.version` (default: the active one plus one) of the projection `name`
/// with the program's projection type `P`, reporting progress, until caught up; switches to it
/// then when `plan.switch` says so.
pub async fn rebuild_beside<P, S>(
    store: S,
    name: &str,
    plan: Plan,
    progress: &mut Progress,
    out: &mut (dyn Write + Send),
) -> Result<Beside, StoreError>
where
    P: Projection + Default + Serialize + DeserializeOwned,
    S: EventStore + Leases + Privacy,
{
    let from = versions::active_version(&store, name).await?;
    let version = plan.version.unwrap_or(from + 1);
    if version <= from {
        return Err(refuse(format!(
            "version {version} of `{name}` is not newer than the active version {from}: pass --version {}",
            from + 1
        )));
    }
    let owner = format!("es-rebuild/{}", es_core::lease::worker_id());
    let mut feed = Feed::new(versioned_name(name, version), Projected::<P>::default(), store.clone())
        .leased(LEASE)
        .batch(BATCH)
        .owner(owner);
    let result = build(&mut feed, name, version, plan.switch, progress, out).await;
    feed.release().await?;
    let (outcome, position) = result?;
    Ok(Beside { version, from, outcome, position })
}

/// Steps `feed` (version `version` of `name`) until caught up, then switches when `switch`
/// says so; returns how it ended and the position reached.
async fn build<P, S>(
    feed: &mut Feed<Projected<P>, S>,
    name: &str,
    version: u64,
    switch: bool,
    progress: &mut Progress,
    out: &mut (dyn Write + Send),
) -> Result<(Outcome, u64), StoreError>
where
    P: Projection + Default + Serialize + DeserializeOwned,
    S: EventStore + Leases + Privacy,
{
    let store = feed.store().clone();
    loop {
        let caught_up = match feed.step().await.map_err(feed_error)? {
            Stepped::Worked { more, .. } => {
                progress.at(feed.cursor().position(), out);
                !more
            }
            Stepped::Standby { .. } | Stepped::Fenced { .. } => {
                // Another process builds this version: show its progress, wait for it to give
                // the lease up (then this one goes on from its checkpoint) or to switch.
                let saved = store.load_checkpoint(feed.name()).await?.map_or(0, |c| c.cursor.position());
                progress.at(saved, out);
                match versions::active_version(&store, name).await? {
                    active if active > version => return Err(newer(name, active, version)),
                    active if active == version => return Ok((Outcome::ActiveElsewhere, saved)),
                    _ => {}
                }
                tokio::time::sleep(STANDBY_POLL).await;
                continue;
            }
        };
        if !caught_up {
            continue;
        }
        let position = feed.cursor().position();
        match versions::active_version(&store, name).await? {
            active if active > version => return Err(newer(name, active, version)),
            active if active == version => return Ok((Outcome::ActiveElsewhere, position)),
            _ if !switch => return Ok((Outcome::Built, position)),
            _ => {}
        }
        match versions::switch(&store, name, version, feed.cursor()).await? {
            Switched::Now { .. } => return Ok((Outcome::Switched, position)),
            Switched::Already { active } if active == version => {
                return Ok((Outcome::ActiveElsewhere, position))
            }
            Switched::Already { active } => return Err(newer(name, active, version)),
            // The live version saved events this one has not read yet: read on.
            Switched::Behind { .. } => {}
            Switched::Busy => tokio::time::sleep(STANDBY_POLL).await,
        }
    }
}

/// What `es` prints at the end: what happened, and what happens next.
pub fn summary(name: &str, beside: &Beside) -> String {
    let (version, from, position) = (beside.version, beside.from, beside.position);
    match beside.outcome {
        Outcome::Built => format!(
            "built {name} version {version} beside version {from} up to position {position}; readers still read version {from}\n\
             next: start the workers of version {version} (ProjectionWorker::version({version})): they resume from position {position}, \
             catch up and switch readers to version {version}, and the workers of version {from} retire \
             (--switch switches from here instead, only while workers of version {version} run: nothing else keeps it current)"
        ),
        Outcome::Switched => format!(
            "rebuilt {name} version {version} beside version {from} up to position {position}, and switched readers to it; \
             the workers of version {version} keep it current, those of version {from} retire"
        ),
        Outcome::ActiveElsewhere => {
            format!("{name} version {version} is active: its workers in another process switched readers to it")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use es_core::consume::versions::{self, Switched};
    use es_core::worker::{ProjectionWorker, Step};
    use es_core::{
        Cursor, EventContext, EventStore, ExpectedVersion, Leases, MemoryStore, NewEvent, Project, Projection,
    };
    use serde::{Deserialize, Serialize};

    use super::{rebuild_beside, summary, Outcome, Plan};
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

    async fn pinged(store: &MemoryStore, n: usize) {
        let pings = (0..n).map(|_| NewEvent::new("Pinged", 1, serde_json::json!(null))).collect();
        store.append("Pinger-1", ExpectedVersion::Any, pings).await.expect("append");
    }

    async fn run(
        store: &MemoryStore,
        plan: Plan,
        out: &mut Vec<u8>,
    ) -> Result<super::Beside, es_core::StoreError> {
        let mut progress = Progress::new("rebuild beside", 5_000, false);
        rebuild_beside::<Pings, _>(store.clone(), "pings", plan, &mut progress, out).await
    }

    /// By default the rebuild builds and does not switch (it would leave readers on a model
    /// nothing advances); the version's worker resumes from its checkpoint and switches.
    #[tokio::test]
    async fn a_rebuild_beside_builds_without_switching_and_the_versions_workers_switch() {
        let store = MemoryStore::new();
        pinged(&store, 5_000).await;
        let mut out = Vec::new();
        let built = run(&store, Plan::default(), &mut out).await.expect("rebuild");
        assert_eq!((built.version, built.from, built.outcome, built.position), (2, 1, Outcome::Built, 5_000));
        let lines = String::from_utf8(out).expect("utf-8");
        assert!(lines.contains("rebuild beside: 4000 of about 5000 events (80%)"), "{lines}");
        let said = summary("pings", &built);
        assert!(
            said.starts_with(
                "built pings version 2 beside version 1 up to position 5000; readers still read version 1\n"
            ),
            "{said}"
        );
        assert!(said.contains("start the workers of version 2"), "{said}");
        assert_eq!(versions::active(&store, "pings").await.expect("record"), None, "not switched");

        pinged(&store, 10).await;
        let mut worker = ProjectionWorker::<Pings, _>::new("pings", store.clone()).version(2);
        assert!(
            matches!(worker.step().await.expect("step"), Step::Worked { read: 10, .. }),
            "resumed at 5000"
        );
        assert!(matches!(worker.switched(), Some(Switched::Now { from: None })));
        let active = versions::load_active(&store, "pings").await.expect("active");
        assert_eq!((active.version, active.decode::<Pings>().ok()), (2, Some(Pings { count: 5_010 })));
        worker.release().await.expect("release");

        // --switch: switched from here once caught up.
        let plan = Plan { version: None, switch: true };
        let switched = run(&store, plan, &mut Vec::new()).await.expect("rebuild with --switch");
        assert_eq!((switched.version, switched.from, switched.outcome), (3, 2, Outcome::Switched));
        assert!(summary("pings", &switched).contains("and switched readers to it"));
        let active = versions::load_active(&store, "pings").await.expect("active");
        assert_eq!((active.version, active.decode::<Pings>().ok()), (3, Some(Pings { count: 5_010 })));

        // Not newer than the active version: refused, nothing switched.
        let again = run(&store, Plan { version: Some(3), switch: true }, &mut Vec::new()).await;
        assert!(again.is_err_and(|e| e.to_string().contains("not newer than the active version 3")));
        let record = versions::active(&store, "pings").await.expect("record").expect("a record");
        assert_eq!((record.switches_to(2), record.switches_to(3)), (1, 1));
    }

    /// While another process holds the version's lease, the rebuild waits; a newer version
    /// switched to meanwhile is an error, not "switched by another process".
    #[tokio::test]
    async fn a_newer_version_switched_while_waiting_is_reported_as_such() {
        let store = MemoryStore::new();
        pinged(&store, 100).await;
        let held = store.acquire("pings@2", "a-worker", Duration::from_secs(60)).await.expect("acquire");
        assert!(held.is_some());
        let switcher = tokio::spawn({
            let store = store.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                versions::switch(&store, "pings", 3, Cursor::at(100)).await.expect("switch to 3")
            }
        });
        let waited = run(&store, Plan { version: Some(2), switch: false }, &mut Vec::new()).await;
        assert!(matches!(switcher.await.expect("switcher"), Switched::Now { .. }));
        let error = waited.expect_err("version 3 is newer").to_string();
        assert!(
            error.contains("version 3 of `pings` was switched to during the rebuild of version 2"),
            "{error}"
        );
    }
}
