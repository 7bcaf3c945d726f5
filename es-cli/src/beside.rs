//! `rebuild NAME --beside [--version N]`: builds a new version of a projection beside the live
//! one (its own checkpoint and lease, see [`es_core::consume::versions`]), with progress, and
//! switches readers over to it once it has caught up. The live version keeps answering reads
//! meanwhile; its workers retire when they see the switch. Killed, it resumes where it stopped
//! when run again; while another process builds the same version, it shows that one's progress
//! and waits for its switch.

use std::io::Write;
use std::time::Duration;

use es_core::consume::versions::{self, versioned_name, Phase, Switched};
use es_core::personal::Privacy;
use es_core::worker::{ProjectionWorker, Step};
use es_core::{CheckpointStore, EventStore, Leases, Projection, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::progress::Progress;

/// How long the build's lease lasts unless renewed (it is renewed at every batch).
const LEASE: Duration = Duration::from_secs(30);

/// How often to look again while another process builds the version.
const STANDBY_POLL: Duration = Duration::from_millis(500);

/// What a side-by-side rebuild came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beside {
    /// The version built.
    pub version: u64,
    /// The version that was active before (`None`: no record, version 1).
    pub from: Option<u64>,
    /// Whether this run switched (else another process did, or the version was active).
    pub switched: bool,
    /// The position the version had caught up to.
    pub position: u64,
}

/// The error of a side-by-side rebuild that cannot start.
fn refuse(message: String) -> StoreError {
    StoreError::backend("es", message)
}

/// Builds version `version` (default: the active one plus one) of the projection `name` with
/// the program's projection type `P`, reporting progress, and switches to it once caught up.
pub async fn rebuild_beside<P, S>(
    store: S,
    name: &str,
    version: Option<u64>,
    progress: &mut Progress,
    out: &mut (dyn Write + Send),
) -> Result<Beside, StoreError>
where
    P: Projection + Default + Serialize + DeserializeOwned,
    S: EventStore + Leases + Privacy,
{
    let before = versions::active(&store, name).await?.map(|a| a.version);
    let active = before.unwrap_or(1);
    let version = version.unwrap_or(active + 1);
    if version <= active {
        return Err(refuse(format!(
            "version {version} of `{name}` is not newer than the active version {active}: pass --version {}",
            active + 1
        )));
    }
    let owner = format!("es-rebuild/{}", es_core::lease::worker_id());
    let mut worker = ProjectionWorker::<P, S>::new(name, store.clone())
        .version(version)
        .owner(owner)
        .ttl(LEASE)
        .batch(2_000);
    let checkpoint = versioned_name(name, version);
    let result = loop {
        match worker.step().await {
            Ok(Step::Worked { .. }) => progress.at(worker.cursor().position(), out),
            Ok(Step::Standby { .. } | Step::Fenced { .. }) => {
                // Another process builds this version: show its progress, wait for its switch.
                let saved = store.load_checkpoint(&checkpoint).await?;
                progress.at(saved.map_or(0, |c| c.cursor.position()), out);
                if versions::active_version(&store, name).await? >= version {
                    let position = saved_position(&store, &checkpoint).await?;
                    break Ok(Beside { version, from: before, switched: false, position });
                }
                tokio::time::sleep(STANDBY_POLL).await;
                continue;
            }
            Err(e) => break Err(e),
        }
        match (worker.phase(), worker.switched()) {
            (Phase::Active, switched) => {
                let from = match switched {
                    Some(Switched::Now { from }) => from,
                    _ => before,
                };
                let switched = matches!(switched, Some(Switched::Now { .. }));
                break Ok(Beside { version, from, switched, position: worker.cursor().position() });
            }
            (Phase::Retired { active }, _) => {
                break Err(refuse(format!(
                    "version {active} of `{name}` was switched to during the rebuild of version {version}: rebuild a version above {active}"
                )))
            }
            (Phase::Beside, _) => {}
        }
    };
    worker.release().await?;
    result
}

/// The position of the checkpoint `name`, 0 when none.
async fn saved_position<S: CheckpointStore>(store: &S, name: &str) -> Result<u64, StoreError> {
    Ok(store.load_checkpoint(name).await?.map_or(0, |c| c.cursor.position()))
}

/// The line `es` prints at the end.
pub fn summary(name: &str, beside: &Beside) -> String {
    let from = beside.from.map_or("none recorded".to_owned(), |v| format!("version {v}"));
    if beside.switched {
        format!(
            "rebuilt {name} version {} beside {from} up to position {}, and switched readers to it",
            beside.version, beside.position
        )
    } else {
        format!("{name} version {} is active (switched by another process)", beside.version)
    }
}

#[cfg(test)]
mod tests {
    use es_core::consume::versions;
    use es_core::{EventContext, EventStore, ExpectedVersion, MemoryStore, NewEvent, Project, Projection};
    use serde::{Deserialize, Serialize};

    use super::{rebuild_beside, summary};
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

    #[tokio::test]
    async fn a_rebuild_beside_switches_once_with_progress() {
        let store = MemoryStore::new();
        let pings = (0..5_000).map(|_| NewEvent::new("Pinged", 1, serde_json::json!(null))).collect();
        store.append("Pinger-1", ExpectedVersion::Any, pings).await.expect("append");
        let mut out = Vec::new();
        let mut progress = Progress::new("rebuild beside", 5_000, false);
        let beside = rebuild_beside::<Pings, _>(store.clone(), "pings", None, &mut progress, &mut out)
            .await
            .expect("rebuild");
        assert_eq!((beside.version, beside.from, beside.switched, beside.position), (2, None, true, 5_000));
        let lines = String::from_utf8(out).expect("utf-8");
        assert!(lines.contains("rebuild beside: 4000 of about 5000 events (80%)"), "{lines}");
        assert_eq!(
            summary("pings", &beside),
            "rebuilt pings version 2 beside none recorded up to position 5000, and switched readers to it"
        );
        let active = versions::load_active(&store, "pings").await.expect("active");
        assert_eq!((active.version, active.decode::<Pings>().ok()), (2, Some(Pings { count: 5_000 })));

        // Not newer than the active version: refused, nothing switched.
        let mut progress = Progress::new("rebuild beside", 5_000, false);
        let again =
            rebuild_beside::<Pings, _>(store.clone(), "pings", Some(2), &mut progress, &mut Vec::new()).await;
        assert!(again.is_err_and(|e| e.to_string().contains("not newer than the active version 2")));
        let record = versions::active(&store, "pings").await.expect("record").expect("a record");
        assert_eq!(record.switches_to(2), 1);
    }
}
